"""SmtpSender against real aiosmtpd servers on 127.0.0.1: delivery, failures, reconnects, throughput.

The plain cases use maild's own SinkServer; recipient refusals, slow and
idle-dropping servers use bare aiosmtpd Controllers (tests/integration/
smtp_servers.py; TLS and AUTH are in test_smtp_security.py). Every test
drives the sender through `asyncio.run`, as the dispatcher will, and checks
what the server saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from maild.demo.sink import SinkServer
from maild.outbound import smtp as smtp_module
from maild.outbound.smtp import Envelope, SendResult, SmtpSender
from tests.integration.smtp_servers import (
    Recorder,
    StartServer,
    envelope,
    free_port,
    mail,
    send,
    sink_process,
)

pytestmark = pytest.mark.timeout(120)


# --- delivery -----------------------------------------------------------------------------


def test_delivers_exact_envelope_and_bytes(sink: SinkServer) -> None:
    tricky = (
        "Line one.\r\n.leading dot survives\r\n..two dots\r\nnon-ASCII: こんにちは Ünïcødé\r\n" + "x" * 900
    )
    envelopes = [
        envelope(1),
        envelope(2, tricky),
        Envelope("", "postmaster@example.test", mail(3)),  # null reverse-path, as for bounces
        Envelope("bounce@example.test", "ユーザー@例え.テスト", mail(4)),
    ]
    results = send(SmtpSender("127.0.0.1", sink.port, "none", local_hostname="maild.test"), envelopes)

    assert [r.outcome for r in results] == ["sent"] * 4
    assert all(r.code == 250 and r.detail.startswith("250 2.0.0") for r in results)
    got = sink.wait_for(4, timeout=5)
    # aiosmtpd reports the null reverse-path as "<>"
    assert [(m.mail_from, m.rcpt_tos, m.raw) for m in got] == [
        (e.mail_from or "<>", [e.rcpt], e.data) for e in envelopes
    ]
    assert got[1].msg["Subject"] == "[Case #00000002] test"
    assert "こんにちは" in got[1].msg.get_content()


def test_reuses_one_connection_across_calls(sink: SinkServer) -> None:
    sender = SmtpSender("127.0.0.1", sink.port, "none", local_hostname="maild.test")

    async def run() -> list[list[SendResult]]:
        batches = []
        for start in (0, 5, 10):
            batches.append(await sender.send_many([envelope(n) for n in range(start, start + 5)]))
        await sender.close()
        return batches

    batches = asyncio.run(run())
    assert all(r.outcome == "sent" for batch in batches for r in batch)
    assert len(sink.wait_for(15, timeout=5)) == 15
    assert sink.sessions == 1


def test_pool_spreads_over_connections_and_keeps_input_order(sink: SinkServer) -> None:
    envelopes = [envelope(n) for n in range(40)]
    sink.fail_next(550, 1)  # one answer that must land at its own index
    results = send(
        SmtpSender("127.0.0.1", sink.port, "none", local_hostname="m.test", connections=4), envelopes
    )

    assert sink.sessions == 4
    rejected = sink.rejected()
    assert len(rejected) == 1
    bad = int(rejected[0].rcpt_tos[0].removeprefix("user").split("@")[0])
    assert results[bad].outcome == "permanent"
    assert [r.outcome for i, r in enumerate(results) if i != bad] == ["sent"] * 39
    assert sorted(m.raw for m in sink.wait_for(39, timeout=5)) == sorted(
        e.data for i, e in enumerate(envelopes) if i != bad
    )


def test_451_is_transient_and_the_session_carries_on(sink: SinkServer) -> None:
    sink.fail_next(451, 1)
    results = send(SmtpSender("127.0.0.1", sink.port, "none"), [envelope(1), envelope(2)])

    assert results[0] == SendResult(
        "transient", 451, "451 4.3.0 Temporary local problem, try again later (injected by maild sink)"
    )
    assert results[1].outcome == "sent"
    assert [m.rcpt_tos for m in sink.messages()] == [["user2@example.test"]]
    assert sink.sessions == 1


def test_550_is_permanent_with_the_servers_text(sink: SinkServer) -> None:
    sink.fail_next(550, 1)
    (result,) = send(SmtpSender("127.0.0.1", sink.port, "none"), [envelope(1)])

    assert result == SendResult(
        "permanent", 550, "550 5.7.1 Message rejected permanently (injected by maild sink)"
    )
    assert len(sink.rejected()) == 1


def test_recipient_refusals_follow_their_code(start_server: StartServer) -> None:
    recorder, port = start_server()
    envelopes = [
        Envelope("a@example.test", "gone@example.test", mail(1)),
        Envelope("a@example.test", "full@example.test", mail(2)),
        Envelope("a@example.test", "ok@example.test", mail(3)),
    ]
    results = send(SmtpSender("127.0.0.1", port, "none"), envelopes)

    assert [(r.outcome, r.code) for r in results] == [("permanent", 550), ("transient", 452), ("sent", 250)]
    assert "User unknown" in results[0].detail
    assert [r.rcpt_tos for r in recorder.received] == [["ok@example.test"]]
    assert len(recorder.connections) == 1  # RSET kept the session usable


def test_injected_421_reconnects_once_transparently(sink: SinkServer) -> None:
    sink.fail_next(421, 1)
    (first,) = send(SmtpSender("127.0.0.1", sink.port, "none"), [envelope(1)])
    assert first.outcome == "sent"
    assert len(sink.rejected()) == 1 and len(sink.messages()) == 1
    assert sink.sessions == 2

    sink.fail_next(421, 2)
    (second,) = send(SmtpSender("127.0.0.1", sink.port, "none"), [envelope(2)])
    assert second.outcome == "transient"
    assert second.code == 421
    assert "421" in second.detail


# --- a server that is down, restarted or drops idle sessions ------------------------------


def test_server_down_is_reported_transient_quickly() -> None:
    port = free_port()
    sender = SmtpSender("127.0.0.1", port, "none", timeout=5, connections=2)
    started = time.monotonic()
    results = send(sender, [envelope(n) for n in range(10)])
    elapsed = time.monotonic() - started

    assert [r.outcome for r in results] == ["transient"] * 10
    assert all(r.code is None for r in results)
    assert f"connect to 127.0.0.1:{port} failed after 3 attempts" in results[0].detail
    assert "refused" in results[0].detail.lower()
    assert elapsed < 5, f"a dead server took {elapsed:.1f}s to report"


def test_server_restart_between_batches_reconnects(tmp_path: Path) -> None:
    first = SinkServer(tmp_path / "sink").start()
    port = first.port
    sender = SmtpSender("127.0.0.1", port, "none")
    restarted: list[SinkServer] = []

    async def run() -> tuple[list[SendResult], list[SendResult]]:
        one = await sender.send_many([envelope(1), envelope(2)])
        # Restart without yielding to the event loop: the pooled session still
        # looks connected, so the drop is discovered only when MAIL is sent.
        first.stop()
        restarted.append(SinkServer(tmp_path / "sink", port=port).start())
        two = await sender.send_many([envelope(3), envelope(4)])
        await sender.close()
        return one, two

    try:
        one, two = asyncio.run(run())
    finally:
        for server in restarted:
            server.stop()
    assert [r.outcome for r in one + two] == ["sent"] * 4
    assert restarted[0].sessions == 1
    assert [m.rcpt_tos[0] for m in restarted[0].messages()] == [f"user{n}@example.test" for n in (1, 2, 3, 4)]


def test_session_closed_by_idle_timeout_is_replaced(start_server: StartServer) -> None:
    recorder, port = start_server(timeout=0.3)
    sender = SmtpSender("127.0.0.1", port, "none")

    async def run() -> list[SendResult]:
        results = await sender.send_many([envelope(1)])
        await asyncio.sleep(0.8)  # the server hangs up meanwhile
        results += await sender.send_many([envelope(2)])
        await sender.close()
        return results

    results = asyncio.run(run())
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert len(recorder.connections) == 2
    assert [r.rcpt_tos for r in recorder.received] == [["user1@example.test"], ["user2@example.test"]]


def test_idle_session_is_probed_before_use(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp_module, "_IDLE_PROBE_AFTER", 0.0)
    recorder, port = start_server()
    sender = SmtpSender("127.0.0.1", port, "none")

    async def run() -> list[SendResult]:
        results = await sender.send_many([envelope(1)])
        results += await sender.send_many([envelope(2)])
        await sender.close()
        return results

    results = asyncio.run(run())
    assert [r.outcome for r in results] == ["sent", "sent"]
    assert recorder.noops >= 1
    assert len(recorder.connections) == 1


def test_timeout_after_data_is_transient_and_not_resent(start_server: StartServer) -> None:
    # The server may have taken the message before its answer went missing:
    # resending at once would risk a duplicate, so the outbox's backoff decides.
    recorder, port = start_server(Recorder(data_delay=1.5))
    started = time.monotonic()
    (result,) = send(SmtpSender("127.0.0.1", port, "none", timeout=0.5), [envelope(1)])

    assert result.outcome == "transient"
    assert result.code is None
    assert result.detail.startswith("timeout: ")
    assert time.monotonic() - started < 1.4
    time.sleep(0.3)  # room for a resend to arrive, were there one
    assert len(recorder.received) == 1


def test_cancelled_send_does_not_poison_the_pool(start_server: StartServer) -> None:
    recorder, port = start_server(Recorder(data_delay=0.5))
    sender = SmtpSender("127.0.0.1", port, "none")

    async def run() -> list[SendResult]:
        task = asyncio.create_task(sender.send_many([envelope(1)]))
        await asyncio.sleep(0.25)  # the server is sitting on DATA now
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        recorder.data_delay = 0.0
        results = await sender.send_many([envelope(2)])
        await sender.close()
        return results

    (result,) = asyncio.run(run())
    assert result.outcome == "sent", result.detail
    assert len(recorder.connections) == 2  # the half-used session was not reused
    assert recorder.received[-1].rcpt_tos == ["user2@example.test"]


# --- throughput (printed, not asserted on time) -------------------------------------------


async def _timedsend_all(sender: SmtpSender, envelopes: list[Envelope], warm_up: int) -> float:
    """Seconds to send all but the first `warm_up` envelopes, which open the sessions unmeasured."""
    await sender.send_many(envelopes[:warm_up])
    started = time.perf_counter()
    results = await sender.send_many(envelopes[warm_up:])
    elapsed = time.perf_counter() - started
    await sender.close()
    assert all(r.outcome == "sent" for r in results)
    return elapsed


def test_throughput(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The sink runs in its own process: in this one it would share the GIL
    # with the sender and measure the convoy rather than the sender.
    count = 1000
    body = "A notification body of ordinary size.\r\n" * 40
    rates = {}
    for connections in (1, 4):
        directory = tmp_path / f"sink{connections}"
        envelopes = [envelope(n, body) for n in range(count)]
        with sink_process(directory) as (_, port):
            sender = SmtpSender("127.0.0.1", port, "none", local_hostname="m.test", connections=connections)
            elapsed = asyncio.run(_timedsend_all(sender, envelopes, warm_up=connections))
            rates[connections] = (count - connections) / elapsed
            stored = SinkServer(directory).messages()  # read back from disk, as the demo does
        assert sorted(m.raw for m in stored) == sorted(e.data for e in envelopes)
    with capsys.disabled():
        print(f"\nSMTP throughput to the sink: {rates[1]:.0f} msg/s on 1 connection, {rates[4]:.0f} on 4")
