"""RFC 5322 bytes of a notification: headers, MIME structure, Message-IDs.

Takes what compose.py rendered (subject, text, HTML) and writes the message
maild sends: every header, multipart/alternative in UTF-8 with CRLF line
ends. Pure: the clock comes in as `date`, so notify.py can build a message
at queue time and the outbox can send the very same bytes on every retry.

Why the header code is paranoid: subjects and names come from customers.
Python's email package (3.11) decodes RFC 2047 encoded words in a value it
is given and then writes the decoded CR/LF out verbatim, so a subject such as
``=?utf-8?q?x=0D=0ABcc:_x@evil?=`` would become a real Bcc header. Every value
is therefore cleaned of control characters, has encoded-word openers
defused, and the finished header block is checked against the set of
headers we meant to write before the bytes leave this module.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import format_datetime, formataddr

from maild.mailids import MAX_ID_LENGTH, writable_id
from maild.outbound.compose import ComposeError, Rendered, one_line

__all__ = ["MAX_REFERENCES", "build_message", "make_message_id"]

MAX_REFERENCES = 20


# Headers whose values this module sets itself; extra_headers may not touch
# them (nor any Content-* header), because a caller-supplied From or
# Content-Type would undo the guarantees documented above.
_STRUCTURAL = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "sender",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "return-path",
    }
)
# Set by default but replaceable: a reply to one sender (help desk, rejection)
# may rightly say Auto-Submitted: auto-replied instead of auto-generated.
_DEFAULT_EXTRA = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}

# \A: both are used with match() only; anchored, a search cannot rescan a long
# run from each of its positions either (the domain's lookahead bounds it).
_HEADER_NAME = re.compile(r"\A[!-9;-~]+\Z")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"\A(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\Z")
_ID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+.")
_BRACKETED = re.compile(r"<[^<>\s]*>")
# A unique part make_message_id keeps as it is: _ID_SAFE only, each dot between two others.
_ID_PLAIN = re.compile(r"\A[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*\Z")
_MAX_ID_LEFT = 160


# ---------------------------------------------------------------------------- headers


@functools.lru_cache(maxsize=4096)
def _header_text(value: str) -> str:
    """A value that can only ever be one header's text.

    Control characters collapse to spaces, and '=?' is split so no encoded
    word in customer text is decoded into a line break by the email package.
    Cached: a case's subject and number recur in every copy of its notifications.
    """
    return one_line(value).replace("=?", "= ?")


@functools.lru_cache(maxsize=4096)
def _checked_address(value: str, what: str) -> Address:
    """Exactly one bare addr-spec, or ValueError: a header must never gain a recipient.

    Cached: the same few addresses (ours, the agents', a case's people) come up
    in every notification, and the email package's Address parse is slow.
    Address objects are immutable and a refusal (an exception) is not cached.
    """
    if any(unicodedata.category(ch) in {"Cc", "Zl", "Zp"} for ch in value):
        raise ValueError(f"{what} address contains control characters")
    spec = value.strip()
    if not spec or spec.count("@") != 1 or any(ch in spec for ch in ",;<>()\\ \t"):
        raise ValueError(f"{what} address must be one plain address, got {spec!r}")
    try:
        local, _, domain = spec.rpartition("@")
        if not local or not domain:
            raise ValueError("missing local part or domain")
        if not domain.isascii():
            domain = domain.encode("idna").decode("ascii")
        if not local.isascii():
            raise ValueError("non-ASCII local part needs SMTPUTF8")
        address = Address(addr_spec=f"{local}@{domain}")
    except (ValueError, IndexError, UnicodeError, HeaderParseError) as exc:
        raise ValueError(f"{what} address {spec!r} is not valid: {exc}") from exc
    return address


@functools.lru_cache(maxsize=4096)
def _address_value(address: str, name: str | None, what: str) -> str:
    """The final From/To value of `name <address>`, checked; cached like _checked_address.

    The support address and name are the same in every notification, and a
    case's people and its team address come up in each of its notifications.
    """
    return _address_header(_mailbox(address, name, what))


@functools.lru_cache(maxsize=64)
def _date_value(moment: datetime) -> str:
    """The Date value of an aware datetime; every recipient of one event shares `now`."""
    return format_datetime(moment.astimezone(UTC))


def _mailbox(address: str, name: str | None, what: str) -> Address:
    checked = _checked_address(address, what)
    display = _header_text(name or "")
    if not display:
        return checked
    return Address(display_name=display, username=checked.username, domain=checked.domain)


def _references(ids: Iterable[str], parent: str | None) -> list[str]:
    """Deduplicated, order kept, the parent last; the thread root plus the newest ids when too many.

    Keeping the first id matters: mail clients group a thread by its root.
    """
    out: dict[str, None] = {}
    for raw in ids:
        item = raw or ""
        # A list item may be a whole References value; then only bracketed ids
        # count, so stray words around them never turn into ids.
        found = _BRACKETED.findall(item) or ([item] if len(item.split()) == 1 else [])
        for candidate in found:
            mid = writable_id(candidate)
            if mid:
                out[mid] = None
    if parent:
        out.pop(parent, None)
        out[parent] = None
    kept = list(out)
    if len(kept) > MAX_REFERENCES:
        kept = [kept[0], *kept[-(MAX_REFERENCES - 1) :]]
    return kept


@functools.lru_cache(maxsize=64)
def _id_host(domain: str) -> str:
    """The Message-ID's right side: `domain` in lower-case ASCII, or ValueError (not cached)."""
    host = domain.strip().lower().rstrip(".")
    if host and not host.isascii():
        host = host.encode("idna").decode("ascii")
    if not _DOMAIN.match(host):
        raise ValueError(f"message-id domain {domain!r} is not a host name")
    return host


