"""What delivery and read reports say about the mail they answer (RFC 3462, 3464, 8098).

Owns the fields of a multipart/report that tie it to a message we sent:
its report-type, the Message-IDs of the original (from a read receipt's
Original-Message-ID, the returned headers or the returned message) and the
recipients whose delivery failed. The rules and bounce handling read them
from `InboundMail`; here they are only collected. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from maild.inbound.headers import ADDR_SPEC, raw_to_text, single_line
from maild.mailids import first_id

# Parts of a report that describe the original rather than being text of their own.
NON_BODY_REPORT_TYPES = frozenset(
    {
        "message/delivery-status",
        "message/disposition-notification",
        "message/feedback-report",
        "text/rfc822-headers",
    }
)
_STATUS_SCAN_LIMIT = 256 * 1024
_RETURNED_HEADERS_LIMIT = 64 * 1024

BodyText = Callable[[Message], str]
"""How the parser turns a part's body into text (charsets, kept base64 bodies)."""


@dataclass
class ReportFields:
    """The report fields gathered over one message's MIME tree, in the order met."""

    report_type: str | None = None
    original_ids: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def note_report(self, part: Message) -> None:
        """The first multipart/report met decides the message's report type."""
        if self.report_type is None:
            self.report_type = _report_type(part)

    def note_returned_message(self, inner: Message) -> None:
        """A message returned inside a report: its Message-ID is the original's."""
        msgid = first_id(raw_to_text(str(inner.get("message-id", "")), None))
        if msgid:
            self.original_ids.append(msgid)

    def read_part(self, part: Message, ctype: str, body_text: BodyText) -> None:
        """One of the `NON_BODY_REPORT_TYPES` parts of a report."""
        if ctype == "text/rfc822-headers":
            text = body_text(part)
            headers = HeaderParser(policy=compat32).parsestr(text[:_RETURNED_HEADERS_LIMIT], headersonly=True)
            msgid = first_id(headers.get("message-id"))
            if msgid:
                self.original_ids.append(msgid)
            return
        for block in _status_blocks(part, body_text):
            if ctype == "message/disposition-notification":
                msgid = first_id(block.get("original-message-id"))
                if msgid:
                    self.original_ids.append(msgid)
            elif ctype == "message/delivery-status" and _failed(block):
                recipient = _status_recipient(block)
                if recipient:
                    self.failed.append(recipient)


def _report_type(part: Message) -> str:
    try:
        value = part.get_param("report-type")
    except Exception:
        value = None
    if isinstance(value, tuple):
        value = value[2]
    return single_line(str(value)).lower() if value else "unknown"


def _failed(block: dict[str, str]) -> bool:
    return block.get("action", "").strip().lower().startswith("failed")


def _status_blocks(part: Message, body_text: BodyText) -> Iterator[dict[str, str]]:
    """The header-like blocks of a status part, whether or not the parser split them."""
    payload = part.get_payload()
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                yield {key.lower(): single_line(str(value)) for key, value in block.items()}
        return
    text = body_text(part)[:_STATUS_SCAN_LIMIT]
    for chunk in re.split(r"\n[ \t]*\n", text):
        headers = HeaderParser(policy=compat32).parsestr(chunk.strip("\n") + "\n", headersonly=True)
        yield {key.lower(): single_line(str(value)) for key, value in headers.items()}


def _status_recipient(block: dict[str, str]) -> str | None:
    value = block.get("final-recipient") or block.get("original-recipient") or ""
    address = value.split(";", 1)[-1].strip().strip("<>").strip().lower()
    return address if ADDR_SPEC.match(address) else None
