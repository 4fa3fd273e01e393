"""A new severity re-targets a running next-response clock (SPEC §10 `#severity`, §11).

The next-response deadline counts from the customer's follow-up that
started it; changing the severity gives it the new severity's target from
that same instant, and a severity without a target stops it. Driven by the
command line and real Dovecot/SMTP, read through `case show --json`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.integration.deadlines import follow_up, open_case, parse_time, with_event
from tests.integration.env import AGENT, ALICE, MaildEnv

TARGETS = {"sla.next_response.1": "10m", "sla.next_response.2": "1h", "sla.next_response.3": "4h"}


def follow_up_comment_at(case: dict[str, Any]) -> Any:
    """When the customer's follow-up (the last comment) was stored."""
    comment = case["comments"][-1]
    assert comment["role"] == "primary_contact", case["comments"]
    return parse_time(comment["created_at"])


@pytest.mark.maild_config(TARGETS)
def test_a_new_severity_retargets_the_running_next_response_clock_from_the_follow_up(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number = open_case(env, imap_box, smtp_sink, subject="[Sev 3] Reports are slow").number
    smtp_sink.clear()
    env.ok("case", "reply", number, "--as", AGENT, "--body", "Which report is it?")
    env.run_once()
    note = dict(with_event(smtp_sink, "comment_added"))[ALICE]
    follow_up(env, imap_box, note)
    case = env.case(number)
    started = follow_up_comment_at(case)
    due = parse_time(case["next_response_due_at"])
    assert abs(due - (started + timedelta(hours=4))) <= timedelta(seconds=1), case

    env.ok("case", "severity", number, "1", "--as", AGENT, "--reason", "production is down")
    case = env.case(number)
    assert case["severity"] == 1
    due = parse_time(case["next_response_due_at"])
    assert abs(due - (started + timedelta(minutes=10))) <= timedelta(seconds=1), case

    env.ok("case", "severity", number, "4", "--as", AGENT)
    assert env.case(number)["next_response_due_at"] is None, "severity 4 has no next-response target"


@pytest.mark.maild_config(TARGETS)
def test_a_new_severity_on_an_unanswered_case_starts_no_next_response_clock(
    env: MaildEnv, imap_box: Any, smtp_sink: Any
) -> None:
    number = open_case(env, imap_box, smtp_sink, subject="[Sev 3] Reports are slow").number
    env.ok("case", "severity", number, "1", "--as", AGENT)
    case = env.case(number)
    assert case["next_response_due_at"] is None and case["first_responded_at"] is None
    assert case["first_response_due_at"] is not None
