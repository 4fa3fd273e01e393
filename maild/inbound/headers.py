"""Raw header values to clean text and typed fields: the header half of parsing.

Owns RFC 2047 decoding, the codec for a message's raw 8-bit headers, and
reading the header fields `InboundMail` carries (the header list, From,
To, Cc, Reply-To, the delivery addresses, Date). Every value comes out as
one line without control characters, because header text ends up in logs,
in the database and in mail we send. Pure; it never raises on bad input:
what cannot be read becomes a defect and an absent value.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from datetime import datetime
from email.message import Message

from maild.inbound.addresses import Mailbox, mailbox_list
from maild.inbound.charsets import clean_text, decode_bytes, detect, plausible_codec
from maild.inbound.message import Address

MAX_HEADERS = 1000
MAX_HEADER_VALUE = 8 * 1024

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?]*)\?=")
_HEADER_SPACE = re.compile(r"[ \t\r\n\x85\u2028\u2029]+")
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
ADDR_SPEC = re.compile(r"^[^\s@<>,;\x00-\x1f\x7f]{1,256}@[^\s@<>,;()\[\]\\\x00-\x1f\x7f]{1,255}$")
# Bounces come from "<MAILER-DAEMON>" without a domain; keeping such a
# sender lets the automatic-mail rules see it.
_LOCAL_ONLY = re.compile(r"^[A-Za-z0-9._%+-]{1,64}$")
_TRACE_HEADERS = frozenset({"authentication-results", "received", "dkim-signature", "received-spf"})


# ---------------------------------------------------------------- decoding


def raw_to_text(value: str, hint: str | None) -> str:
    """Undo the parser's surrogate escapes: 8-bit (or raw JIS) header bytes are decoded as text."""
    if value.isascii() and "\x1b" not in value:
        return value
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return clean_text(value)
    return decode_bytes(data, hint)


def _b_decode(text: str) -> bytes:
    """Base64 of an encoded-word, forgiving missing padding and stray characters."""
    kept = _NOT_BASE64.sub("", text.split("=", 1)[0])
    kept = kept[: len(kept) - 1] if len(kept) % 4 == 1 else kept
    try:
        return base64.b64decode(kept + "=" * (-len(kept) % 4))
    except (binascii.Error, ValueError):
        return b""


def _q_decode(text: str) -> bytes:
    return binascii.a2b_qp(text.encode("utf-8", "surrogateescape"), header=True)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words, tolerating what real mailers produce.

    Adjacent encoded-words in one charset are joined as bytes before
    decoding, because mailers split multi-byte characters across them.
    Whitespace between encoded-words is dropped, as the RFC says.
    """
    if "=?" not in value:
        return value
    pieces: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        charset = match.group(1).split("*", 1)[0]
        if between and (between.strip() or pending_charset is None):
            pieces.append(_flush(pending, pending_charset))
            pending, pending_charset = bytearray(), None
            pieces.append(between)
        if pending_charset is not None and charset.lower() != pending_charset.lower():
            pieces.append(_flush(pending, pending_charset))
            pending = bytearray()
        pending_charset = charset
        text = match.group(3)
        pending += _b_decode(text) if match.group(2) in "bB" else _q_decode(text)
        pos = match.end()
    pieces.append(_flush(pending, pending_charset))
    pieces.append(value[pos:])
    return "".join(pieces)


def _flush(data: bytearray, charset: str | None) -> str:
    if charset is None:
        return ""
    return decode_bytes(bytes(data), charset)


def single_line(value: str) -> str:
    """One line, no control characters: header values end up in logs and mail we send."""
    value = _HEADER_SPACE.sub(" ", value)
    return _HEADER_CONTROL.sub("", value).strip()


def decode_header(value: str, hint: str | None = None) -> str:
    """A raw header value as one clean line of text."""
    return single_line(decode_words(raw_to_text(value, hint)))


# ---------------------------------------------------------------- raw access


def header_values(message: Message, name: str) -> list[str]:
    """Raw values of one header (`name` lower-case): `get_all` would turn 8-bit bytes into U+FFFD first."""
    values: list[str] = []
    for key, value in message.raw_items():
        if key.lower() == name:
            values.append(str(value))
            if len(values) >= MAX_HEADERS:
                break
    return values


def first_header(message: Message, name: str) -> str | None:
    values = header_values(message, name)
    return values[0] if values else None


def part_charset(part: Message) -> str | None:
    """The charset parameter of a part's Content-Type, or None when absent or malformed."""
    try:
        charset = part.get_param("charset")
    except Exception:  # malformed parameters: no label
        return None
    if isinstance(charset, tuple):
        charset = charset[2]
    return str(charset) if charset else None


# ---------------------------------------------------------------- the codec of raw headers


