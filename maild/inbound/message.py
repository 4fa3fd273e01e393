"""Typed values for one inbound message after parsing.

Owns nothing but data: maild.inbound.parse produces these from raw bytes;
maild.policy (rules, bounces, auth, route) and maild.cases consume them.
Keeping them free of any I/O or library types is what lets every
decision about a message be a pure function that tests can feed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: a lower-cased addr-spec and a decoded, single-line display name."""

    email: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A stored (or refused) attachment.

    `data` is None when the part was over the size limit or otherwise not
    kept; `dropped_reason` then says why, so the case can say so too.
    """

    filename: str
    content_type: str
    size: int
    data: bytes | None
    dropped_reason: str | None = None
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMail:
    """Everything maild decides on, decoded to Unicode.

    `message_id` is always set: a message without one gets a stable
    synthetic id derived from its bytes (`message_id_synthesized`), so
    deduplication by Message-ID works for every message.
    """

    message_id: str
    from_addr: Address | None
    subject: str
    text: str
    raw_size: int
    raw_sha256: str
    message_id_synthesized: bool = False
    sender: Address | None = None
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    delivered_to: tuple[str, ...] = ()
    date: datetime | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    html: str | None = None
    text_from_html: bool = False
    content_type: str = "text/plain"
    # The charset the first body part declared (lower case), kept as a hint to its language
    # (Big5 is traditional Chinese, GB2312 simplified); None when unlabelled or ASCII.
    body_charset: str | None = None
    attachments: tuple[Attachment, ...] = ()
    report_type: str | None = None
    report_original_message_ids: tuple[str, ...] = ()
    report_failed_recipients: tuple[str, ...] = ()
    defects: tuple[str, ...] = field(default_factory=tuple)

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively, or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def recipients(self) -> tuple[Address, ...]:
        return self.to + self.cc
