"""Raw message bytes to an `InboundMail`: the one door through which mail enters.

Owns MIME parsing, header decoding, body selection, attachment extraction
and delivery-report fields. It is pure (bytes in, value out) and total: any
input, however hostile or broken, yields an `InboundMail` whose problems are
listed in `defects`, because the daemon must record and quarantine bad mail
rather than stop on it. Every limit below bounds time or memory for one
message, so a single crafted message cannot stall a worker.

The stdlib parser is used with the compat32 policy: it is the most lenient
and the fastest, and it leaves header decoding to us, which we need anyway
because real mail lies about its charsets.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.utils
import hashlib
import io
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser
from email.policy import compat32

from maild.inbound.addresses import Mailbox, mailbox_list
from maild.inbound.charsets import candidates, clean_text, decode_bytes, detect
from maild.inbound.htmltext import html_to_text
from maild.inbound.message import Address, Attachment, InboundMail
from maild.inbound.tnef import unpack as unpack_tnef
from maild.mailids import first_id, id_list

MAX_HEADERS = 1000
MAX_HEADER_VALUE = 8 * 1024
MAX_DEPTH = 50
MAX_PARTS = 1000
MAX_IDS = 100
MAX_FILENAME = 200
DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024

_ADDRESS_HEADERS_DELIVERY = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?]*)\?=")
_HEADER_SPACE = re.compile(r"[ \t\r\n\x85\u2028\u2029]+")
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HEADER_LINE = re.compile(rb"[!-9;-~]{1,76}:")
_ANGLE_ID = re.compile(r"<([^<>]{1,998})>")
_COMMENT = re.compile(r"\([^()]*\)")
_WHITESPACE = re.compile(r"\s+")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_ID_CHARS = re.compile(r"^[\x21-\x3b\x3d\x3f-\x7e]+$")
_ADDR_SPEC = re.compile(r"^[^\s@<>,;\x00-\x1f\x7f]{1,256}@[^\s@<>,;()\[\]\\\x00-\x1f\x7f]{1,255}$")
# Bounces come from "<MAILER-DAEMON>" without a domain; keeping such a
# sender lets the automatic-mail rules see it.
_LOCAL_ONLY = re.compile(r"^[A-Za-z0-9._%+-]{1,64}$")
_FILENAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FILENAME_RESERVED = re.compile(r'[<>:"|?*]')
_NON_BODY_REPORT_TYPES = frozenset(
    {
        "message/delivery-status",
        "message/disposition-notification",
        "message/feedback-report",
        "text/rfc822-headers",
    }
)


# ---------------------------------------------------------------- headers


def _raw_to_text(value: str, hint: str | None) -> str:
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
    return single_line(decode_words(_raw_to_text(value, hint)))


# ---------------------------------------------------------------- ids and addresses


def _address(mailbox: Mailbox) -> str | None:
    addr = mailbox.addr
    if addr and (_ADDR_SPEC.match(addr) or _LOCAL_ONLY.match(addr)):
        return addr.lower()
    return None


def _addresses(values: list[str], hint: str | None, defects: list[str], header: str) -> tuple[Address, ...]:
    """Every mailbox of To, Cc or Reply-To (group members included), by `maild.inbound.addresses`' rules."""
    texts = [_raw_to_text(value[:MAX_HEADER_VALUE], hint) for value in values]
    result: list[Address] = []
    for mailbox in mailbox_list(texts).mailboxes:
        addr = _address(mailbox)
        if addr is None:
            defects.append(f"unparseable address in {header}")
            continue
        result.append(Address(email=addr, name=single_line(decode_words(mailbox.name))))
    return tuple(result)


def _single_address(values: list[str], hint: str | None, defects: list[str], header: str) -> Address | None:
    """The From or Sender mailbox; None unless the message has exactly one such header with one plain mailbox.

    Several mailboxes, several header fields or a group leave no usable
    sender (routing then rejects without a notice): which one a mail client
    or a DMARC checker would show is not certain.
    """
    texts = [_raw_to_text(value[:MAX_HEADER_VALUE], hint) for value in values]
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


