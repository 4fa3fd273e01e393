"""`maild status` and the Prometheus endpoint report what is really going on."""

from __future__ import annotations

import socket
import urllib.request
from typing import Any

from tests.integration.env import ALICE, BOB, MaildEnv, message, stop, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_status_reports_mailbox_outbox_inbound_and_deadlines(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    env.set("sla.initial_response.3", "1s")
    imap_box.append_many([message(ALICE, "Status one", "x", cc=(BOB,)), message(BOB, "Not designated", "x")])
    smtp_sink.fail_next(451, 10_000)  # an outage for the whole pass, however often it retries
    env.run_once()
    status = env.ok("status", "--json").json()
    assert status["cases"]["open"] == 1 and status["cases"]["by_severity"] == {"3": 1}
    (opened,) = env.cases()
    # With a 1 s target a slow pass may already have escalated (managers, alice and bob notified).
    escalated = len(env.case(opened["number"])["escalations"])
    assert status["outbox"]["pending"] == 3 + 3 * escalated, (
        "acknowledgements, the help-desk reply (and escalations) wait"
    )
    assert status["outbox"]["oldest_pending_at"].endswith("Z")
    assert status["inbound"]["last_24h"] == {"case_opened": 1, "helpdesk": 1}
    (box,) = status["mailboxes"]
    assert box["holder"] is None and box["last_fetch_at"], "a --once pass releases the mailbox"
    wait_until(
        lambda: env.ok("status", "--json").json()["cases"]["past_deadline_unanswered"] == 1,
        timeout=5,
        what="the deadline to pass",
    )
    text = env.ok("status").out
    assert "pending" in text and "past deadline: 1" in text


def test_metrics_endpoint_counts_messages_and_reads_state(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    port = free_port()
    env.set("metrics.listen", f"127.0.0.1:{port}")
    daemon = env.start_daemon()
    try:
        wait_until(lambda: "watching" in env.daemon_log(), timeout=30, what="the daemon")
        imap_box.append_many(
            [
                message(ALICE, "Metrics", "x", cc=(BOB,)),
                message(ALICE, "Auto", "x", headers={"Auto-Submitted": "auto-replied"}),
            ]
        )
        wait_until(lambda: len(smtp_sink.messages()) == 2, timeout=30, what="acknowledgements")

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return r.read().decode()

        def sent_twice() -> str | None:
            text = scrape()
            return text if 'maild_notifications_total{result="sent"} 2.0' in text else None

        body = wait_until(sent_twice, timeout=15, what="sent notifications in the metrics")
    finally:
        assert stop(daemon) == 0
    assert 'maild_messages_total{outcome="case_opened"} 1.0' in body
    assert 'maild_messages_total{outcome="ignored"} 1.0' in body
    assert 'maild_open_cases{severity="3"} 1.0' in body
    assert "maild_message_processing_seconds_count 2.0" in body
    assert 'maild_outbox_notifications{status="sent"} 2.0' in body
    assert "maild_imap_connected 1.0" in body
