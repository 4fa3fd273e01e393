"""A big `maild run --once` sends from a process of its own, losing and doubling nothing."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from maild.daemon.send_loop import SEND_PROCESS_FROM
from maild.daemon.sendproc import SendProcess
from tests.integration.env import AGENT, ALICE, MaildEnv, message


@pytest.mark.slow
@pytest.mark.maild_config({"support.agent_address": AGENT})
def test_a_big_pass_sends_every_notification_once_from_the_sending_process(
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
    received = smtp_sink.messages()
    assert len(received) == 2 * n
    ids = Counter(m.msg["Message-ID"] for m in received)
    assert max(ids.values()) == 1
    assert env.ok("status", "--json").json()["outbox"]["pending"] == 0


@pytest.mark.maild_config({"outbox.retry_initial": "1s", "outbox.retry_max": "1s"})
def test_a_sending_process_whose_parent_is_gone_sends_what_is_due_and_exits(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    # Queue notifications that could not be sent (SMTP refused), then let the
    # child find its stdin closed at once, as when its parent was killed.
    port = env.config["smtp"]["port"]
    env.set("smtp.port", 1)
    imap_box.append_many(message(ALICE, f"Queued {i}", "Body.\n") for i in range(3))
    result = env.run("run", "--once")
    assert "notifications sent 0, deferred 3" in result.out
    env.set("smtp.port", port)
    time.sleep(1.5)  # the deferred rows come due
    child = SendProcess.start(env.config_path, debug=False)
    assert child is not None
    report = child.finish()
    assert report is not None
    assert (report.dispatch.sent, report.dispatch.failed, report.errors) == (3, 0, [])
    assert child.proc.returncode == 0
    assert len(smtp_sink.messages()) == 3
