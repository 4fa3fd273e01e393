"""SmtpSender against real aiosmtpd servers on 127.0.0.1.

The plain cases use maild's own SinkServer; TLS, STARTTLS, AUTH and
recipient refusals use bare aiosmtpd Controllers with a certificate made by
`openssl` for this run. Every test drives the sender through
`asyncio.run`, as the dispatcher will, and checks what the server saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as ServerEnvelope

from maild.demo.sink import SinkServer
from maild.outbound import smtp as smtp_module
from maild.outbound.smtp import Envelope, SendResult, SmtpSender

pytestmark = pytest.mark.timeout(120)


def _message(n: int, body: str = "Hello.") -> bytes:
    return (
        f"From: Support <support@example.test>\r\n"
        f"To: user{n}@example.test\r\n"
        f"Subject: [Case #{n:08d}] test\r\n"
        f"Message-ID: <m{n}@maild.test>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n"
        f"\r\n"
        f"{body}\r\n"
    ).encode()


def _envelope(n: int, body: str = "Hello.") -> Envelope:
    return Envelope(f"bounce+{n}@example.test", f"user{n}@example.test", _message(n, body))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send(sender: SmtpSender, envelopes: list[Envelope]) -> list[SendResult]:
    async def run() -> list[SendResult]:
        try:
            return await sender.send_many(envelopes)
        finally:
            await sender.close()

    return asyncio.run(run())


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkServer]:
    server = SinkServer(tmp_path / "sink").start()
    try:
        yield server
    finally:
        server.stop()


# --- a bare aiosmtpd server for TLS, AUTH and refusals -------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool


@dataclass
class Recorder:
    """aiosmtpd handler that keeps what it received and refuses recipients by local part."""

    received: list[Received] = field(default_factory=list)
    # One aiosmtpd SMTP object per connection (STARTTLS renews the Session
    # instead), kept alive here so identities are never reused.
    connections: list[SMTP] = field(default_factory=list)
    noops: int = 0
    data_delay: float = 0.0

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: ServerEnvelope, hostname: str, responses: list[str]
    ) -> list[str]:
        if not any(c is server for c in self.connections):
            self.connections.append(server)
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: ServerEnvelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 <gone@example.test>: Recipient address rejected: User unknown"
        if address.startswith("full@"):
            return "452 4.2.2 Mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_NOOP(self, server: SMTP, session: Session, envelope: ServerEnvelope, arg: str) -> str:
        self.noops += 1
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: ServerEnvelope) -> str:
        assert server.transport is not None
        tls = server.transport.get_extra_info("sslcontext") is not None
        self.received.append(
            Received(envelope.mail_from or "", list(envelope.rcpt_tos), envelope.original_content or b"", tls)
        )
        # Recorded first: a slow answer still means the message was taken.
        await asyncio.sleep(self.data_delay)
        return "250 2.0.0 Ok: queued"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (IP SAN), so verification against it can succeed."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


StartServer = Callable[..., tuple[Recorder, int]]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start aiosmtpd Controllers with the given options; all are stopped after the test."""
    controllers: list[Controller] = []

    def start(recorder: Recorder | None = None, **options: Any) -> tuple[Recorder, int]:
        recorder = recorder or Recorder()
        port = _free_port()
        controller = Controller(
            recorder, hostname="127.0.0.1", port=port, server_hostname="test.localhost", **options
        )
        controller.start()
        controllers.append(controller)
        return recorder, port

    yield start
    for controller in controllers:
        controller.stop()


# --- delivery -----------------------------------------------------------------------------


def test_delivers_exact_envelope_and_bytes(sink: SinkServer) -> None:
    tricky = (
        "Line one.\r\n.leading dot survives\r\n..two dots\r\nnon-ASCII: こんにちは Ünïcødé\r\n" + "x" * 900
    )
    envelopes = [
        _envelope(1),
        _envelope(2, tricky),
        Envelope("", "postmaster@example.test", _message(3)),  # null reverse-path, as for bounces
        Envelope("bounce@example.test", "ユーザー@例え.テスト", _message(4)),
    ]
    results = _send(SmtpSender("127.0.0.1", sink.port, "none", local_hostname="maild.test"), envelopes)

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
            batches.append(await sender.send_many([_envelope(n) for n in range(start, start + 5)]))
        await sender.close()
        return batches

    batches = asyncio.run(run())
    assert all(r.outcome == "sent" for batch in batches for r in batch)
    assert len(sink.wait_for(15, timeout=5)) == 15
    assert sink.sessions == 1