def _bare_addresses(values: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for mailbox in mailbox_list([value[:MAX_HEADER_VALUE] for value in values]).mailboxes:
        addr = mailbox.addr.lower()
        if _ADDR_SPEC.match(addr):
            seen.setdefault(addr, None)
    return tuple(seen)


def _parse_date(value: str | None, defects: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("unparseable Date header")
        return None


# ---------------------------------------------------------------- filenames


def safe_filename(name: str, index: int) -> str:
    """A name that is safe to show and store: a basename, printable, bounded.

    Path separators, traversal, leading dots (hidden files), reserved
    characters and bidi overrides (which disguise extensions) are removed.
    """
    name = _FILENAME_UNSAFE.sub("", name.replace("\\", "/"))
    name = name.rsplit("/", 1)[-1]
    name = _FILENAME_RESERVED.sub("_", name).strip().lstrip(". ").rstrip(". ")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name or f"attachment-{index}.bin"


def _param(part: Message, name: str, header: str, hint: str | None) -> str | None:
    """A MIME parameter, RFC 2231 (charset, continuations) and RFC 2047 decoded.

    A raw 8-bit header is decoded to text first and re-read through a
    scratch message, because the stdlib would replace its bytes with U+FFFD.
    """
    raw = _all(part, header)
    if not raw:
        return None
    source = part
    if not raw[0].isascii() or "\x1b" in raw[0]:
        source = Message()
        source[header] = _raw_to_text(raw[0][:MAX_HEADER_VALUE], hint)
    try:
        params = source.get_params(header=header) or []
    except Exception:  # malformed parameters are common; treat as absent
        return None
    for key, value in params:
        if key.strip().lower() != name:
            continue
        if isinstance(value, tuple):
            charset, _language, text = value
            data = text.encode("latin-1", "replace") if isinstance(text, str) else b""
            decoded = decode_bytes(data, charset or None, hint=hint)
        else:
            decoded = _raw_to_text(str(value), hint)
        return single_line(decode_words(decoded.strip('"')))
    return None


def _filename(part: Message, hint: str | None) -> str | None:
    return _param(part, "filename", "content-disposition", hint) or _param(part, "name", "content-type", hint)


# ---------------------------------------------------------------- body walk


@dataclass
class _Collected:
    """Everything the walk over the MIME tree gathers for one message."""

    max_attachment_bytes: int
    hint: str | None
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    report_type: str | None = None
    original_ids: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    parts: int = 0
    cut_sizes: dict[int, int] = field(default_factory=dict)
    raw: bytes = b""
    kept: dict[bytes, tuple[int, int]] = field(default_factory=dict)
    consumed: set[bytes] = field(default_factory=set)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a broken Content-Type means the RFC default
        return "text/plain"


def _disposition(part: Message) -> str:
    value = part.get("content-disposition")
    if value is None:
        return ""
    return str(value).split(";", 1)[0].strip().lower()


def _payload_bytes(part: Message, collected: _Collected) -> bytes:
    kept = _kept_payload(part, collected)
    if kept is not None:
        return kept
    try:
        data = part.get_payload(decode=True)
    except Exception:  # undecodable transfer encoding: keep the raw bytes
        collected.defects.append("undecodable transfer encoding")
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape") if raw.isascii() else _encode_escaped(raw)
    return b""


def _kept_payload(part: Message, collected: _Collected) -> bytes | None:
    """The decoded bytes of a base64 body cut out before parsing, or None if this part is not one.

    The test mirrors what `get_payload(decode=True)` would do with the
    original body: the same Content-Transfer-Encoding check (exact, lower-cased)
    and the same joining of lines. The part qualifies only when its whole
    payload is one marker, i.e. the original body was exactly the cut run.
    """
    if not collected.kept:
        return None
    payload = part.get_payload()
    if not isinstance(payload, str) or len(payload) > 200 or not payload.isascii():
        return None
    key = b"".join(payload.encode("ascii").splitlines())
    span = collected.kept.get(key)
    if span is None or str(part.get("content-transfer-encoding", "")).lower() != "base64":
        return None
    collected.consumed.add(key)
    return _decode_run(collected.raw, *span)


def _encode_escaped(text: str) -> bytes:
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def _charset(part: Message) -> str | None:
    try:
        charset = part.get_param("charset")
    except Exception:  # malformed parameters: no label
        return None
    if isinstance(charset, tuple):
        charset = charset[2]
    return str(charset) if charset else None


def _body_text(part: Message, collected: _Collected) -> str:
    text = decode_bytes(_payload_bytes(part, collected), _charset(part), hint=collected.hint)
    return normalise_newlines(text)


def normalise_newlines(text: str) -> str:
    """LF line ends and no control characters (C0, DEL, C1) other than tab and newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROL.sub("", text)


def _message_bytes(message: Message) -> bytes:
    try:
        return message.as_bytes()
    except Exception:  # regeneration of a broken message; fall back to its text
        try:
            return _encode_escaped(message.as_string())
        except Exception:
            return b""


def _walk(root: Message, collected: _Collected) -> None:
    """Visit the MIME tree depth-first, iteratively, within the part and depth limits."""
    stack: list[tuple[Message, int, bool]] = [(root, 0, False)]
    while stack:
        part, depth, in_report = stack.pop()
        collected.parts += 1
        if collected.parts > MAX_PARTS:
            collected.defects.append(f"more than {MAX_PARTS} MIME parts; the rest ignored")
            return
        _note_defects(part, collected)
        ctype = _content_type(part)
        payload = part.get_payload()
        if ctype.startswith("multipart/") and isinstance(payload, str):
            # No usable boundary: the parser kept the body as one string,
            # which is still the sender's text.
            collected.texts.append(_body_text(part, collected))
            continue
        if ctype.startswith("multipart/") or (isinstance(payload, list) and not ctype.startswith("message/")):
            if depth >= MAX_DEPTH:
                collected.defects.append(f"MIME nesting deeper than {MAX_DEPTH}; inner parts ignored")
                continue
            is_report = ctype == "multipart/report"
            if is_report and collected.report_type is None:
                collected.report_type = _report_type(part)
            children = (
                [child for child in payload if isinstance(child, Message)]
                if isinstance(payload, list)
                else []
            )
            stack.extend((child, depth + 1, in_report or is_report) for child in reversed(children))
            continue
        _leaf(part, ctype, in_report, collected)


def _note_defects(part: Message, collected: _Collected) -> None:
    for defect in getattr(part, "defects", ())[:10]:
        name = type(defect).__name__
        if name not in collected.defects:
            collected.defects.append(name)


def _report_type(part: Message) -> str:
    try:
        value = part.get_param("report-type")
    except Exception:
        value = None
    if isinstance(value, tuple):
        value = value[2]
    return single_line(str(value)).lower() if value else "unknown"


def _leaf(part: Message, ctype: str, in_report: bool, collected: _Collected) -> None:
    if in_report and ctype in _NON_BODY_REPORT_TYPES:
        _report_part(part, ctype, collected)
        return
    if ctype.startswith("message/"):
        _message_part(part, ctype, in_report, collected)
        return
    name = _filename(part, collected.hint)
    disposition = _disposition(part)
    if ctype.startswith("text/") and name is None and disposition != "attachment":
        if ctype == "text/plain":
            collected.texts.append(_body_text(part, collected))
            return
        if ctype == "text/html":
            collected.htmls.append(_body_text(part, collected))
            return
    data = _payload_bytes(part, collected)
    if (ctype == "application/ms-tnef" or (name or "").lower() == "winmail.dat") and _unpacked_tnef(
        data, collected
    ):
        return
    _attachment(part, ctype, name, data, collected)


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _unpacked_tnef(data: bytes, collected: _Collected) -> bool:
    """Outlook's winmail.dat: its body becomes the text, its files attachments of their own."""
    if len(data) > 4 * collected.max_attachment_bytes:  # a wrapper of several files may exceed one's limit
        return False
    contents = unpack_tnef(data)
    if contents is None or not (contents.text or contents.html or contents.files):
        return False
    if contents.text:
        collected.texts.append(_lines(clean_text(contents.text)))
    if contents.html:
        collected.htmls.append(_lines(clean_text(contents.html)))
    for filename, payload in contents.files:
        index = len(collected.attachments) + 1
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if len(payload) > collected.max_attachment_bytes:
            reason = f"over the size limit of {collected.max_attachment_bytes} bytes"
            collected.attachments.append(
                Attachment(safe_filename(filename, index), ctype, len(payload), None, reason)
            )
        else:
            collected.attachments.append(
                Attachment(safe_filename(filename, index), ctype, len(payload), payload)
            )
    return True


def _attachment(part: Message, ctype: str, name: str | None, data: bytes, collected: _Collected) -> None:
    index = len(collected.attachments) + 1
    filename = safe_filename(name or "", index)
    size = len(data)
    limit = collected.max_attachment_bytes
    content_id = _content_id(part)
    cut = _CUT_MARKER.fullmatch(data)
    if cut is not None and int(cut.group(1)) in collected.cut_sizes:
        size = collected.cut_sizes[int(cut.group(1))]
    if size > limit:
        collected.attachments.append(
            Attachment(filename, ctype, size, None, f"over the size limit of {limit} bytes", content_id)
        )
        return
    collected.attachments.append(Attachment(filename, ctype, size, data, None, content_id))


def _content_id(part: Message) -> str | None:
    value = part.get("content-id")
    if value is None:
        return None
    text = single_line(_raw_to_text(str(value), None)).strip().strip("<>").strip()
    return text[:998] or None


def _inner_message(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None


def _message_part(part: Message, ctype: str, in_report: bool, collected: _Collected) -> None:
    inner = _inner_message(part)
    if in_report and inner is not None:
        msgid = first_id(_raw_to_text(str(inner.get("message-id", "")), None))
        if msgid:
            collected.original_ids.append(msgid)
    name = _filename(part, collected.hint)
    if name is None and ctype in ("message/rfc822", "message/global"):
        subject = decode_header(str(inner.get("subject", "")), collected.hint) if inner is not None else ""
        name = f"{subject[: MAX_FILENAME - 4]}.eml" if subject else "forwarded.eml"
    data = _message_bytes(inner) if inner is not None else _payload_bytes(part, collected)
    _attachment(part, ctype, name, data, collected)


def _report_part(part: Message, ctype: str, collected: _Collected) -> None:
    if ctype == "text/rfc822-headers":
        text = _body_text(part, collected)
        headers = HeaderParser(policy=compat32).parsestr(text[: 64 * 1024], headersonly=True)
        msgid = first_id(headers.get("message-id"))
        if msgid:
            collected.original_ids.append(msgid)
        return
    for block in _status_blocks(part, collected):
        if ctype == "message/disposition-notification":
            msgid = first_id(block.get("original-message-id"))
            if msgid:
                collected.original_ids.append(msgid)
        elif ctype == "message/delivery-status" and block.get("action", "").strip().lower().startswith(
            "failed"
        ):
            recipient = _status_recipient(block)
            if recipient:
                collected.failed.append(recipient)


def _status_blocks(part: Message, collected: _Collected) -> Iterator[dict[str, str]]:
    """The header-like blocks of a status part, whether or not the parser split them."""
    payload = part.get_payload()
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                yield {key.lower(): single_line(str(value)) for key, value in block.items()}
        return
    text = _body_text(part, collected)[: 256 * 1024]
    for chunk in re.split(r"\n[ \t]*\n", text):
        headers = HeaderParser(policy=compat32).parsestr(chunk.strip("\n") + "\n", headersonly=True)
        yield {key.lower(): single_line(str(value)) for key, value in headers.items()}


def _status_recipient(block: dict[str, str]) -> str | None:
    value = block.get("final-recipient") or block.get("original-recipient") or ""
    address = value.split(";", 1)[-1].strip().strip("<>").strip().lower()
    return address if _ADDR_SPEC.match(address) else None


# ---------------------------------------------------------------- assembly


def _charset_hint(message: Message) -> str | None:
    """The codec for the message's raw 8-bit headers.

    Detection on one short header guesses badly, so all 8-bit header bytes
    are judged together: UTF-8 if they are UTF-8, else the label of the
    message's own text if it decodes them, else detection on all of them.
    """
    data = b"\n".join(
        value.encode("ascii", "surrogateescape")
        for _name, value in list(message.raw_items())[:MAX_HEADERS]
        if not str(value).isascii() and _escapable(str(value))
    )
    label = _body_label(message)
    if not data:
        return label
    for codec in ("utf-8", *candidates(label)):
        try:
            data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
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
        charset = _charset(part)
        if charset and charset.lower() not in ("us-ascii", "ascii"):
            return charset
    return None


_TRACE_HEADERS = frozenset({"authentication-results", "received", "dkim-signature", "received-spf"})


def _headers(message: Message, hint: str | None, defects: list[str]) -> tuple[tuple[str, str], ...]:
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
        key = single_line(_raw_to_text(str(name), None))
        # RFC 2047 forbids encoded-words in trace headers: decoding them would let a sender's
        # =?…?= text (say in an envelope address our MTA quotes) become live syntax there.
        is_trace = key.lower() in _TRACE_HEADERS or key.lower().startswith("arc-")
        clean = single_line(_raw_to_text(text, hint)) if is_trace else decode_header(text, hint)
        result.append((key, clean))
    if truncated:
        defects.append(f"header value longer than {MAX_HEADER_VALUE} characters truncated")
    return tuple(result)


def _all(message: Message, name: str) -> list[str]:
    """Raw values of one header: `get_all` would turn 8-bit bytes into U+FFFD first."""
    values: list[str] = []
    for key, value in message.raw_items():
        if key.lower() == name:
            values.append(str(value))
            if len(values) >= MAX_HEADERS:
                break
    return values


def _first(message: Message, name: str) -> str | None:
    values = _all(message, name)
    return values[0] if values else None


def _choose_text(collected: _Collected) -> tuple[str, str | None, bool]:
    html = "\n".join(collected.htmls) if collected.htmls else None
    plain = "\n\n".join(text for text in collected.texts if text.strip())
    if plain.strip() or html is None:
        return plain, html, False
    # Cleaned again: html2text decodes entities, and "&#27;[2J" or "&#x9b;" are controls.
    return normalise_newlines(html_to_text(html)), html, True


def _parse_tree(raw: bytes, defects: list[str]) -> Message:
    try:
        return email.message_from_bytes(raw, policy=compat32)
    except RecursionError:
        defects.append("MIME structure too deep to parse; body kept as text")
    except Exception as exc:  # the stdlib parser must not take the message down
        defects.append(f"MIME structure unparseable ({type(exc).__name__}); body kept as text")
    message = BytesHeaderParser(policy=compat32).parsebytes(raw)
    if message.get_content_maintype() == "multipart":
        del message["content-type"]
        message["Content-Type"] = "text/plain"
    return message


def _strip_preamble(raw: bytes) -> bytes:
    """Drop a byte-order mark and blank lines before the headers.

    Both make the parser see a message without headers, which loses the
    sender and subject of mail that is otherwise fine.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    stripped = raw.lstrip(b"\r\n")
    if stripped is not raw and _HEADER_LINE.match(stripped[:1000]):
        return stripped
    return raw


# A large base64 body is cut out of the bytes before the standard library parser
# sees them: that parser splits a body into one string per line and joins them
# again, then `get_payload(decode=True)` copies it twice more, costing about
# eight times the body in memory (a 50 MB attachment took 600 MB). A short
# marker line (itself base64) stands in for each run.
# * A run too large to keep becomes a dropped attachment of the run's decoded size.
# * A run that is kept is decoded straight from the raw bytes, a block at a time,
#   when the walk reaches the part whose whole body is its marker. Markers carry
#   the message's digest, so a message cannot forge one. If any kept marker ends
#   up anywhere else (a run that was not one part's whole base64 body: a text
#   part, a forwarded message, a header), the message is parsed again without
#   cutting kept runs, so the result is always what the plain parse gives.
# Possessive (++, ?+): no backtracking state per line, so scanning a huge body costs no memory.
# A run starts only where a line of base64 characters starts (the lookbehind) and each
# line is taken possessively: otherwise every position of a long line without a line
# break rescanned up to 998 characters (a 25 MB such line: about 10^10 steps). Linear.
_B64_RUN = re.compile(
    rb"(?<![A-Za-z0-9+/])(?:[A-Za-z0-9+/]{40,998}+\r?\n)++(?:[A-Za-z0-9+/]{0,998}+={0,2}\r?\n)?+"
)
_CUT_MARKER = re.compile(rb"maild-cut-part-(\d+)")
_CUT_BELOW = 1 << 20  # runs shorter than this are left alone whatever the limit
_DECODE_BLOCK = 1 << 20  # base64 characters decoded at a time from a kept run


@dataclass
class _Cut:
    """The bytes given to the parser and what was taken out of them."""

    trimmed: bytes
    dropped: dict[int, int] = field(default_factory=dict)  # dropped marker number -> decoded size
    kept: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # marker -> (start, end) in raw


class _NotExact(Exception):
    """A kept run cannot be decoded the way the standard library would: parse without cutting."""


def _cut_base64(raw: bytes, limit: int, nonce: str, keep: bool) -> _Cut:
    """Replace every base64 run of at least `_CUT_BELOW` bytes with a marker.

    Runs whose decoded size exceeds `limit` are dropped; smaller ones are kept
    (when `keep`) if their characters form whole base64 quads, which is what
    lets them be decoded exactly like `get_payload(decode=True)` would.
    """
    if len(raw) < (_CUT_BELOW if keep else max(limit, _CUT_BELOW)):
        return _Cut(raw)
    pieces: list[bytes] = []
    cut = _Cut(raw)
    last = 0
    for match in _B64_RUN.finditer(raw):
        start, end = match.span()
        if end - start < _CUT_BELOW:
            continue
        newlines = raw.count(b"\n", start, end) + raw.count(b"\r", start, end)
        tail = raw[max(start, end - 4) : end]
        size = (end - start - newlines) * 3 // 4 - tail.count(b"=")
        if size > limit:
            marker = len(cut.dropped)
            cut.dropped[marker] = size
            pieces += [raw[last:start], base64.b64encode(b"maild-cut-part-%d" % marker), b"\r\n"]
        elif keep and (end - start - newlines) % 4 == 0:
            token = base64.b64encode(f"maild-keep-part-{nonce}-{len(cut.kept)}".encode())
            cut.kept[token] = (start, end)
            ending = b"\r\n" if raw[end - 2 : end] == b"\r\n" else b"\n"
            pieces += [raw[last:start], token, ending]
        else:
            continue
        last = end
    if not pieces:
        return _Cut(raw)
    pieces.append(raw[last:])
    cut.trimmed = b"".join(pieces)
    return cut


def _decode_run(raw: bytes, start: int, end: int) -> bytes:
    """A kept run's bytes, decoded block by block into one buffer of the final size.

    Equal to `base64.b64decode(run without line breaks, validate=True)`, which is
    what the standard library returns for such a body, without ever holding
    the run as text or as one string without line breaks.
    """
    newlines = raw.count(b"\n", start, end) + raw.count(b"\r", start, end)
    tail = raw[max(start, end - 4) : end]
    size = (end - start - newlines) * 3 // 4 - tail.count(b"=")
    out = io.BytesIO()
    if size > 0:
        out.seek(size - 1)  # one allocation of the final size, filled in place
        out.write(b"\0")
        out.seek(0)
    carry = b""
    try:
        for offset in range(start, end, _DECODE_BLOCK):
            quads = carry + raw[offset : min(offset + _DECODE_BLOCK, end)].translate(None, b"\r\n")
            whole = len(quads) - len(quads) % 4
            out.write(binascii.a2b_base64(quads[:whole], strict_mode=True))
            carry = quads[whole:]
    except binascii.Error as exc:
        raise _NotExact(str(exc)) from exc
    if carry or out.tell() != size:
        raise _NotExact("a kept base64 run did not decode to its computed size")
    return out.getvalue()


def _build(raw: bytes, max_attachment_bytes: int) -> InboundMail:
    digest = hashlib.sha256(raw).hexdigest()
    try:
        return _build_once(raw, digest, max_attachment_bytes, keep=True)
    except _NotExact:
        pass  # outside the handler, so the first attempt's frame (and its decoded parts) is freed first
    return _build_once(raw, digest, max_attachment_bytes, keep=False)


def _build_once(raw: bytes, digest: str, max_attachment_bytes: int, *, keep: bool) -> InboundMail:
    """The message; `_NotExact` when a kept base64 run was not exactly one part's body (see `_cut_base64`)."""
    defects: list[str] = []
    cut = _cut_base64(raw, max_attachment_bytes, digest[:16], keep)
    message = _parse_tree(_strip_preamble(cut.trimmed), defects)
    cut.trimmed = b""
    hint = _charset_hint(message)
    collected = _Collected(
        max_attachment_bytes=max_attachment_bytes,
        hint=hint,
        cut_sizes=cut.dropped,
        raw=raw,
        kept=cut.kept,
    )
    _walk(message, collected)
    if collected.consumed != set(collected.kept):
        raise _NotExact("a kept base64 run was not one part's whole body")
    text, html, from_html = _choose_text(collected)
    message_id = first_id(_raw_to_text(_first(message, "message-id") or "", None))
    if message_id is None:
        defects.append("missing or invalid Message-ID")
    return InboundMail(
        message_id=message_id or f"<{digest[:32]}@maild.invalid>",
        message_id_synthesized=message_id is None,
        from_addr=_single_address(_all(message, "from"), hint, defects, "From"),
        sender=_single_address(_all(message, "sender"), hint, defects, "Sender"),
        reply_to=_addresses(_all(message, "reply-to"), hint, defects, "Reply-To"),
        to=_addresses(_all(message, "to"), hint, defects, "To"),
        cc=_addresses(_all(message, "cc"), hint, defects, "Cc"),
        delivered_to=_bare_addresses([v for name in _ADDRESS_HEADERS_DELIVERY for v in _all(message, name)]),
        subject=decode_header((_first(message, "subject") or "")[:MAX_HEADER_VALUE], hint),
        date=_parse_date(_first(message, "date"), defects),
        in_reply_to=id_list(_all(message, "in-reply-to")),
        references=id_list(_all(message, "references")),
        headers=_headers(message, hint, defects),
        text=text,
        html=html,
        text_from_html=from_html,
        content_type=_content_type(message),
        attachments=tuple(collected.attachments),
        report_type=collected.report_type,
        report_original_message_ids=tuple(dict.fromkeys(collected.original_ids)),
        report_failed_recipients=tuple(dict.fromkeys(collected.failed)),
        raw_size=len(raw),
        raw_sha256=digest,
        defects=tuple(dict.fromkeys(defects + collected.defects)),
    )


def _last_resort(raw: bytes, exc: BaseException) -> InboundMail:
    digest = hashlib.sha256(raw).hexdigest()
    return InboundMail(
        message_id=f"<{digest[:32]}@maild.invalid>",
        message_id_synthesized=True,
        from_addr=None,
        subject="",
        text=normalise_newlines(decode_bytes(raw[: 1024 * 1024])),
        raw_size=len(raw),
        raw_sha256=digest,
        defects=(f"parser failure: {type(exc).__name__}",),
    )


def parse_message(raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES) -> InboundMail:
    """Parse one message; total: it never raises, problems go to `defects`."""
    try:
        return _build(bytes(raw), max_attachment_bytes)
    except Exception as exc:  # totality is the contract; the raw bytes are kept by the caller
        return _last_resort(bytes(raw), exc)
