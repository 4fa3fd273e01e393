"""Which of our notifications a bounce bounced, and to whom (SPEC §6).

Owns reading a delivery failure back to what we sent: the Message-IDs of
the original and the recipients that failed. Standard reports carry both in
fields the parser collects (`maild.inbound.reports`); the many bounces that
are not standard only quote them in their text, so that text is searched
too, with patterns that stay linear on hostile input. `maild.policy.rules`
decides that a message is a bounce; this module only says what it names.
Pure: a function of the parsed message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from maild.inbound.message import InboundMail
from maild.mailids import writable_id

__all__ = ["bounce_targets"]

_BODY_MESSAGE_ID = re.compile(
    r"^[ \t>]*Message-I[Dd][ \t]*:[ \t]*(<[^<>\s]{1,250}>)", re.IGNORECASE | re.MULTILINE
)
# Linear: the blanks are possessive (what follows them is never a blank),
# and the address is one possessive run "x…@…" whose first "@" after its
# first character must have a character after it; the old
# "[^…]+@[^…]+?" backtracked over every "@" of a line (4,000 × "a@": 1.2 s).
# The same lines match, with the same group: the whole run.
_DSN_RECIPIENT = re.compile(
    r"^[ \t]*+(?:Final|Original)-Recipient[ \t]*+:[ \t]*+(?:rfc822[ \t]*+;)?[ \t]*+"
    r"<?([^\s<>;][^\s<>;@]*+@[^\s<>;]++)>?[ \t]*+$",
    re.IGNORECASE | re.MULTILINE,
)
# qmail ("<user@host>:") and Postfix ("<user@host>: host … said") transcript lines.
_TRANSCRIPT_RECIPIENT = re.compile(r"^[ \t]*<([^\s<>@]+@[^\s<>]+)>[ \t]*:", re.MULTILINE)
# "…following recipient failed permanently:" then, after blanks holding at
# least one line break, the address. The old "\s*\n\s*\n?\s*" could split
# a run of blanks in cubic many ways (" \n" × 3,000 then "<": over 60 s);
# here a lookahead checks for the line break and one possessive "\s*+"
# takes the run. The words before the colon are capped at 200 characters:
# a line repeating "following recipients failed" without a colon would
# otherwise be rescanned from each repetition.
_GMAIL_RECIPIENT = re.compile(
    r"following (?:recipient|address)(?:es|s)?\s++failed[^:\n]{0,200}+:(?=[^\S\n]*+\n)\s*+"
    r"([^\s<>]+@[^\s<>]+)",
    re.IGNORECASE,
)
_BODY_SCAN_LIMIT = 200_000


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _address(value: str) -> str | None:
    text = value.strip().strip("<>").strip().rstrip(".").lower()
    if text.startswith("rfc822;"):
        text = text[len("rfc822;") :].strip()
    local, _, domain = text.rpartition("@")
    if not local or not domain or any(c.isspace() for c in text):
        return None
    return text


def bounce_targets(mail: InboundMail) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(original Message-IDs, failed recipients) of a bounce, to tie it to what we sent.

    Standard DSNs name both in their report parts (parsed into
    report_original_message_ids / report_failed_recipients). Non-standard
    bounces only quote the original, so the threading headers and
    "Message-ID:" lines quoted in the body are used too, as are the
    X-Failed-Recipients header and the recipient lines of qmail, Postfix and
    Gmail transcripts. Parser-provided values come first, as the most reliable.
    """
    text = mail.text[:_BODY_SCAN_LIMIT]
    ids = _unique(
        mid
        for v in (
            *mail.report_original_message_ids,
            *mail.in_reply_to,
            *reversed(mail.references),
            *_BODY_MESSAGE_ID.findall(text),
        )
        if (mid := writable_id(v)) and "@" in mid
    )
    header_recipients = [
        part for value in mail.header_all("X-Failed-Recipients") for part in value.split(",")
    ]
    recipients = _unique(
        _address(v)
        for v in (
            *mail.report_failed_recipients,
            *header_recipients,
            *_DSN_RECIPIENT.findall(text),
            *_TRANSCRIPT_RECIPIENT.findall(text),
            *_GMAIL_RECIPIENT.findall(text),
        )
    )
    return ids, recipients
