"""The sending child of a big `run --once`: its frames, its imports, its sender, and the parent's fallback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from maild.app import App
from maild.config import load_settings
from maild.daemon.pipesender import GONE, PipeSender
from maild.daemon.sendpipe import ChildReport, encode_frame, read_frame
from maild.daemon.sendproc import build_sender, serve
from maild.outbound.smtp import Envelope, SendResult

CONFIG = """
[database]
url = "sqlite:///{db}"

[mailbox]
protocol = "imap"
host = "127.0.0.1"
port = 10143
security = "none"
username = "support"
password = "secret"

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
username = "maild"
password = "smtp-secret"
connections = 3
timeout = "7s"

[support]
address = "support@example.com"
name = "Example Support"
secret = "{secret}"

[sla.initial_response]
"1" = "1h"
"""

HEAVY = ("sqlalchemy", "jinja2", "imapclient", "maild.store", "maild.app", "maild.cases", "maild.inbound")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "maild.toml"
    path.write_text(CONFIG.format(db=tmp_path / "maild.db", secret="x" * 32), encoding="utf-8")
    return path


def _envelopes(n: int) -> list[Envelope]:
    return [
        Envelope("support@example.com", f"u{i}@example.com", b"Subject: x\r\n\r\n" + bytes(i))
        for i in range(n)
    ]


def _read_all(data: bytes) -> list[object]:
    async def read() -> list[object]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        frames = []
        while (frame := await read_frame(reader)) is not None:
            frames.append(frame)
        return frames

    return asyncio.run(read())


def test_frames_carry_envelopes_results_and_the_report_as_they_are() -> None:
    envelopes = [*_envelopes(3), Envelope("a@example.com", "b@example.com", bytes(range(256)) * 300)]
    results = [SendResult("sent", 250, "250 ok"), SendResult("transient", None, "timeout", attempted=False)]
    data = (
        encode_frame((7, envelopes)) + encode_frame((7, results)) + encode_frame(ChildReport(3, 1.5, 30000))
    )
    assert _read_all(data) == [(7, envelopes), (7, results), ChildReport(3, 1.5, 30000)]
    # The message bytes go through as bytes: no text encoding on the way.
    assert bytes(range(256)) * 300 in data


def test_a_frame_cut_short_is_the_end_of_the_pipe() -> None:
    whole = encode_frame((1, _envelopes(2)))
    assert _read_all(whole + whole[:-3]) == [(1, _envelopes(2))]
    assert _read_all(b"") == []


def test_the_child_imports_no_database_templates_or_mailbox_library(config: Path) -> None:
    script = (
        "import sys\n"
        "from maild.daemon import sendproc\n"
        f"settings = sendproc.load_settings(sendproc.config_path({str(config)!r}))\n"
        "sender = sendproc.build_sender(settings, token_name='smtp', login_command='x')\n"
        f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (run.returncode, run.stdout.strip()) == (0, "[]"), run.stderr


def test_the_child_builds_the_sender_the_parent_would(config: Path) -> None:
    settings = load_settings(config)
    app = App(settings)
    try:
        parent = app.make_sender()
    finally:
        app.close()
    child = build_sender(settings, token_name="smtp", login_command="x")
    for name in ("host", "port", "security", "timeout", "connections", "_local_hostname"):
        assert getattr(child, name) == getattr(parent, name), name
    assert child._login == parent._login
    assert child.connections == 3


class _Slow:
    """A sender that answers after a moment, recording how many calls overlapped."""

    connections = 2

    def __init__(self) -> None:
        self.busy = 0
        self.most = 0
        self.closed = False

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[SendResult]:
        self.busy += 1
        self.most = max(self.most, self.busy)
        await asyncio.sleep(0.05)
        self.busy -= 1
        return [SendResult("sent", 250, f"250 {e.rcpt}") for e in envelopes]

    async def close(self) -> None:
        self.closed = True


def test_the_child_serves_requests_at_once_and_finishes_what_it_was_handed(tmp_path: Path) -> None:
    out = tmp_path / "answers"
    sender = _Slow()

    async def run() -> ChildReport:
        requests = asyncio.StreamReader()
        requests.feed_data(encode_frame((1, _envelopes(2))) + encode_frame((2, _envelopes(3))))
        requests.feed_eof()  # the parent is gone right after handing both over
        with out.open("wb") as f:
            return await serve(sender, requests, f.fileno())

    report = asyncio.run(run())
    assert report.sent == 5
    assert sender.most == 2 and sender.closed
    answers = _read_all(out.read_bytes())
    assert sorted((i, len(r)) for i, r in answers) == [(1, 2), (2, 3)]  # type: ignore[misc]


class _Fallback(_Slow):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[SendResult]:
        self.calls.append(len(envelopes))
        return await super().send_many(envelopes)


def _pipe(code: str, fallback: _Fallback) -> PipeSender:
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return PipeSender(proc, fallback)


def test_a_child_that_dies_with_a_round_in_hand_gives_transient_results_then_the_parent_sends() -> None:
    fallback = _Fallback()
    # Reads a little of the first request and dies: the round in hand is lost.
    pipe = _pipe("import sys; sys.stdin.buffer.read(8); sys.exit(3)", fallback)

    async def run() -> tuple[list[SendResult], list[SendResult], ChildReport | None]:
        try:
            lost = await pipe.send_many(_envelopes(2))
            later = await pipe.send_many(_envelopes(3))
            return lost, later, await pipe.finish()
        finally:
            pipe.kill()

    lost, later, report = asyncio.run(run())
    assert [(r.outcome, r.detail, r.attempted) for r in lost] == [("transient", GONE, True)] * 2
    assert [r.outcome for r in later] == ["sent"] * 3
    assert fallback.calls == [3]
    assert report is None
    assert pipe.connections == fallback.connections and not pipe.alive


def test_a_child_that_breaks_the_protocol_is_killed_and_the_parent_sends() -> None:
    fallback = _Fallback()
    pipe = _pipe(
        "import sys, time; sys.stdout.buffer.write(b'\\0\\0\\0\\3abc'); sys.stdout.flush(); time.sleep(30)",
        fallback,
    )

    async def run() -> list[SendResult]:
        try:
            first = await pipe.send_many(_envelopes(1))
            return first + await pipe.send_many(_envelopes(1))
        finally:
            pipe.kill()

    results = asyncio.run(run())
    assert [r.outcome for r in results][-1] == "sent"
    assert pipe.proc.returncode is not None
