"""Raw message bytes to an `InboundMail`: the one door through which mail enters.

Owns the MIME walk: body selection, attachment extraction and the
assembly of `InboundMail`; header decoding is `maild.inbound.headers`,
delivery-report fields `maild.inbound.reports`, and the memory bound on
large base64 bodies `maild.inbound.bodybytes`. It is pure (bytes in, value
out) and total: any input, however hostile or broken, yields an
`InboundMail` whose problems are listed in `defects`, because the daemon
must record and quarantine bad mail rather than stop on it. Every limit
below bounds time or memory for one message, so a single crafted message
cannot stall a worker.

The stdlib parser is used with the compat32 policy: it is the most lenient
and the fastest, and it leaves header decoding to us, which we need anyway
because real mail lies about its charsets.
"""

from __future__ import annotations

import email
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from maild.inbound.bodybytes import CutBodies, NotExact, cut_base64
from maild.inbound.charsets import clean_text, decode_bytes
from maild.inbound.headers import (
    MAX_HEADER_VALUE,
    address_list,
    bare_addresses,
    charset_hint,
    decode_header,
    decode_words,
    first_header,
    header_list,
    header_values,
    parse_date,
    part_charset,
    raw_to_text,
    single_address,
    single_line,
)
from maild.inbound.htmltext import html_to_text
from maild.inbound.message import Attachment, InboundMail
from maild.inbound.reports import NON_BODY_REPORT_TYPES, ReportFields
from maild.inbound.tnef import unpack as unpack_tnef
from maild.mailids import first_id, id_list

MAX_DEPTH = 50
MAX_PARTS = 1000
MAX_FILENAME = 200
DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024

_ADDRESS_HEADERS_DELIVERY = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to")
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HEADER_LINE = re.compile(rb"[!-9;-~]{1,76}:")
_FILENAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FILENAME_RESERVED = re.compile(r'[<>:"|?*]')


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
    raw = header_values(part, header)
    if not raw:
        return None
    source = part
    if not raw[0].isascii() or "\x1b" in raw[0]:
        source = Message()
        source[header] = raw_to_text(raw[0][:MAX_HEADER_VALUE], hint)
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
            decoded = raw_to_text(str(value), hint)
        return single_line(decode_words(decoded.strip('"')))
    return None


def _filename(part: Message, hint: str | None) -> str | None:
    return _param(part, "filename", "content-disposition", hint) or _param(part, "name", "content-type", hint)


# ---------------------------------------------------------------- body walk


