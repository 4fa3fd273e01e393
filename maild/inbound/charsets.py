"""Bytes to text for mail, whatever the charset label claims.

Owns the one decision every part of the parser needs: which codec turns a
run of bytes into readable text. Mail labels lie (Shift_JIS that is really
CP932, ISO-2022-JP carrying CP932 or JIS X 0213 characters, "us-ascii" with
8-bit bytes, made-up names), so a label is a first guess, detection is the
second, and a lossy decode is the last resort. Single-byte labels lie among
themselves (Windows-1251 labelled ISO-8859-1 or KOI8-R, Windows-1250 or
ISO-8859-15 labelled ISO-8859-1) and every such codec decodes any bytes, so
their decodings are compared by `maild.inbound.charset_guess.badness`, which
also picks the charset of unlabelled text. The result is always a valid
``str``: no exception, no lone surrogates.
"""

from __future__ import annotations

import codecs
import re
from typing import Literal

from maild.inbound.charset_guess import SINGLE_BYTE, UNLABELLED, badness, best_decoding

# Carrier and Windows mail sends CP932 extensions (circled digits, NEC and
# IBM rows) inside ISO-2022-JP, which no Python codec accepts; this pseudo
# codec re-encodes the JIS bytes as Shift_JIS and decodes them as CP932.
_JIS_AS_CP932 = "x-maild-iso2022jp-cp932"

# Labels whose bytes are, in practice, a superset encoding: each row names
# the labels, then the codecs in the order of strict attempts.
_ALIAS_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("shift_jis", "shift-jis", "sjis", "x-sjis", "shift_jis_2004"), ("cp932", "shift_jis_2004")),
    (("shift_jisx0213",), ("cp932", "shift_jisx0213")),
    (("s-jis", "ms_kanji", "csshiftjis", "windows-31j", "cp932", "ms932"), ("cp932",)),
    (
        ("iso-2022-jp", "csiso2022jp"),
        ("iso2022_jp", _JIS_AS_CP932, "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_2"),
    ),
    (("iso-2022-jp-1",), ("iso2022_jp_1", "iso2022_jp_ext", "iso2022_jp_2004")),
    (("iso-2022-jp-2",), ("iso2022_jp_2", "iso2022_jp_2004")),
    (("iso-2022-jp-3",), ("iso2022_jp_3", "iso2022_jp_2004")),
    (("euc-jp", "x-euc-jp", "cseucpkdfmtjapanese"), ("euc_jp", "euc_jis_2004")),
    (("gb2312", "gbk", "x-gbk", "cp936", "gb18030", "euc-cn"), ("gb18030",)),
    (("big5", "x-big5"), ("big5hkscs", "cp950")),
    (("big5-hkscs",), ("big5hkscs",)),
    (("ks_c_5601-1987", "ks_c_5601", "euc-kr"), ("cp949",)),
    (("iso-8859-8-i",), ("iso8859_8",)),
    (("iso-8859-6-i",), ("iso8859_6",)),
    (("x-mac-cyrillic",), ("mac_cyrillic",)),
    (("x-mac-roman", "macintosh"), ("mac_roman",)),
    (("tis-620", "windows-874"), ("cp874",)),
    # WHATWG: these labels mean windows-1252 in practice. UTF-8 is tried
    # first because "us-ascii" on UTF-8 bytes is the commonest mislabel.
    (("us-ascii", "ascii"), ("ascii", "utf-8", "cp1252")),
    (("iso-8859-1", "latin1", "latin-1"), ("utf-8", "cp1252")),
    (("utf8", "utf-8"), ("utf-8",)),
)
_ALIASES: dict[str, tuple[str, ...]] = {label: codecs for labels, codecs in _ALIAS_GROUPS for label in labels}

# Codecs that are not charsets: they interpret escapes or punycode and would
# let a hostile label produce arbitrary code points or exceptions.
_REFUSED_CODECS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "mbcs", "oem", "charmap"}
)

