"""The pipe between a big `maild run --once` and its sending child: frames and the child's report.

A frame is a 4-byte big-endian length, then a pickle: both ends are our
own processes of one installation, and the message bytes go through as
they are (never re-encoded as text). The parent (maild.daemon.pipesender)
writes `(request id, [Envelope, …])`; the child (maild.daemon.sendproc)
answers `(request id, [SendResult, …])` and, last, its `ChildReport`.
Kept apart from both ends so that the classes pickled have one home, not
`__main__` of the child.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass

from maild.outbound.smtp import Envelope, SendResult

__all__ = ["Answer", "ChildReport", "Request", "encode_frame", "read_frame"]

_LENGTH = struct.Struct(">I")

Request = tuple[int, list[Envelope]]
Answer = tuple[int, list[SendResult]]


@dataclass
class ChildReport:
    """The child's last frame: what it sent, and what it cost."""

    sent: int = 0
    cpu_seconds: float = 0.0  # the child's own user + system time: where a pass's CPU went
    peak_rss_kib: int = 0  # the child's VmHWM, so both processes' memory can be added up


def encode_frame(obj: Request | Answer | ChildReport) -> bytes:
    """One frame: the pickle's length (4 bytes, big-endian), then the pickle."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> object | None:
    """The next frame's object; None at the end of the pipe (a frame cut short counts as the end)."""
    try:
        (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        data = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None
    obj: object = pickle.loads(data)
    return obj