@dataclass
class _Collected:
    """Everything the walk over the MIME tree gathers for one message."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    report: ReportFields = field(default_factory=ReportFields)
    parts: int = 0
    charset: str | None = None  # the first body part's declared charset


@dataclass
class _Walk:
    """One walk over a MIME tree: what it reads parts with, and what it gathers into."""

    max_attachment_bytes: int
    hint: str | None
    bodies: CutBodies
    found: _Collected = field(default_factory=_Collected)

    def body_text(self, part: Message) -> str:
        charset = part_charset(part)
        if self.found.charset is None and charset and charset.lower() not in ("us-ascii", "ascii"):
            self.found.charset = charset.strip().lower()[:40]
        text = decode_bytes(_payload_bytes(part, self), charset, hint=self.hint)
        return normalise_newlines(text)


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


def _payload_bytes(part: Message, walk: _Walk) -> bytes:
    kept = walk.bodies.kept_payload(part)
    if kept is not None:
        return kept
    try:
        data = part.get_payload(decode=True)
    except Exception:  # undecodable transfer encoding: keep the raw bytes
        walk.found.defects.append("undecodable transfer encoding")
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape") if raw.isascii() else _encode_escaped(raw)
    return b""


def _encode_escaped(text: str) -> bytes:
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


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


def _visit_tree(root: Message, walk: _Walk) -> None:
    """Visit the MIME tree depth-first, iteratively, within the part and depth limits."""
    found = walk.found
    stack: list[tuple[Message, int, bool]] = [(root, 0, False)]
    while stack:
        part, depth, in_report = stack.pop()
        found.parts += 1
        if found.parts > MAX_PARTS:
            found.defects.append(f"more than {MAX_PARTS} MIME parts; the rest ignored")
            return
        _note_defects(part, found)
        ctype = _content_type(part)
        payload = part.get_payload()
        if ctype.startswith("multipart/") and isinstance(payload, str):
            # No usable boundary: the parser kept the body as one string,
            # which is still the sender's text.
            found.texts.append(walk.body_text(part))
            continue
        if ctype.startswith("multipart/") or (isinstance(payload, list) and not ctype.startswith("message/")):
            if depth >= MAX_DEPTH:
                found.defects.append(f"MIME nesting deeper than {MAX_DEPTH}; inner parts ignored")
                continue
            is_report = ctype == "multipart/report"
            if is_report:
                found.report.note_report(part)
            children = (
                [child for child in payload if isinstance(child, Message)]
                if isinstance(payload, list)
                else []
            )
            stack.extend((child, depth + 1, in_report or is_report) for child in reversed(children))
            continue
        _leaf(part, ctype, in_report, walk)


def _note_defects(part: Message, found: _Collected) -> None:
    for defect in getattr(part, "defects", ())[:10]:
        name = type(defect).__name__
        if name not in found.defects:
            found.defects.append(name)


def _leaf(part: Message, ctype: str, in_report: bool, walk: _Walk) -> None:
    if in_report and ctype in NON_BODY_REPORT_TYPES:
        walk.found.report.read_part(part, ctype, walk.body_text)
        return
    if ctype.startswith("message/"):
        _message_part(part, ctype, in_report, walk)
        return
    name = _filename(part, walk.hint)
    disposition = _disposition(part)
    if ctype.startswith("text/") and name is None and disposition != "attachment":
        if ctype == "text/plain":
            walk.found.texts.append(walk.body_text(part))
            return
        if ctype == "text/html":
            walk.found.htmls.append(walk.body_text(part))
            return
    data = _payload_bytes(part, walk)
    if (ctype == "application/ms-tnef" or (name or "").lower() == "winmail.dat") and _unpacked_tnef(
        data, walk
    ):
        return
    _attachment(part, ctype, name, data, walk)


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _unpacked_tnef(data: bytes, walk: _Walk) -> bool:
    """Outlook's winmail.dat: its body becomes the text, its files attachments of their own."""
    limit = walk.max_attachment_bytes
    if len(data) > 4 * limit:  # a wrapper of several files may exceed one's limit
        return False
    contents = unpack_tnef(data)
    if contents is None or not (contents.text or contents.html or contents.files):
        return False
    found = walk.found
    if contents.text:
        found.texts.append(_lines(clean_text(contents.text)))
    if contents.html:
        found.htmls.append(_lines(clean_text(contents.html)))
    for filename, payload in contents.files:
        index = len(found.attachments) + 1
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if len(payload) > limit:
            reason = f"over the size limit of {limit} bytes"
            found.attachments.append(
                Attachment(safe_filename(filename, index), ctype, len(payload), None, reason)
            )
        else:
            found.attachments.append(Attachment(safe_filename(filename, index), ctype, len(payload), payload))
    return True


def _attachment(part: Message, ctype: str, name: str | None, data: bytes, walk: _Walk) -> None:
    attachments = walk.found.attachments
    filename = safe_filename(name or "", len(attachments) + 1)
    dropped_size = walk.bodies.dropped_size(data)
    size = len(data) if dropped_size is None else dropped_size
    limit = walk.max_attachment_bytes
    content_id = _content_id(part)
    if size > limit:
        attachments.append(
            Attachment(filename, ctype, size, None, f"over the size limit of {limit} bytes", content_id)
        )
        return
    attachments.append(Attachment(filename, ctype, size, data, None, content_id))