# Codecs whose bytes are not ASCII-compatible, so ASCII-only input is not
# necessarily ASCII text under them.
_NOT_ASCII_COMPATIBLE = frozenset(
    {"utf-7", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
)

# Labels of single-byte charsets that mail gets wrong among themselves
# (Windows-1251 Russian labelled ISO-8859-1 or KOI8-R, Polish Windows-1250
# labelled ISO-8859-1, ISO-8859-15 € labelled ISO-8859-1): their decoding
# is checked against the others'. "us-ascii" on 8-bit bytes says nothing.
_SINGLE_BYTE_CODECS = frozenset(codecs.lookup(name).name for name in (*SINGLE_BYTE, "latin_1"))
_EMPTY_LABELS = frozenset({"ascii"})
_ISO2022KR_ESCAPE = b"\x1b$)C"

_DETECT_LIMIT = 64 * 1024
_LABEL_CLEAN = re.compile(r"[^a-z0-9_.:+-]")
_SURROGATES = re.compile("[\ud800-\udfff]")
# A lossy decode is believed when at most this share of its characters are
# replacements: a few damaged bytes in otherwise correctly labelled text.
_TOLERATED_REPLACEMENT_RATIO = 0.01


def clean_text(text: str) -> str:
    """Replace lone surrogates so the string can always be encoded as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def candidates(label: str | None) -> tuple[str, ...]:
    """Python codec names to try strictly for a MIME charset label, best first."""
    if not label:
        return ()
    name = _LABEL_CLEAN.sub("", label.strip().strip("\"'").lower())
    if not name:
        return ()
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return ()
    if info.name in _REFUSED_CODECS or not getattr(info, "_is_text_encoding", True):
        return ()
    return (info.name,)


def _codec_name(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name


_JIS_SHIFT = re.compile(rb"\x1b(\$[@B]|\$\(D|\([BJHI])")


def _jis_pair_to_sjis(j1: int, j2: int) -> bytes:
    s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
    if j1 % 2:
        s2 = j2 + 0x1F
        if s2 >= 0x7F:
            s2 += 1
    else:
        s2 = j2 + 0x7E
    return bytes((s1, s2))


def _jis_to_sjis(data: bytes) -> bytes | None:
    """Re-encode ISO-2022-JP bytes as Shift_JIS, or None if they are not JIS."""
    if not data.isascii():
        return None
    out = bytearray()
    mode = b"(B"
    pos = 0
    for match in _JIS_SHIFT.finditer(data):
        out += _jis_segment(data[pos : match.start()], mode)
        mode = match.group(1)
        pos = match.end()
    out += _jis_segment(data[pos:], mode)
    return bytes(out)


def _jis_segment(chunk: bytes, mode: bytes) -> bytes:
    if mode in (b"$@", b"$B", b"$(D"):
        pairs = bytearray()
        for index in range(0, len(chunk) - 1, 2):
            j1, j2 = chunk[index], chunk[index + 1]
            if 0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E:
                pairs += _jis_pair_to_sjis(j1, j2)
            else:
                pairs += chunk[index : index + 2]
        return bytes(pairs)
    if mode == b"(I":
        return bytes(byte + 0x80 if 0x21 <= byte <= 0x5F else byte for byte in chunk)
    return chunk


def _decode(data: bytes, codec: str, errors: Literal["strict", "replace"]) -> str | None:
    """`data` in one codec (or the JIS-as-CP932 pseudo codec), or None when the codec refuses it."""
    if codec == _JIS_AS_CP932:
        sjis = _jis_to_sjis(data)
        return None if sjis is None else _decode(sjis, "cp932", errors)
    try:
        return data.decode(codec, errors)
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        return None


def detect(data: bytes) -> str | None:
    """The codec charset-normalizer believes in for these bytes, or None.

    Only a prefix is examined: detection is the slow path and a prefix is
    as telling as the whole for mail-sized text.
    """
    if b"\x1b$" in data[:_DETECT_LIMIT]:
        for codec in _ALIASES["iso-2022-jp"]:
            if _decode(data, codec, "strict") is not None:
                return codec
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:_DETECT_LIMIT]).best()
    except Exception:  # detection is advisory; any failure means "unknown"
        return None
    if best is None:
        return None
    encoding = str(best.encoding)
    # Prefer the superset a label would map to (Shift_JIS bytes are CP932).
    encoding = next(iter(candidates(encoding)), encoding)
    name = _codec_name(encoding)
    if name in _REFUSED_CODECS or (name in _NOT_ASCII_COMPATIBLE and b"\x00" not in data[:_DETECT_LIMIT]):
        # UTF-16/32 without a single NUL byte is a detector's guess on too
        # little text, and turns any bytes into CJK-looking nonsense.
        return None
    return encoding


def _few_replacements(text: str) -> bool:
    if not text:
        return True
    return text.count("\ufffd") <= max(1, int(len(text) * _TOLERATED_REPLACEMENT_RATIO))


def decode_bytes(data: bytes, label: str | None = None, *, hint: str | None = None) -> str:
    """Decode mail bytes to text, never raising.

    Order: for ASCII-only bytes ASCII; the label's codecs strictly (for a
    single-byte label: UTF-8 first, then the label unless another
    single-byte charset reads clearly better); for no label (or
    "us-ascii"): UTF-8, the `hint` (another label from the same message),
    the most plausible strict decoding; then the label with replacement
    characters, detection, UTF-8 with replacement characters. A damaged
    but correctly labelled text keeps its label when only a few bytes are
    bad, because detection on such text tends to pick a wrong codec.
    """
    if not data:
        return ""
    tried = candidates(label)
    if not tried and _ISO2022KR_ESCAPE in data:
        tried = ("iso2022_kr",)
    elif not tried and b"\x1b$" in data:
        tried = _ALIASES["iso-2022-jp"]
    elif tried and _codec_name(tried[0]) in _EMPTY_LABELS and not data.isascii():
        tried = ()
    if not data.isascii() and (not tried or _codec_name(tried[-1]) in _SINGLE_BYTE_CODECS):
        text = _by_plausibility(data, tried, hint)
        if text is not None:
            return clean_text(text)
    text = _by_label(data, tried)
    return clean_text(text if text is not None else _by_guess(data, tried, hint))


def _by_plausibility(data: bytes, tried: tuple[str, ...], hint: str | None) -> str | None:
    """8-bit bytes with a single-byte label or none: UTF-8, the label or hint, or what reads best."""
    found = _plausible(data, tried, hint)
    return found[1] if found is not None else None


def _plausible(data: bytes, tried: tuple[str, ...], hint: str | None) -> tuple[str, str] | None:
    utf8 = _decode(data, "utf-8", "strict")
    if utf8 is not None:
        return "utf-8", utf8
    if not tried:
        for codec in candidates(hint):
            text = _decode(data, codec, "strict")
            if text is not None:
                return codec, text
    strict = ((codec, _decode(data, codec, "strict")) for codec in tried)
    labelled = next(((codec, text) for codec, text in strict if text is not None), None)
    if labelled is None:
        return _unlabelled(data)
    if _codec_name(labelled[0]) not in _SINGLE_BYTE_CODECS:
        return labelled
    guessed = best_decoding(data, SINGLE_BYTE, labelled[1])
    return guessed if guessed is not None else labelled


def _unlabelled(data: bytes) -> tuple[str, str] | None:
    """The best of the usual charsets, or the detector's pick where it reads better (Greek, Turkish, Thai)."""
    guessed = best_decoding(data, UNLABELLED)
    if guessed is not None and badness(guessed[1]) == 0:
        return guessed
    detected = detect(data)
    text = _decode(data, detected, "strict") if detected else None
    if detected and text is not None and (guessed is None or badness(text) < badness(guessed[1])):
        return detected, text
    return guessed


