"""Pure pieces of the IMAP source: message keys, unsolicited responses, fetch sizes.

Kept apart from maild.inbound.imap (the connection and its state) because
none of them needs a server: each can be read and tested on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any


def parse_key(key: str) -> tuple[int, int]:
    """Split an IMAP key into (uidvalidity, uid); a malformed key is a caller bug."""
    left, sep, right = key.partition(":")
    if not sep or not left.isdigit() or not right.isdigit():
        raise ValueError(f"not an IMAP message key (expected 'UIDVALIDITY:UID'): {key!r}")
    return int(left), int(right)


def announces_mail(responses: Sequence[Any]) -> bool:
    """Whether unsolicited responses say the folder grew (EXISTS, or RECENT > 0)."""
    for item in responses:
        if not (isinstance(item, tuple) and len(item) >= 2 and isinstance(item[0], int)):
            continue
        if item[1] == b"EXISTS" or (item[1] == b"RECENT" and item[0] > 0):
            return True
    return False


def says_bye(responses: Sequence[Any]) -> bool:
    return any(isinstance(item, tuple) and item and item[0] == b"BYE" for item in responses)


# Messages are fetched in groups of at most BATCH_BYTES; one larger than
# LARGE_MESSAGE is read alone, in FETCH_CHUNK partial fetches written into one
# buffer of the message's size. Memory stays bounded however large or many the
# messages of one batch are: one copy of the message plus one chunk in flight.
BATCH_BYTES = 16 * 1024 * 1024
LARGE_MESSAGE = 8 * 1024 * 1024
FETCH_CHUNK = 4 * 1024 * 1024


def quiet_imaplib(client: Any) -> None:
    """Stop imaplib from formatting every response for a debug log nobody reads.

    imapclient sets imaplib's `debug` to 5 and routes its messages to the
    `imapclient.imaplib` logger. At that level imaplib builds the repr of every
    response, literals included, before the logger can discard it: each
    message fetched was copied three or four more times as text (a 72 MB
    message cost ~300 MB of short-lived strings, and the heap never shrank
    back). Logging setup keeps `imapclient` at WARNING, so nothing is lost;
    when someone does turn that logger to DEBUG, the level stays as it was.
    """
    if logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        return
    imap = getattr(client, "_imap", None)
    if imap is not None and hasattr(imap, "debug"):
        imap.debug = 0


def size_groups(uids: Sequence[int], sizes: Mapping[int, int]) -> list[list[int]]:
    """UIDs in order, cut into groups whose sizes add up to at most BATCH_BYTES (large ones alone)."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if current and (total + size > BATCH_BYTES or size > LARGE_MESSAGE):
            groups.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
        if size > LARGE_MESSAGE:
            groups.append(current)
            current, total = [], 0
    if current:
        groups.append(current)
    return groups
