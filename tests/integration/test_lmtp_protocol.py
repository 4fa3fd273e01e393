"""The LMTP listener's protocol, in-process over loopback TCP, with a recording target instead of a database.

What the MTA-facing tests in test_lmtp.py cannot aim at precisely: the end
of data split across writes, dot-stuffing, lines longer than the stream
buffer, a message over the limit read to its end with the connection still
usable, pipelined commands, and the answers for each way recording can fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from maild.configtransport import LmtpSettings
from maild.daemon.lmtp import LmtpServer, LmtpTarget
from maild.errors import ConfigError, TransientError

OURS = "support@example.com"


@dataclass
class Target:
    """Records what it is given; `fail` makes deliver raise instead."""

    delivered: list[tuple[bytes, str]] = field(default_factory=list)
    fail: Exception | None = None

    def deliver(self, raw: bytes, mailbox: str) -> str:
        if self.fail is not None:
            raise self.fail
        self.delivered.append((raw, mailbox))
        return "case_opened"

    def mailbox(self, label: str) -> str:
        if label != "sales":
            raise ConfigError("mailboxes", f"no [mailboxes.{label}]")
        return "imap://sales@host:993/INBOX"

    def as_target(self) -> LmtpTarget:
        return LmtpTarget(
            accepts=lambda a: a.lower().endswith("@example.com"),
            mailbox=self.mailbox,
            deliver=self.deliver,
            default_mailbox="local",
        )


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def reply(self) -> tuple[int, str]:
        """One (possibly multi-line) reply: its code and its last line's text."""
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode()
            if line[3:4] != "-":
                return int(line[:3]), line[4:].strip()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def cmd(self, line: str) -> tuple[int, str]:
        await self.send(line.encode() + b"\r\n")
        return await self.reply()


def run(
    scenario: Callable[[Client, LmtpServer], Awaitable[None]], target: Target, limit: int = 10_000
) -> None:
    async def main() -> None:
        server = LmtpServer(LmtpSettings("127.0.0.1:0", limit), target.as_target(), hostname="test.example")
        await server.start()
        host, port = server.address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        client = Client(reader, writer)
        try:
            assert (await client.reply())[0] == 220
            assert (await client.cmd("LHLO mta.example"))[0] == 250
            await scenario(client, server)
        finally:
            writer.close()
            await server.close()

    asyncio.run(main())


def stuffed(raw: bytes) -> bytes:
    """What the client sends for `raw`: dot-stuffed, CRLF-terminated, then the end mark."""
    lines = raw.split(b"\r\n")
    return b"\r\n".join(b"." + x if x.startswith(b".") else x for x in lines) + b"\r\n.\r\n"


async def transaction(c: Client, recipients: list[str], data: bytes) -> list[tuple[int, str]]:
    assert (await c.cmd("MAIL FROM:<bounce@mta.example>"))[0] == 250
    for r in recipients:
        assert (await c.cmd(f"RCPT TO:<{r}>"))[0] == 250
    assert (await c.cmd("DATA"))[0] == 354
    await c.send(data)
    return [await c.reply() for _ in recipients]


def test_dot_stuffing_and_an_end_mark_split_into_single_bytes() -> None:
    raw = b"Subject: dots\r\n\r\n.hidden\r\n..\r\nline.\r\n.\r\nend."
    target = Target()

    async def scenario(c: Client, _s: LmtpServer) -> None:
        assert (await c.cmd("MAIL FROM:<>"))[0] == 250
        assert (await c.cmd(f"RCPT TO:<{OURS}>"))[0] == 250
        assert (await c.cmd("DATA"))[0] == 354
        for byte in stuffed(raw):
            await c.send(bytes([byte]))
        assert await c.reply() == (250, "2.0.0 recorded (case_opened)")

    run(scenario, target)
    assert target.delivered == [(raw + b"\r\n", "local")]


