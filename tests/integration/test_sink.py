"""maild's SMTP sink (maild/demo/sink.py): as its own process, loopback only, numbering, index reading."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from maild.demo.sink import SinkServer
from maild.outbound.smtp import SmtpSender
from tests.integration.smtp_servers import envelope, mail, send, sink_process

pytestmark = pytest.mark.timeout(120)


def test_sink_runs_as_a_process(tmp_path: Path) -> None:
    with sink_process(tmp_path) as (proc, port):
        (result,) = send(SmtpSender("127.0.0.1", port, "none"), [envelope(7)])
        assert result.outcome == "sent"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert (tmp_path / "msgs" / "00000001.eml").read_bytes() == mail(7)
    (meta,) = [json.loads(line) for line in (tmp_path / "msgs" / "index.jsonl").read_bytes().splitlines()]
    assert meta["seq"] == 1
    assert (meta["mail_from"], meta["rcpt_tos"], meta["code"]) == (
        "bounce+7@example.test",
        ["user7@example.test"],
        250,
    )


def test_sink_refuses_a_non_loopback_address(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SinkServer(tmp_path, host="0.0.0.0")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "maild.demo.sink",
            "--dir",
            str(tmp_path),
            "--port",
            "0",
            "--host",
            "192.0.2.1",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=30,
    )
    assert done.returncode == 2
    assert "loopback" in done.stderr


def test_sink_keeps_numbering_across_restarts(tmp_path: Path) -> None:
    with SinkServer(tmp_path) as first:
        send(SmtpSender("127.0.0.1", first.port, "none"), [envelope(1)])
    with SinkServer(tmp_path) as second:
        send(SmtpSender("127.0.0.1", second.port, "none"), [envelope(2)])
        assert [m.seq for m in second.messages()] == [1, 2]
        second.clear()
        assert second.messages() == []
        assert list((tmp_path / "msgs").glob("*.eml")) == []
        with pytest.raises(TimeoutError):
            second.wait_for(1, timeout=0.2)
    with SinkServer(tmp_path) as third:
        send(SmtpSender("127.0.0.1", third.port, "none"), [envelope(3)])
        (message,) = third.messages()
        assert message.seq == 3, "numbering carries on after a clear and a restart"
        assert message.raw == mail(3)


def test_a_sink_reader_skips_the_index_line_still_being_written(tmp_path: Path) -> None:
    with SinkServer(tmp_path) as sink:
        send(SmtpSender("127.0.0.1", sink.port, "none"), [envelope(1), envelope(2)])
        index = tmp_path / "msgs" / "index.jsonl"
        complete = index.read_bytes()
        index.write_bytes(complete + b'{"seq": 3, "time": 1.0, "mail_')
        assert [m.seq for m in sink.messages()] == [1, 2]
        assert [m.raw for m in sink.messages()] == [mail(1), mail(2)]
