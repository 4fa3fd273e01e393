"""A big `maild run --once` sends through a process of its own, losing and doubling nothing."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from maild.daemon.pipesender import PipeSender
from maild.daemon.send_loop import SEND_PROCESS_FROM
from maild.daemon.sendpipe import ChildReport, encode_frame
from maild.daemon.sendproc import CHILD_MODULE
from maild.outbound.smtp import Envelope, SmtpSender
from tests.integration.env import AGENT, ALICE, MaildEnv, message


def _envelopes(n: int, tag: str) -> list[Envelope]:
    return [
        Envelope(
            "support@example.com",
            f"user{i}@example.com",
            f"Message-ID: <{tag}-{i}@example.com>\r\nSubject: {tag} {i}\r\n\r\nBody {i}.\r\n".encode(),
        )
        for i in range(n)
    ]


@pytest.mark.slow
@pytest.mark.maild_config({"support.agent_address": AGENT})
def test_a_big_pass_sends_every_notification_once_through_the_sending_process(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    n = SEND_PROCESS_FROM + 20
    imap_box.append_many(
        message(ALICE, f"Problem number {i}", f"Report {i}: the export fails.\n") for i in range(n)
    )
    result = env.run_once()
    assert f"processed {n} message(s)" in result.out
    assert "sending from a process of its own" in result.err
    # Each new case acknowledges the contact and tells the agent address: 2 per message.
    assert f"notifications sent {2 * n}, deferred 0, failed 0" in result.out
    # The child sent them (the parent claimed and recorded); its line is what bench/throughput.py reads.
    line = re.search(
        r"the sending process sent (\d+) in [0-9.]+ s \(its CPU [0-9.]+ s\); its peak RSS (\d+) MiB",
        result.err,
    )
    assert line is not None, result.err
    assert int(line.group(1)) > 0
    assert 0 < int(line.group(2)) < 60
    received = smtp_sink.messages()
    assert len(received) == 2 * n
    ids = Counter(m.msg["Message-ID"] for m in received)
    assert max(ids.values()) == 1
    assert env.ok("status", "--json").json()["outbox"]["pending"] == 0


def test_a_sending_process_whose_parent_is_gone_sends_what_it_was_handed_and_exits(
    env: MaildEnv, smtp_sink: Any
) -> None:
    # The parent hands over two requests and "dies" at once: the child's stdin closes.
    child = subprocess.Popen(
        [sys.executable, "-m", CHILD_MODULE, "--config", str(env.config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    out, _ = child.communicate(
        encode_frame((0, _envelopes(3, "first"))) + encode_frame((1, _envelopes(2, "second"))), timeout=60
    )
    assert child.returncode == 0
    assert len(smtp_sink.messages()) == 5
    assert out.count(b"ChildReport") == 1  # the last frame, after both answers


def test_a_sending_process_that_dies_hands_its_rounds_back_and_the_parent_sends_them(
    env: MaildEnv, smtp_sink: Any
) -> None:
    async def scenario() -> tuple[list[str], list[str], ChildReport | None]:
        fallback = SmtpSender("127.0.0.1", smtp_sink.port, "none", connections=2)
        pipe = PipeSender.start(env.config_path, fallback)
        assert pipe is not None
        try:
            first = await pipe.send_many(_envelopes(4, "before"))
            os.kill(pipe.proc.pid, 9)
            await asyncio.to_thread(pipe.proc.wait)
            # Handed over to a dead child: transient (the outbox retries), then the fallback sends.
            lost = await pipe.send_many(_envelopes(2, "lost"))
            again = await pipe.send_many(_envelopes(2, "after"))
            report = await pipe.finish()
        finally:
            pipe.kill()
            await fallback.close()
        return [r.outcome for r in first], [r.outcome for r in lost + again], report

    first, later, report = asyncio.run(scenario())
    assert first == ["sent"] * 4
    # The in-flight round may have gone either way; what follows goes out in-process.
    assert later[-2:] == ["sent", "sent"]
    assert set(later[:2]) <= {"sent", "transient"}
    assert report is None
    subjects = Counter(m.msg["Subject"] for m in smtp_sink.messages())
    assert subjects["after 0"] == subjects["after 1"] == 1


def test_a_pass_whose_sending_process_cannot_start_sends_in_process(env: MaildEnv, smtp_sink: Any) -> None:
    async def scenario() -> list[str]:
        fallback = SmtpSender("127.0.0.1", smtp_sink.port, "none")
        pipe = PipeSender.start(env.config_path.parent / "missing.toml", fallback)
        assert pipe is not None
        try:
            results = await pipe.send_many(_envelopes(2, "one"))
            results += await pipe.send_many(_envelopes(2, "two"))
            assert await pipe.finish() is None
        finally:
            pipe.kill()
            await fallback.close()
        return [r.outcome for r in results]

    outcomes = asyncio.run(scenario())
    # The child exits at once (no config): at most the first request comes back transient.
    assert outcomes[2:] == ["sent", "sent"]
    assert set(outcomes[:2]) <= {"sent", "transient"}
