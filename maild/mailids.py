"""The identifiers mail carries: Message-IDs, case tags and our own addresses.

PURE. Parsing reads them from strangers' headers, routing matches them
against the database, composing writes them into the mail we send; each of
those used to have its own reading of "a Message-ID" or "a case tag", and
they disagreed at the edges. Here each is defined once:

* a Message-ID is stored as `<id>`, printable ASCII without `<`, `>` or an
  encoded word (an `=?` inside would be decoded into arbitrary text, line
  breaks included, when a header is written);
* a case tag routes only as `[Case #NNNNNNNN]` with exactly eight digits
  (lenient about letter case and one space), but anything that merely looks
  like a tag is erased from subjects we echo, so a forged one never reaches
  a recipient's mail client as part of a case;
* our own addresses are the configured ones and their plus-variants
  (`support+token@domain` is how replies reach us);
* an address an operator types (the config, the command line) is a bare
  `local@domain`, checked by one pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "CASE_TAG",
    "MAX_IDS",
    "MAX_ID_LENGTH",
    "case_tag",
    "find_case_tag",
    "first_id",
    "id_list",
    "ids_in",
    "is_email_address",
    "is_own_address",
    "strip_case_tags",
    "writable_id",
]

MAX_IDS = 100  # References kept from one message: the root and the newest
MAX_ID_LENGTH = 250  # longer ids are not ids anyone generates, and break line folding
MAX_ID_SCAN = 32 * 1024  # characters of one header value searched for ids

CASE_TAG = "[Case #{number}]"

_ANGLE_ID = re.compile(r"<([^<>]{1,998})>")
_COMMENT = re.compile(r"\([^()]*\)")
_WHITESPACE = re.compile(r"\s+")
_ID_CHARS = re.compile(r"^[\x21-\x3b\x3d\x3f-\x7e]+$")  # printable ASCII, no '<' or '>'
_SEPARATORS = re.compile(r"[\s,]+")
_CASE_TAG_ROUTES = re.compile(r"\[\s?case\s?#\s?([0-9]{8})\s?\]", re.IGNORECASE)
_CASE_TAG_LOOKALIKE = re.compile(r"\[\s*+case\s*+#\s*+\d++\s*+\]", re.IGNORECASE)
# An address an operator types (config, command line): local@domain, no display name or comment.
_EMAIL_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


# ---------------------------------------------------------------- Message-IDs


def ids_in(value: str) -> list[str]:
    """Every well-formed id in a Message-ID, In-Reply-To or References value, in order.

    Angle-bracketed ids first (whitespace inside them is folding, so it is
    removed); a value with none is read as bare `local@domain` tokens, which
    some mailers write.
    """
    found: list[str] = []
    for match in _ANGLE_ID.finditer(value):
        inner = _WHITESPACE.sub("", match.group(1))
        if inner and _ID_CHARS.match(inner) and "=?" not in inner:
            found.append(f"<{inner}>")
    if found:
        return found
    bare = _COMMENT.sub(" ", value)
    for token in _SEPARATORS.split(bare):
        token = token.strip("<>")
        if "@" in token and _ID_CHARS.match(token) and "=?" not in token:
            found.append(f"<{token}>")
    return found


def first_id(value: str | None) -> str | None:
    """The first well-formed `<id>` in a Message-ID-like value, or None."""
    if not value:
        return None
    ids = ids_in(value)
    return ids[0] if ids else None


def id_list(values: Iterable[str]) -> tuple[str, ...]:
    """Message ids in order, without repeats; the root and the newest kept when capped."""
    seen: dict[str, None] = {}
    for value in values:
        for msgid in ids_in(value[:MAX_ID_SCAN]):
            seen.setdefault(msgid, None)
    ids = list(seen)
    if len(ids) > MAX_IDS:
        ids = ids[:1] + ids[-(MAX_IDS - 1) :]
    return tuple(ids)


def writable_id(value: str | None) -> str | None:
    """`<id>` fit to be written into a header we send, or None.

    Stricter than reading: one id only, already well-formed (a bare
    `local@domain` is bracketed), no longer than MAX_ID_LENGTH.
    """
    if not value:
        return None
    text = value.strip()
    if not text.startswith("<") and "@" in text:
        text = f"<{text}>"
    if len(text) > MAX_ID_LENGTH or len(text) < 3 or text[0] != "<" or text[-1] != ">":
        return None
    inner = text[1:-1]
    if not _ID_CHARS.match(inner) or "=?" in inner:
        return None
    return text


# ---------------------------------------------------------------- case tags


def case_tag(number: str) -> str:
    """The tag every notification subject of a case carries: `[Case #00001042]`."""
    return CASE_TAG.format(number=number)


def find_case_tag(subject: str) -> str | None:
    """The 8-digit case number from a "[Case #00001042]" tag, or None.

    Strict about the number (exactly eight ASCII digits, closed by "]") since
    a tag routes mail into a case; lenient only about case and one optional
    space ("[case #00001042]", "[Case#00001042]"). With several tags the
    first wins: mail clients prepend, so the leftmost is the latest thread.
    """
    match = _CASE_TAG_ROUTES.search(subject)
    return match.group(1) if match else None


def strip_routing_tags(subject: str) -> str:
    """The subject with every tag that would route replaced by a space."""
    return _CASE_TAG_ROUTES.sub(" ", subject)


def strip_case_tags(subject: str) -> str:
    """The subject with anything that looks like a case tag replaced by a space.

    Wider than what routes ("[case # 12]" too): a stranger's subject echoed
    in our answer must not look like part of a case to any mail client.
    """
    return _CASE_TAG_LOOKALIKE.sub(" ", subject)


# ---------------------------------------------------------------- our addresses


def is_email_address(value: str) -> bool:
    """A bare `local@domain` as an operator writes one in the config or on the command line.

    Deliberately stricter than RFC 5322 (no display name, comment or quoted
    local part): these addresses are stored as keys and compared as strings.
    """
    return _EMAIL_ADDRESS.match(value) is not None


def is_own_address(address: str, own: Iterable[str]) -> bool:
    """True for our addresses and their plus-variants (support+anything@domain).

    Either side may carry a plus-detail: `support+x@d` is ours when
    `support@d` is, and when `support+x@d` itself is configured.
    """
    addr = address.strip().lower()
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        return False
    base = local.split("+", 1)[0]
    for mine in own:
        m_local, m_at, m_domain = mine.strip().lower().rpartition("@")
        if not m_at or m_domain != domain:
            continue
        if local == m_local or base == m_local or local.startswith(m_local + "+"):
            return True
    return False
