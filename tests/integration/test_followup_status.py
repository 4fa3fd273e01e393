"""SPEC §11 where operators look: `case show`, `maild status` and the metrics.

Five cases through the real Dovecot, the SMTP sink and the command line,
one in each state: a first response overdue (sev 1, "2s") and one due soon
(sev 2, "10m", inside `warn_before = "15m"`), a next response overdue (sev 1
follow-up, "2s") and one due soon (sev 3 follow-up, "10m"), and one waiting
on the customer (`case reply --waiting`). The test waits for the short
deadlines to pass (`sleep_until`) rather than asserting on the time; the
long ones lie minutes away, far from any boundary. Read back only through
`case show`, `status` and the Prometheus text; the same on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from maild.clock import SystemClock
from maild.config import load_settings
from maild.daemon.metrics import StateCollector
from maild.store.db import Database
from tests.integration.deadlines import Opened, open_case, parse_time, sleep_until
from tests.integration.env import AGENT, ALICE, MaildEnv, reply_to_note

CONFIG = {
    "sla.initial_response.1": "2s",
    "sla.initial_response.2": "10m",
    "sla.next_response.1": "2s",
    "sla.next_response.3": "10m",
    "escalation.warn_before": "15m",
}


def _due_of(case: dict[str, Any], field: str) -> float:
    """The latest instant a deadline shown in whole seconds may really be (it lies in the second after)."""
    value = case[field]
    assert value is not None, f"{field} is not set: {case}"
    return parse_time(value).timestamp() + 1


def _ack(opened: Opened, number: str) -> Any:
    """The case's acknowledgement to the primary contact (the same pass may escalate an earlier case)."""
    (ack,) = [m.msg for m in opened.acks[ALICE] if m.msg["X-Maild-Case"] == number]
    return ack


def _reply(env: MaildEnv, number: str, *flags: str) -> None:
    env.ok("case", "reply", number, "--as", AGENT, "--body", "We are looking into it.", *flags)


def _open_every_state(env: MaildEnv, imap: Any, sink: Any) -> dict[str, str]:
    """One case in each state; returns their numbers by state once the short deadlines have passed."""
    subjects = {
        "first_overdue": "[Sev 1] Checkout is down",
        "first_soon": "[Sev 2] Reports are slow",
        "next_overdue": "[Sev 1] Payments fail",
        "next_soon": "Export is slow",
        "waiting": "Printer jam",
    }
    opened = {state: open_case(env, imap, sink, subject) for state, subject in subjects.items()}
    numbers = {state: o.number for state, o in opened.items()}
    for state in ("next_overdue", "next_soon"):
        _reply(env, numbers[state])
        # The contact answers the acknowledgement: a follow-up on an answered case starts the clock.
        imap.append(reply_to_note(_ack(opened[state], numbers[state]), ALICE, "It still fails.\n\nAlice\n"))
        env.run_once()
    _reply(env, numbers["waiting"], "--waiting")
    sleep_until(
        max(
            _due_of(env.case(numbers["first_overdue"]), "first_response_due_at"),
            _due_of(env.case(numbers["next_overdue"]), "next_response_due_at"),
        )
    )
    return numbers


def _metrics_text(env: MaildEnv) -> str:
    """The Prometheus text of the state gauges, with the config's warn_before as the daemon reads it."""
    settings = load_settings(env.config_path)
    db = Database(str(env.config["database"]["url"]))
    try:
        registry = CollectorRegistry()
        registry.register(
            StateCollector(db, SystemClock(), lambda: settings.teams, lambda: settings.escalation.warn_before)
        )
        return generate_latest(registry).decode()
    finally:
        db.dispose()


