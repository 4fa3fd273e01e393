"""The seam between maild and wherever inbound mail comes from.

Everything above it sees a `MailSource`: opaque, stable message keys, raw
bytes, and two ways to finish with a message (done, or quarantined). The
transports behind it are maild.inbound.imap (imapclient) and
maild.inbound.maildir (a local directory); this module imports neither, nor
any database code, so the ingest loop and its tests depend on no transport.

Errors are mapped onto the project's hierarchy so the caller can decide
without knowing the transport: `TransientError` means "reconnect and retry
later" (refused, timed out, TLS failure, connection dropped, server busy),
plain `MaildError` means an operator has to fix something (wrong password,
missing folder, a server that cannot store our keyword). Sources are not
thread-safe; each worker owns its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from maild.inbound.listing import Listed

__all__ = ["FetchedMessage", "MailSource"]


@dataclass(frozen=True)
class FetchedMessage:
    """One message's raw bytes, exactly as stored, with the key to finish it by."""

    key: str
    raw: bytes


class MailSource(Protocol):
    """What the ingest loop needs from a mailbox, whatever the transport."""

    name: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def pending(self) -> list[str]: ...

    def fetch(self, keys: Sequence[str]) -> list[FetchedMessage]: ...

    def listing(self, keys: Sequence[str]) -> list[Listed]: ...

    def mark_done(self, keys: Sequence[str]) -> None: ...

    def quarantine(self, keys: Sequence[str]) -> None: ...

    def wait_for_mail(self, timeout: float) -> bool: ...