def test_an_empty_message_and_a_line_longer_than_the_stream_buffer() -> None:
    long_line = b"x" * 200_000
    target = Target()

    async def scenario(c: Client, _s: LmtpServer) -> None:
        assert await transaction(c, [OURS], b".\r\n") == [(250, "2.0.0 recorded (case_opened)")]
        replies = await transaction(c, [OURS], stuffed(b"Subject: long\r\n\r\n" + long_line))
        assert replies[0][0] == 250

    run(scenario, target, limit=1_000_000)
    assert [raw for raw, _ in target.delivered] == [b"", b"Subject: long\r\n\r\n" + long_line + b"\r\n"]


def test_over_the_limit_each_recipient_gets_552_and_the_session_goes_on() -> None:
    target = Target()
    big = stuffed(b"Subject: big\r\n\r\n" + b"0123456789\r\n" * 5_000)

    async def scenario(c: Client, _s: LmtpServer) -> None:
        replies = await transaction(c, [OURS, "support+a@example.com", "support+b@example.com"], big)
        assert [code for code, _ in replies] == [552, 552, 552]
        assert all(text.startswith("5.3.4") for _, text in replies)
        assert (await c.cmd("MAIL FROM:<> SIZE=20000"))[0] == 552
        small = await transaction(c, [OURS], stuffed(b"Subject: small\r\n\r\nok"))
        assert small[0][0] == 250

    run(scenario, target)
    assert [raw for raw, _ in target.delivered] == [b"Subject: small\r\n\r\nok\r\n"]


def test_pipelined_commands_are_answered_in_order() -> None:
    target = Target()

    async def scenario(c: Client, _s: LmtpServer) -> None:
        await c.send(
            b"MAIL FROM:<a@mta.example> BODY=8BITMIME X-MAILD-MAILBOX=sales\r\n"
            b"RCPT TO:<support@example.com>\r\nRCPT TO:<nobody@elsewhere.example>\r\n"
            b"RCPT TO:<Support+X@Example.com>\r\nDATA\r\n"
        )
        codes = [(await c.reply())[0] for _ in range(5)]
        assert codes == [250, 250, 550, 250, 354]
        await c.send(stuffed(b"Subject: piped\r\n\r\nbody"))
        assert [(await c.reply())[0] for _ in range(2)] == [250, 250]
        assert (await c.cmd("MAIL FROM:<a@b> X-MAILD-MAILBOX=nosuch"))[0] == 501
        assert (await c.cmd("QUIT"))[0] == 221

    run(scenario, target)
    assert target.delivered == [(b"Subject: piped\r\n\r\nbody\r\n", "imap://sales@host:993/INBOX")]


def test_recording_failures_are_temporary_for_every_recipient() -> None:
    for failure, text in (
        (TransientError("database unavailable: connection refused"), "4.3.0 database unavailable"),
        (RuntimeError("a bug"), "4.3.0 local error"),
    ):
        target = Target(fail=failure)

        async def scenario(c: Client, _s: LmtpServer, text: str = text) -> None:
            replies = await transaction(c, [OURS, "support+x@example.com"], stuffed(b"Subject: x\r\n\r\ny"))
            assert [code for code, _ in replies] == [451, 451]
            assert all(t.startswith(text) for _, t in replies), replies

        run(scenario, target)


def test_commands_out_of_order_and_a_stop_with_an_idle_client() -> None:
    target = Target()

    async def scenario(c: Client, server: LmtpServer) -> None:
        assert (await c.cmd("DATA"))[0] == 503
        assert (await c.cmd("RCPT TO:<support@example.com>"))[0] == 503
        assert (await c.cmd("EHLO mta.example"))[0] == 500
        assert (await c.cmd("MAIL FROM:<a@b>"))[0] == 250
        assert (await c.cmd("MAIL FROM:<a@b>"))[0] == 503
        assert (await c.cmd("RSET"))[0] == 250
        assert (await c.cmd("X" * 5000))[0] == 500
        assert (await c.cmd("NOOP"))[0] == 250
        await server.close()
        assert (await c.reply())[0] == 421

    run(scenario, target)
    assert target.delivered == []