def _check_case_show(env: MaildEnv, numbers: dict[str, str]) -> None:
    nxt = env.case(numbers["next_overdue"])
    escalated = [e for e in nxt["escalations"] if e["reason"] == "next_response"]
    assert len(escalated) == 1, nxt["escalations"]
    due = parse_time(nxt["next_response_due_at"])
    assert {"level", "reason", "at", "requested_by", "deadline"} <= set(escalated[0])
    # The deadline names the due instant (to the microsecond; the JSON time is whole seconds).
    assert escalated[0]["deadline"].startswith(f"next_response:{due:%Y%m%dT%H%M%S}."), escalated
    assert nxt["waiting_since"] is None
    soon = env.case(numbers["next_soon"])
    assert parse_time(soon["next_response_due_at"]) - parse_time(soon["updated_at"]) <= timedelta(minutes=10)
    waiting = env.case(numbers["waiting"])
    assert waiting["status"] == "waiting_on_customer" and waiting["next_response_due_at"] is None
    assert waiting["waiting_since"] is not None
    first = env.case(numbers["first_overdue"])
    assert first["next_response_due_at"] is None and first["waiting_since"] is None
    assert [e["deadline"] for e in first["escalations"]] == ["first_response"]
    text = env.ok("case", "show", numbers["next_overdue"]).out
    assert f"  Next response due {nxt['next_response_due_at']}" in text and "Waiting since" not in text
    assert f"(next_response) at {escalated[0]['at']} for next_response:" in text
    text = env.ok("case", "show", numbers["waiting"]).out
    assert f"  Waiting since {waiting['waiting_since']}" in text and "Next response due" not in text


def _check_status(env: MaildEnv) -> None:
    status = env.ok("status", "--json").json()
    assert status["deadlines"] == {
        "due_soon_seconds": 900,
        "first_response": {"due_soon": 1, "overdue": 1},
        "next_response": {"due_soon": 1, "overdue": 1},
        "waiting_on_customer": {
            "waiting": 1,
            "oldest_since": status["deadlines"]["waiting_on_customer"]["oldest_since"],
            "reminded": 0,  # no [sla] waiting_reminder here
            "reminder_or_close_due_soon": 0,
        },
    }
    assert status["deadlines"]["waiting_on_customer"]["oldest_since"] is not None
    cases = status["cases"]
    assert cases["open"] == 5 and cases["past_deadline_unanswered"] == 1, cases
    assert cases["by_status"]["waiting_on_customer"] == 1
    text = env.ok("status").out
    assert (
        "  response deadlines (due soon = within 15m: [escalation] warn_before): "
        "first response 1 overdue, 1 due soon; next response 1 overdue, 1 due soon"
    ) in text
    assert "  waiting on the customer: 1 (oldest since " in text
    assert "; 0 reminded, 0 reminder or close due soon" in text
    metrics = _metrics_text(env)
    for deadline, state in (
        ("first_response", "due_soon"),
        ("first_response", "overdue"),
        ("next_response", "due_soon"),
        ("next_response", "overdue"),
        ("waiting_on_customer", "waiting"),
    ):
        assert f'maild_cases_deadline{{deadline="{deadline}",state="{state}"}} 1.0' in metrics, metrics
    assert "maild_cases_due_soon_window_seconds 900.0" in metrics
    assert "maild_open_cases{" in metrics and "maild_deadlines_breached 1.0" in metrics


def _scenario(env: MaildEnv, imap: Any, sink: Any) -> None:
    numbers = _open_every_state(env, imap, sink)
    _check_status(env)  # before the pass: the counts do not depend on the scan having run
    env.run_once()  # escalates the missed first and next responses
    _check_case_show(env, numbers)
    _check_status(env)  # escalating a deadline does not answer it
    _reply(env, numbers["next_overdue"])
    after = env.ok("status", "--json").json()["deadlines"]
    assert after["next_response"] == {"due_soon": 1, "overdue": 0}, "an agent's reply stops the clock"
    assert env.case(numbers["next_overdue"])["next_response_due_at"] is None
    env.ok("case", "close", numbers["first_overdue"], "--as", AGENT)
    assert env.ok("status", "--json").json()["deadlines"]["first_response"] == {"due_soon": 1, "overdue": 0}


@pytest.mark.maild_config(CONFIG)
def test_case_show_status_and_metrics_show_every_response_clock(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    _scenario(env, imap_box, smtp_sink)


@pytest.mark.maild_config(CONFIG)
def test_the_same_on_postgresql(pg_env: MaildEnv, imap_box: Any, smtp_sink: Any) -> None:
    _scenario(pg_env, imap_box, smtp_sink)
