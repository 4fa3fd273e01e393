"""The running daemon.

worker runs the loops: intake_loop (one per mailbox, around ingest and its
hooks), send_loop (the outbox, or the sendproc child of a big `run --once`)
and deadline_loop. Around them: mailbox leases, the shared work queue and
its wake-up signal, metrics, health and systemd.
"""