def test_pool_spreads_over_connections_and_keeps_input_order(sink: SinkServer) -> None:
    envelopes = [_envelope(n) for n in range(40)]
    sink.fail_next(550, 1)  # one answer that must land at its own index
    results = _send(
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
    results = _send(SmtpSender("127.0.0.1", sink.port, "none"), [_envelope(1), _envelope(2)])

    assert results[0] == SendResult(
        "transient", 451, "451 4.3.0 Temporary local problem, try again later (injected by maild sink)"
    )
    assert results[1].outcome == "sent"
    assert [m.rcpt_tos for m in sink.messages()] == [["user2@example.test"]]
    assert sink.sessions == 1


def test_550_is_permanent_with_the_servers_text(sink: SinkServer) -> None:
    sink.fail_next(550, 1)
    (result,) = _send(SmtpSender("127.0.0.1", sink.port, "none"), [_envelope(1)])

    assert result == SendResult(
        "permanent", 550, "550 5.7.1 Message rejected permanently (injected by maild sink)"
    )
    assert len(sink.rejected()) == 1


def test_recipient_refusals_follow_their_code(start_server: StartServer) -> None:
    recorder, port = start_server()
    envelopes = [
        Envelope("a@example.test", "gone@example.test", _message(1)),
        Envelope("a@example.test", "full@example.test", _message(2)),
        Envelope("a@example.test", "ok@example.test", _message(3)),
    ]
    results = _send(SmtpSender("127.0.0.1", port, "none"), envelopes)

    assert [(r.outcome, r.code) for r in results] == [("permanent", 550), ("transient", 452), ("sent", 250)]
    assert "User unknown" in results[0].detail
    assert [r.rcpt_tos for r in recorder.received] == [["ok@example.test"]]
    assert len(recorder.connections) == 1  # RSET kept the session usable


def test_injected_421_reconnects_once_transparently(sink: SinkServer) -> None:
    sink.fail_next(421, 1)
    (first,) = _send(SmtpSender("127.0.0.1", sink.port, "none"), [_envelope(1)])
    assert first.outcome == "sent"
    assert len(sink.rejected()) == 1 and len(sink.messages()) == 1
    assert sink.sessions == 2

    sink.fail_next(421, 2)
    (second,) = _send(SmtpSender("127.0.0.1", sink.port, "none"), [_envelope(2)])
    assert second.outcome == "transient"
    assert second.code == 421
    assert "421" in second.detail


# --- a server that is down, restarted or drops idle sessions ------------------------------


def test_server_down_is_reported_transient_quickly() -> None:
    port = _free_port()
    sender = SmtpSender("127.0.0.1", port, "none", timeout=5, connections=2)
    started = time.monotonic()
    results = _send(sender, [_envelope(n) for n in range(10)])
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
        one = await sender.send_many([_envelope(1), _envelope(2)])
        # Restart without yielding to the event loop: the pooled session still
        # looks connected, so the drop is discovered only when MAIL is sent.
        first.stop()
        restarted.append(SinkServer(tmp_path / "sink", port=port).start())
        two = await sender.send_many([_envelope(3), _envelope(4)])
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
        results = await sender.send_many([_envelope(1)])
        await asyncio.sleep(0.8)  # the server hangs up meanwhile
        results += await sender.send_many([_envelope(2)])
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
        results = await sender.send_many([_envelope(1)])
        results += await sender.send_many([_envelope(2)])
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
    (result,) = _send(SmtpSender("127.0.0.1", port, "none", timeout=0.5), [_envelope(1)])

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
        task = asyncio.create_task(sender.send_many([_envelope(1)]))
        await asyncio.sleep(0.25)  # the server is sitting on DATA now
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        recorder.data_delay = 0.0
        results = await sender.send_many([_envelope(2)])
        await sender.close()
        return results

    (result,) = asyncio.run(run())
    assert result.outcome == "sent", result.detail
    assert len(recorder.connections) == 2  # the half-used session was not reused
    assert recorder.received[-1].rcpt_tos == ["user2@example.test"]


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("trust", ["verify_off", "ca_file"])
def test_starttls(start_server: StartServer, certificate: tuple[Path, Path], trust: str) -> None:
    recorder, port = start_server(tls_context=_server_context(certificate), require_starttls=True)
    if trust == "ca_file":
        sender = SmtpSender("127.0.0.1", port, "starttls", ca_file=str(certificate[0]))
    else:
        sender = SmtpSender("127.0.0.1", port, "starttls", verify_tls=False)
    results = _send(sender, [_envelope(1), _envelope(2)])

    assert [r.outcome for r in results] == ["sent", "sent"]
    assert [(r.tls, r.data) for r in recorder.received] == [(True, _message(1)), (True, _message(2))]
    assert len(recorder.connections) == 1


@pytest.mark.parametrize("trust", ["verify_off", "ca_file"])
def test_implicit_tls(start_server: StartServer, certificate: tuple[Path, Path], trust: str) -> None:
    recorder, port = start_server(ssl_context=_server_context(certificate))
    if trust == "ca_file":
        sender = SmtpSender("127.0.0.1", port, "tls", ca_file=str(certificate[0]))
    else:
        sender = SmtpSender("127.0.0.1", port, "tls", verify_tls=False)
    results = _send(sender, [_envelope(1)])

    assert results[0].outcome == "sent"
    assert recorder.received[0].tls
    assert recorder.received[0].data == _message(1)


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_untrusted_certificate_is_transient_and_says_so(
    start_server: StartServer, certificate: tuple[Path, Path], security: str
) -> None:
    if security == "tls":
        recorder, port = start_server(ssl_context=_server_context(certificate))
    else:
        recorder, port = start_server(tls_context=_server_context(certificate))
    started = time.monotonic()
    results = _send(SmtpSender("127.0.0.1", port, "tls" if security == "tls" else "starttls"), [_envelope(1)])

    assert results[0].outcome == "transient"
    assert "CERTIFICATE_VERIFY_FAILED" in results[0].detail
    assert "ca_file" in results[0].detail
    assert time.monotonic() - started < 3  # not retried: waiting cannot fix a certificate
    assert recorder.received == []


def test_starttls_required_but_not_offered(sink: SinkServer) -> None:
    results = _send(
        SmtpSender("127.0.0.1", sink.port, "starttls", verify_tls=False), [_envelope(1), _envelope(2)]
    )

    assert [r.outcome for r in results] == ["transient", "transient"]
    assert (
        results[0].detail
        == f"server 127.0.0.1:{sink.port} does not offer STARTTLS, which security = 'starttls' requires"
    )
    assert sink.messages() == []


def test_security_none_never_upgrades(start_server: StartServer, certificate: tuple[Path, Path]) -> None:
    recorder, port = start_server(tls_context=_server_context(certificate))
    results = _send(SmtpSender("127.0.0.1", port, "none"), [_envelope(1)])

    assert results[0].outcome == "sent"
    assert recorder.received[0].tls is False


# --- AUTH ---------------------------------------------------------------------------------


# AUTH without TLS is what these loopback tests mean to do; aiosmtpd warns about it.
_plain_auth_on_loopback = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _authenticator(
    server: SMTP, session: Session, envelope: ServerEnvelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"maild", b"s3cret")
    # handled=False: aiosmtpd answers 535 itself
    return AuthResult(success=ok, handled=False)


@_plain_auth_on_loopback
def test_auth_success(start_server: StartServer) -> None:
    recorder, port = start_server(authenticator=_authenticator, auth_required=True, auth_require_tls=False)
    sender = SmtpSender("127.0.0.1", port, "none", username="maild", password="s3cret")
    results = _send(sender, [_envelope(1)])

    assert results[0].outcome == "sent"
    assert len(recorder.received) == 1


@_plain_auth_on_loopback
def test_auth_failure_is_transient_with_a_clear_detail(start_server: StartServer) -> None:
    recorder, port = start_server(authenticator=_authenticator, auth_required=True, auth_require_tls=False)
    sender = SmtpSender("127.0.0.1", port, "none", username="maild", password="wrong")
    results = _send(sender, [_envelope(1), _envelope(2)])

    assert [r.outcome for r in results] == ["transient", "transient"]
    assert results[0].code == 535
    assert results[0].detail.startswith(f"authentication as 'maild' at 127.0.0.1:{port} failed: 535")
    assert "username and password" in results[0].detail
    assert recorder.received == []


@_plain_auth_on_loopback
def test_auth_required_but_not_given_is_refused_by_the_server(start_server: StartServer) -> None:
    recorder, port = start_server(authenticator=_authenticator, auth_required=True, auth_require_tls=False)
    (result,) = _send(SmtpSender("127.0.0.1", port, "none"), [_envelope(1)])

    assert result.code == 530
    assert "Authentication required" in result.detail
    assert recorder.received == []


# --- the sink as its own process -----------------------------------------------------------


@contextlib.contextmanager
def _sink_process(directory: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`python -m maild.demo.sink` in its own process as the demo runs it; killed if alive afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "maild.demo.sink", "--dir", str(directory), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"listening on 127.0.0.1:{port}"
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sink_runs_as_a_process(tmp_path: Path) -> None:
    with _sink_process(tmp_path) as (proc, port):
        (result,) = _send(SmtpSender("127.0.0.1", port, "none"), [_envelope(7)])
        assert result.outcome == "sent"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert (tmp_path / "msgs" / "00000001.eml").read_bytes() == _message(7)
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
        _send(SmtpSender("127.0.0.1", first.port, "none"), [_envelope(1)])
    with SinkServer(tmp_path) as second:
        _send(SmtpSender("127.0.0.1", second.port, "none"), [_envelope(2)])
        assert [m.seq for m in second.messages()] == [1, 2]
        second.clear()
        assert second.messages() == []
        assert list((tmp_path / "msgs").glob("*.eml")) == []
        with pytest.raises(TimeoutError):
            second.wait_for(1, timeout=0.2)
    with SinkServer(tmp_path) as third:
        _send(SmtpSender("127.0.0.1", third.port, "none"), [_envelope(3)])
        (message,) = third.messages()
        assert message.seq == 3, "numbering carries on after a clear and a restart"
        assert message.raw == _message(3)


def test_a_sink_reader_skips_the_index_line_still_being_written(tmp_path: Path) -> None:
    with SinkServer(tmp_path) as sink:
        _send(SmtpSender("127.0.0.1", sink.port, "none"), [_envelope(1), _envelope(2)])
        index = tmp_path / "msgs" / "index.jsonl"
        complete = index.read_bytes()
        index.write_bytes(complete + b'{"seq": 3, "time": 1.0, "mail_')
        assert [m.seq for m in sink.messages()] == [1, 2]
        assert [m.raw for m in sink.messages()] == [_message(1), _message(2)]


# --- throughput (printed, not asserted on time) -------------------------------------------


async def _timed_send(sender: SmtpSender, envelopes: list[Envelope], warm_up: int) -> float:
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
        envelopes = [_envelope(n, body) for n in range(count)]
        with _sink_process(directory) as (_, port):
            sender = SmtpSender("127.0.0.1", port, "none", local_hostname="m.test", connections=connections)
            elapsed = asyncio.run(_timed_send(sender, envelopes, warm_up=connections))
            rates[connections] = (count - connections) / elapsed
            stored = SinkServer(directory).messages()  # read back from disk, as the demo does
        assert sorted(m.raw for m in stored) == sorted(e.data for e in envelopes)
    with capsys.disabled():
        print(f"\nSMTP throughput to the sink: {rates[1]:.0f} msg/s on 1 connection, {rates[4]:.0f} on 4")