def plausible_codec(data: bytes, label: str | None) -> str | None:
    """The codec `decode_bytes` would read 8-bit `data` with strictly, or None if no strict decoding.

    Used to pick one codec for all of a message's raw 8-bit headers, which
    are judged together because one short header is too little to tell.
    """
    tried = candidates(label)
    if tried and _codec_name(tried[0]) in _EMPTY_LABELS:
        tried = ()
    found = _plausible(data, tried, None)
    return found[0] if found is not None else None


def _by_label(data: bytes, tried: tuple[str, ...]) -> str | None:
    """The decoding the label (or plain ASCII) gives; always one for ASCII-only bytes."""
    ascii_safe = not tried or _codec_name(tried[0]) not in _NOT_ASCII_COMPATIBLE
    if ascii_safe and data.isascii() and b"\x1b" not in data:
        return data.decode("ascii")
    for codec in tried:
        text = _decode(data, codec, "strict")
        if text is not None:
            return text
    if data.isascii():
        # Only escapes or a 7-bit label failed: UTF-8 or detection would
        # return the escape bytes verbatim, so decode lossily by the label.
        lossy = _decode(data, _JIS_AS_CP932 if _JIS_AS_CP932 in tried or not tried else tried[0], "replace")
        return lossy if lossy is not None else data.decode("ascii")
    return None


def _by_guess(data: bytes, tried: tuple[str, ...], hint: str | None) -> str:
    """8-bit bytes the label does not decode: UTF-8, the hint, the label lossily, detection."""
    for codec in ("utf-8", *candidates(hint)):
        if codec not in tried:
            text = _decode(data, codec, "strict")
            if text is not None:
                return text
    # Python's ISO-2022-JP decoder, when lossy, drops escapes and emits the
    # JIS bytes as ASCII; the CP932 route keeps every decodable character.
    lossy_order = sorted(tried, key=lambda codec: codec != _JIS_AS_CP932)
    labelled = _decode(data, lossy_order[0], "replace") if tried else None
    if labelled is not None and _few_replacements(labelled):
        return labelled
    guessed = _unlabelled(data)
    if guessed is not None:
        return guessed[1]
    detected = detect(data)
    if detected is not None:
        text = _decode(data, detected, "replace")
        if text is not None:
            return text
    return labelled if labelled is not None else data.decode("utf-8", "replace")
