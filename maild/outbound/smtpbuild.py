"""The [smtp] settings turned into an SmtpSender: one definition for the daemon and the sending child.

maild.app builds the sender of every process that has the whole App; the
sending child of a big `run --once` (maild.daemon.sendproc) builds its own
without the App, which would import SQLAlchemy. Both come here, so a setting
added to [smtp] reaches both.
"""

from __future__ import annotations

from maild.configtransport import SmtpSettings
from maild.oauth2.settings import Mechanism
from maild.oauth2.tokens import TokenSource
from maild.outbound.smtp import SmtpSender

__all__ = ["smtp_sender"]


def smtp_sender(s: SmtpSettings, tokens: TokenSource | None) -> SmtpSender:
    """The sender for these settings; `tokens` is the OAuth2 client's TokenSource (None: password or none)."""
    return SmtpSender(
        s.host,
        s.port,
        s.security,
        username=s.username,
        password=s.password,
        timeout=s.timeout.total_seconds(),
        ca_file=s.ca_file,
        verify_tls=s.verify_tls,
        connections=s.connections,
        tokens=tokens,
        mechanism=s.oauth2.mechanism if s.oauth2 else Mechanism.XOAUTH2,
    )