def make_message_id(domain: str, unique: str) -> str:
    """'<unique@domain>' where `unique` is escaped into a valid, still-unique id-left.

    Characters outside a conservative set become '=XX' per UTF-8 byte ('=' itself
    included), so two different inputs never collide into one Message-ID. A very
    long `unique` is shortened to a prefix and its SHA-256, keeping the id within
    what build_message (and other mail software) accepts.
    """
    host = _id_host(domain)
    if not unique:
        raise ValueError("message-id needs a non-empty unique part")
    if _ID_PLAIN.match(unique) and len(unique) <= _MAX_ID_LEFT:
        message_id = f"<{unique}@{host}>"  # nothing to escape: what the loop below would make
        if len(message_id) > MAX_ID_LENGTH:
            raise ValueError(f"message-id domain {domain!r} is too long")
        return message_id
    parts: list[str] = []
    for index, ch in enumerate(unique):
        dot_ok = ch == "." and 0 < index < len(unique) - 1 and unique[index - 1] != "."
        if ch in _ID_SAFE and (ch != "." or dot_ok):
            parts.append(ch)
        else:
            parts.extend(f"={byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
    left = "".join(parts)
    if len(left) > _MAX_ID_LEFT:
        # '=H' never comes out of the escaping above, so a digest cannot
        # collide with an escaped id; the readable prefix helps debugging.
        digest = hashlib.sha256(unique.encode("utf-8", "surrogatepass")).hexdigest()
        left = f"{left[: _MAX_ID_LEFT - 66]}=H{digest}"
    message_id = f"<{left}@{host}>"
    if len(message_id) > MAX_ID_LENGTH:
        raise ValueError(f"message-id domain {domain!r} is too long")
    return message_id


def build_message(
    rendered: Rendered,
    *,
    from_addr: str,
    from_name: str,
    to_addr: str,
    to_name: str | None,
    reply_to: str | None,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    date: datetime,
    extra_headers: Mapping[str, str] | None = None,
) -> bytes:
    """The notification as SMTP-ready bytes: multipart/alternative, UTF-8, CRLF.

    `in_reply_to` is also appended to References when missing (RFC 5322 §3.6.4),
    so a caller cannot build a message that threads by one header and not the
    other. Raises ValueError for an address that is not exactly one mailbox,
    a malformed Message-ID, or an extra header that would replace a structural one.
    """
    own_id = writable_id(message_id)
    if own_id is None or "@" not in own_id:
        raise ValueError(f"message_id {message_id!r} is not of the form <id@domain>")
    moment = date if date.tzinfo is not None else date.replace(tzinfo=UTC)

    extras: dict[str, str] = dict(_DEFAULT_EXTRA)
    for name, value in (extra_headers or {}).items():
        if not _HEADER_NAME.match(name) or len(name) > 76:
            raise ValueError(f"extra header name {name!r} is not a valid field name")
        lowered = name.lower()
        if lowered in _STRUCTURAL or lowered.startswith("content-"):
            raise ValueError(f"extra header {name!r} is set by build_message itself")
        for known in list(extras):
            if known.lower() == lowered:
                del extras[known]
        extras[name] = _header_text(str(value))

    headers: list[tuple[str, str]] = [
        ("From", _address_value(from_addr, from_name, "from")),
        ("To", _address_value(to_addr, to_name, "to")),
    ]  # address headers are already in final ASCII form (see _header_line)
    if reply_to:
        headers.append(("Reply-To", _checked_address(reply_to, "reply-to").addr_spec))
    headers.append(("Subject", _header_text(rendered.subject)))
    headers.append(("Date", _date_value(moment)))
    headers.append(("Message-ID", own_id))
    parent = writable_id(in_reply_to)
    if parent:
        headers.append(("In-Reply-To", parent))
    refs = _references(references, parent)
    if refs:
        headers.append(("References", " ".join(refs)))
    headers.extend(extras.items())
    headers.append(("MIME-Version", "1.0"))
    data = _serialize(headers, rendered.text, rendered.html)
    _verify_header_block(data, {name.lower() for name, _ in headers} | {"content-type"})
    return data


# ---------------------------------------------------------------------------- serialising

# Written by hand rather than through EmailMessage: the header registry parses
# every value again and the generator walks the tree, which made building a
# notification cost more than rendering it. Every value reaching here has been
# checked above, and _verify_header_block still guards the result.


def _address_header(address: Address) -> str:
    """`Name <addr>`, final form: the name quoted, or one RFC 2047 word when not plain ASCII.

    A name that merely looks like an encoded word is encoded too, so a
    recipient's mail client shows it literally instead of decoding it.
    """
    name = address.display_name or ""
    if not name:
        return address.addr_spec
    if name.isascii() and "=?" not in name:
        return formataddr((name, address.addr_spec))
    return f"{' '.join(_encoded_words(name))} <{address.addr_spec}>"


_WORD_BYTES = 42  # base64 of 42 bytes is 56 characters: a word of 68, "Subject: " + it under 78


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 encoded words of at most 75 characters, never splitting a character between two.

    email.header.Header writes words of 76 characters (one over the limit)
    and, unfolded, one word of any length; strict clients show those raw.
    """
    data = text.encode("utf-8", "replace")  # per character as well: a lone surrogate is one "?"
    words: list[str] = []
    start, end = 0, len(data)
    while start < end:
        cut = min(start + _WORD_BYTES, end)
        while cut < end and data[cut] & 0xC0 == 0x80:  # never inside a character's bytes
            cut -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:cut]).decode('ascii')}?=")
        start = cut
    return words


def _fold_ascii(name: str, value: str) -> str:
    """Fold an ASCII header at spaces so lines stay under 78 characters where possible."""
    if len(name) + len(value) <= 75:  # fits on one line: what the loop below makes of it
        return f"{name}: {value}".rstrip(" ")
    line = f"{name}: "
    lines: list[str] = []
    for word in value.split(" "):
        if len(line) + len(word) > 77 and line.strip() and not line.endswith(": "):
            lines.append(line.rstrip(" "))
            line = " "
        line += word + " "
    lines.append(line.rstrip(" "))
    return "\r\n".join(lines)


_FINAL_FORM = frozenset({"From", "To"})  # as build_message names them


@functools.lru_cache(maxsize=4096)
def _header_line(name: str, value: str) -> str:
    """`name: value` folded or encoded; cached, as most values recur (From, Date, a case's Subject)."""
    if name in _FINAL_FORM or (value.isascii() and "=?" not in value):
        return _fold_ascii(name, value)
    # One encoded word per line after the first: each line stays under 78 characters.
    return f"{name}: " + "\r\n ".join(_encoded_words(value))


def _body_part(text: str, subtype: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n")
    if data.isascii() and (len(data) <= 900 or all(len(line) <= 900 for line in data.split("\n"))):
        encoding, body = "7bit", data.replace("\n", "\r\n").encode("ascii")
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
    else:
        # Lines of 76 characters (57 bytes each), CRLF after each and after the last.
        encoded = binascii.b2a_base64(data.encode("utf-8"), newline=False)
        lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
        encoding, body = "base64", b"\r\n".join(lines) + b"\r\n"
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'
    return head.encode("ascii") + body


def _serialize(headers: Sequence[tuple[str, str]], text: str, html: str) -> bytes:
    boundary = f"=_maild_{secrets.token_hex(12)}"
    head = "\r\n".join(_header_line(name, value) for name, value in headers)
    head += f'\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return b"".join(
        (
            head.encode("ascii"),
            delimiter,
            _body_part(text, "plain"),
            b"\r\n" + delimiter,
            _body_part(html, "html"),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )


def _verify_header_block(data: bytes, expected: set[str]) -> None:
    """Refuse bytes whose top-level header block holds anything but the headers we set.

    The last line of defence: whatever a future email package does with a
    value, a header we did not add never leaves this module.
    """
    head, sep, _ = data.partition(b"\r\n\r\n")
    if not sep or b"\n" in head.replace(b"\r\n", b""):
        raise ComposeError("composed message has a malformed header block")
    seen: list[str] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        if not colon:
            raise ComposeError("composed message has a header line without a field name")
        seen.append(name.decode("ascii", "replace").lower())
    if set(seen) != expected or len(seen) != len(expected):
        raise ComposeError(
            f"composed message headers {sorted(seen)} differ from those set {sorted(expected)}"
        )
