"""The case database's write and read side, one module per job.

service (the one entry point: CaseService), facts (what routing reads),
recording (the inbound record), notices (rate-limited answers to senders),
opening (a new case), comments (replies and their status moves), actions
(close, severity, escalation, the deadline scan), held (held mail), admin
(the command line's data rules), views (JSON and text for users).
"""