def charset_hint(message: Message) -> str | None:
    """The codec for the message's raw 8-bit headers.

    Detection on one short header guesses badly, so all 8-bit header bytes
    are judged together: UTF-8 if they are UTF-8, else the label of the
    message's own text if it decodes them (for a single-byte label, unless
    another single-byte charset reads clearly better), else the most
    plausible strict decoding, else detection on all of them.
    """
    data = b"\n".join(
        value.encode("ascii", "surrogateescape")
        for _name, value in list(message.raw_items())[:MAX_HEADERS]
        if not str(value).isascii() and _escapable(str(value))
    )
    label = _body_label(message)
    if not data:
        return label
    codec = plausible_codec(data, label)
    if codec is not None:
        return codec
    if _mostly_utf8(data):
        return "utf-8"
    return detect(data) or label


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few broken bytes: valid multi-byte characters outnumber the damage."""
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = sum(1 for char in text if ord(char) > 0x7F) - bad
    return good >= 2 * bad


def _escapable(value: str) -> bool:
    try:
        value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _body_label(message: Message) -> str | None:
    for index, part in enumerate(message.walk()):
        if index > 20:
            break
        charset = part_charset(part)
        if charset and charset.lower() not in ("us-ascii", "ascii"):
            return charset
    return None


# ---------------------------------------------------------------- fields


def header_list(message: Message, hint: str | None, defects: list[str]) -> tuple[tuple[str, str], ...]:
    """Every header as (name, one clean line), within the count and length limits."""
    raw = message.raw_items()
    result: list[tuple[str, str]] = []
    truncated = False
    for count, (name, value) in enumerate(raw):
        if count >= MAX_HEADERS:
            defects.append(f"more than {MAX_HEADERS} headers; the rest ignored")
            break
        text = str(value)
        if len(text) > MAX_HEADER_VALUE:
            text, truncated = text[:MAX_HEADER_VALUE], True
        key = single_line(raw_to_text(str(name), None))
        # RFC 2047 forbids encoded-words in trace headers: decoding them would let a sender's
        # =?…?= text (say in an envelope address our MTA quotes) become live syntax there.
        is_trace = key.lower() in _TRACE_HEADERS or key.lower().startswith("arc-")
        clean = single_line(raw_to_text(text, hint)) if is_trace else decode_header(text, hint)
        result.append((key, clean))
    if truncated:
        defects.append(f"header value longer than {MAX_HEADER_VALUE} characters truncated")
    return tuple(result)


def _address(mailbox: Mailbox) -> str | None:
    addr = mailbox.addr
    if addr and (ADDR_SPEC.match(addr) or _LOCAL_ONLY.match(addr)):
        return addr.lower()
    return None


def address_list(values: list[str], hint: str | None, defects: list[str], header: str) -> tuple[Address, ...]:
    """Every mailbox of To, Cc or Reply-To (group members included), by `maild.inbound.addresses`' rules."""
    texts = [raw_to_text(value[:MAX_HEADER_VALUE], hint) for value in values]
    result: list[Address] = []
    for mailbox in mailbox_list(texts).mailboxes:
        addr = _address(mailbox)
        if addr is None:
            defects.append(f"unparseable address in {header}")
            continue
        result.append(Address(email=addr, name=single_line(decode_words(mailbox.name))))
    return tuple(result)


def single_address(values: list[str], hint: str | None, defects: list[str], header: str) -> Address | None:
    """The From or Sender mailbox; None unless the message has exactly one such header with one plain mailbox.

    Several mailboxes, several header fields or a group leave no usable
    sender (routing then rejects without a notice): which one a mail client
    or a DMARC checker would show is not certain.
    """
    texts = [raw_to_text(value[:MAX_HEADER_VALUE], hint) for value in values]
    parsed = mailbox_list(texts)
    if not parsed.mailboxes and not parsed.has_group:
        return None
    if parsed.has_group or len(parsed.mailboxes) != 1 or len(values) != 1:
        defects.append(f"{header} is not a single mailbox (a group, or several); no usable {header}")
        return None
    mailbox = parsed.mailboxes[0]
    addr = _address(mailbox)
    if addr is None:
        defects.append(f"unparseable address in {header}")
        return None
    return Address(email=addr, name=single_line(decode_words(mailbox.name)))


def bare_addresses(values: list[str]) -> tuple[str, ...]:
    """The addr-specs of envelope-style headers (Delivered-To and the like), lower-cased, without repeats."""
    seen: dict[str, None] = {}
    for mailbox in mailbox_list([value[:MAX_HEADER_VALUE] for value in values]).mailboxes:
        addr = mailbox.addr.lower()
        if ADDR_SPEC.match(addr):
            seen.setdefault(addr, None)
    return tuple(seen)


def parse_date(value: str | None, defects: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("unparseable Date header")
        return None