def _content_id(part: Message) -> str | None:
    value = part.get("content-id")
    if value is None:
        return None
    text = single_line(raw_to_text(str(value), None)).strip().strip("<>").strip()
    return text[:998] or None


def _inner_message(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None


def _message_part(part: Message, ctype: str, in_report: bool, walk: _Walk) -> None:
    inner = _inner_message(part)
    if in_report and inner is not None:
        walk.found.report.note_returned_message(inner)
    name = _filename(part, walk.hint)
    if name is None and ctype in ("message/rfc822", "message/global"):
        subject = decode_header(str(inner.get("subject", "")), walk.hint) if inner is not None else ""
        name = f"{subject[: MAX_FILENAME - 4]}.eml" if subject else "forwarded.eml"
    data = _message_bytes(inner) if inner is not None else _payload_bytes(part, walk)
    _attachment(part, ctype, name, data, walk)


# ---------------------------------------------------------------- assembly


def _choose_text(found: _Collected) -> tuple[str, str | None, bool]:
    html = "\n".join(found.htmls) if found.htmls else None
    plain = "\n\n".join(text for text in found.texts if text.strip())
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


def _build(raw: bytes, max_attachment_bytes: int) -> InboundMail:
    digest = hashlib.sha256(raw).hexdigest()
    try:
        return _build_once(raw, digest, max_attachment_bytes, keep=True)
    except NotExact:
        pass  # outside the handler, so the first attempt's frame (and its decoded parts) is freed first
    return _build_once(raw, digest, max_attachment_bytes, keep=False)


def _build_once(raw: bytes, digest: str, max_attachment_bytes: int, *, keep: bool) -> InboundMail:
    """The message; `NotExact` when a kept base64 run was not exactly one part's body (see `bodybytes`)."""
    defects: list[str] = []
    trimmed, bodies = cut_base64(raw, max_attachment_bytes, digest[:16], keep)
    message = _parse_tree(_strip_preamble(trimmed), defects)
    del trimmed  # the parser holds what it needs; the cut copy can go before the walk decodes
    hint = charset_hint(message)
    walk = _Walk(max_attachment_bytes=max_attachment_bytes, hint=hint, bodies=bodies)
    _visit_tree(message, walk)
    bodies.check_all_used()
    found = walk.found
    text, html, from_html = _choose_text(found)
    message_id = first_id(raw_to_text(first_header(message, "message-id") or "", None))
    if message_id is None:
        defects.append("missing or invalid Message-ID")
    return InboundMail(
        message_id=message_id or f"<{digest[:32]}@maild.invalid>",
        message_id_synthesized=message_id is None,
        from_addr=single_address(header_values(message, "from"), hint, defects, "From"),
        sender=single_address(header_values(message, "sender"), hint, defects, "Sender"),
        reply_to=address_list(header_values(message, "reply-to"), hint, defects, "Reply-To"),
        to=address_list(header_values(message, "to"), hint, defects, "To"),
        cc=address_list(header_values(message, "cc"), hint, defects, "Cc"),
        delivered_to=bare_addresses(
            [value for name in _ADDRESS_HEADERS_DELIVERY for value in header_values(message, name)]
        ),
        subject=decode_header((first_header(message, "subject") or "")[:MAX_HEADER_VALUE], hint),
        date=parse_date(first_header(message, "date"), defects),
        in_reply_to=id_list(header_values(message, "in-reply-to")),
        references=id_list(header_values(message, "references")),
        headers=header_list(message, hint, defects),
        text=text,
        html=html,
        text_from_html=from_html,
        content_type=_content_type(message),
        body_charset=found.charset,
        attachments=tuple(found.attachments),
        report_type=found.report.report_type,
        report_original_message_ids=tuple(dict.fromkeys(found.report.original_ids)),
        report_failed_recipients=tuple(dict.fromkeys(found.report.failed)),
        raw_size=len(raw),
        raw_sha256=digest,
        defects=tuple(dict.fromkeys(defects + found.defects)),
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
