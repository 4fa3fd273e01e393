"""Large base64 bodies kept out of the standard library parser, to bound memory.

The stdlib parser splits a body into one string per line and joins them
again, then `get_payload(decode=True)` copies it twice more, costing about
eight times the body in memory (a 50 MB attachment took 600 MB). So each
large base64 run is cut out of the raw bytes before parsing, and a short
marker line (itself base64) stands in for it:

* A run too large to keep becomes a dropped attachment of the run's decoded
  size (`CutBodies.dropped_size`).
* A run that is kept is decoded straight from the raw bytes, a block at a
  time, when the walk reaches the part whose whole body is its marker
  (`CutBodies.kept_payload`). Markers carry the message's digest, so a
  message cannot forge one. If any kept marker ends up anywhere else (a run
  that was not one part's whole base64 body: a text part, a forwarded
  message, a header), `CutBodies.check_all_used` raises `NotExact` and the
  message is parsed again without cutting kept runs, so the result is
  always what the plain parse gives.

Pure: bytes in, bytes out; the parser owns the MIME tree.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass, field
from email.message import Message

# Possessive (++, ?+): no backtracking state per line, so scanning a huge body costs no memory.
# A run starts only where a line of base64 characters starts (the lookbehind) and each
# line is taken possessively: otherwise every position of a long line without a line
# break rescanned up to 998 characters (a 25 MB such line: about 10^10 steps). Linear.
_B64_RUN = re.compile(
    rb"(?<![A-Za-z0-9+/])(?:[A-Za-z0-9+/]{40,998}+\r?\n)++(?:[A-Za-z0-9+/]{0,998}+={0,2}\r?\n)?+"
)
_CUT_MARKER = re.compile(rb"maild-cut-part-(\d{1,9})")  # bounded: int() of 4,300+ digits raises
_CUT_BELOW = 1 << 20  # runs shorter than this are left alone whatever the limit
_DECODE_BLOCK = 1 << 20  # base64 characters decoded at a time from a kept run
_KEPT_MARKER_MAX = 200  # a part whose payload is longer is no kept marker


class NotExact(Exception):
    """A kept run cannot be decoded the way the standard library would: parse without cutting."""


@dataclass
class CutBodies:
    """The base64 runs taken out of one message's raw bytes, and which kept ones the walk has used."""

    raw: bytes
    dropped: dict[int, int] = field(default_factory=dict)  # dropped marker number -> decoded size
    kept: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # marker -> (start, end) in raw
    used: set[bytes] = field(default_factory=set)

    def kept_payload(self, part: Message) -> bytes | None:
        """The decoded bytes of a base64 body cut out before parsing, or None if this part is not one.

        The test mirrors what `get_payload(decode=True)` would do with the
        original body: the same Content-Transfer-Encoding check (exact,
        lower-cased) and the same joining of lines. The part qualifies only
        when its whole payload is one marker, i.e. the original body was
        exactly the cut run.
        """
        if not self.kept:
            return None
        payload = part.get_payload()
        if not isinstance(payload, str) or len(payload) > _KEPT_MARKER_MAX or not payload.isascii():
            return None
        key = b"".join(payload.encode("ascii").splitlines())
        span = self.kept.get(key)
        if span is None or str(part.get("content-transfer-encoding", "")).lower() != "base64":
            return None
        self.used.add(key)
        return _decode_run(self.raw, *span)

    def dropped_size(self, data: bytes) -> int | None:
        """The decoded size of the dropped run `data` stands for, or None if it is no dropped marker."""
        marker = _CUT_MARKER.fullmatch(data)
        if marker is None:
            return None
        return self.dropped.get(int(marker.group(1)))

    def check_all_used(self) -> None:
        """`NotExact` unless every kept run turned out to be one part's whole body."""
        if self.used != set(self.kept):
            raise NotExact("a kept base64 run was not one part's whole body")


def _run_shape(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """(base64 characters, decoded size) of the run raw[start:end]."""
    newlines = raw.count(b"\n", start, end) + raw.count(b"\r", start, end)
    tail = raw[max(start, end - 4) : end]
    characters = end - start - newlines
    return characters, characters * 3 // 4 - tail.count(b"=")


def cut_base64(raw: bytes, limit: int, nonce: str, keep: bool) -> tuple[bytes, CutBodies]:
    """The bytes for the parser, with every base64 run of at least `_CUT_BELOW` bytes replaced by a marker.

    Runs whose decoded size exceeds `limit` are dropped; smaller ones are kept
    (when `keep`) if their characters form whole base64 quads, which is what
    lets them be decoded exactly like `get_payload(decode=True)` would.
    """
    if len(raw) < (_CUT_BELOW if keep else max(limit, _CUT_BELOW)):
        return raw, CutBodies(raw)
    pieces: list[bytes] = []
    cut = CutBodies(raw)
    last = 0
    for match in _B64_RUN.finditer(raw):
        start, end = match.span()
        if end - start < _CUT_BELOW:
            continue
        characters, size = _run_shape(raw, start, end)
        if size > limit:
            marker = len(cut.dropped)
            cut.dropped[marker] = size
            pieces += [raw[last:start], base64.b64encode(b"maild-cut-part-%d" % marker), b"\r\n"]
        elif keep and characters % 4 == 0:
            token = base64.b64encode(f"maild-keep-part-{nonce}-{len(cut.kept)}".encode())
            cut.kept[token] = (start, end)
            ending = b"\r\n" if raw[end - 2 : end] == b"\r\n" else b"\n"
            pieces += [raw[last:start], token, ending]
        else:
            continue
        last = end
    if not pieces:
        return raw, CutBodies(raw)
    pieces.append(raw[last:])
    return b"".join(pieces), cut


def _decode_run(raw: bytes, start: int, end: int) -> bytes:
    """A kept run's bytes, decoded block by block into one buffer of the final size.

    Equal to `base64.b64decode(run without line breaks, validate=True)`, which is
    what the standard library returns for such a body, without ever holding
    the run as text or as one string without line breaks.
    """
    _characters, size = _run_shape(raw, start, end)
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
        raise NotExact(str(exc)) from exc
    if carry or out.tell() != size:
        raise NotExact("a kept base64 run did not decode to its computed size")
    return out.getvalue()
