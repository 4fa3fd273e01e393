"""A waiting message as a mail source lists it: its key and the ids that tie it to others.

The sources (IMAP, Maildir) read only each message's header block when they
list what waits, so the work queue can keep a reply behind the message it
answers (maild.policy.threads groups them). Reading those ids is the
sources' job; grouping them is a decision and lives in policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from maild.mailids import first_id, id_list

__all__ = ["THREAD_HEADERS", "Listed", "listed_from_headers"]

THREAD_HEADERS = ("Message-ID", "In-Reply-To", "References")


@dataclass(frozen=True, slots=True)
class Listed:
    """A waiting message as listing sees it: its key and the ids that tie it to others."""

    key: str
    message_id: str | None
    refs: tuple[str, ...] = ()


def listed_from_headers(key: str, header_block: bytes) -> Listed:
    """The thread ids in a raw header block (total: bad input gives a message with no ids)."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(header_block)
        own = first_id(str(headers.get("Message-ID") or ""))
        values = [*headers.get_all("In-Reply-To", []), *headers.get_all("References", [])]
        refs = id_list([str(v) for v in values])
    except Exception:  # a header block no parser accepts still gets listed, in a group of its own
        return Listed(key, None)
    return Listed(key, own, tuple(r for r in refs if r != own))
