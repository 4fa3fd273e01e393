"""The running daemon.

Its loops, mailbox leases, the shared work queue, the send process, metrics,
systemd.
"""
