"""SPEC §11 in `case show`: the next-response deadline, the wait, and which deadline an escalation was for.

Built from unsaved model objects: the views only read attributes, so what
is shown is exactly what the columns hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maild.cases.views import case_json, case_text
from maild.store.models import Account, Case, Contact, Escalation

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
NEXT = "next_response:20261206T100000.000000Z"


def _case(status: str = "in_progress", **clocks: object) -> Case:
    return Case(
        id=7,
        subject="Login fails",
        description="It fails.",
        severity=2,
        status=status,
        account=Account(name="Acme"),
        primary_contact=Contact(email="alice@acme.example"),
        participants=[],
        comments=[],
        fields={},
        created_at=NOW - timedelta(hours=3),
        updated_at=NOW,
        first_response_due_at=NOW - timedelta(hours=1),
        first_responded_at=NOW - timedelta(hours=2),
        escalations=[
            Escalation(
                level=1, reason="deadline", deadline="first_response", created_at=NOW - timedelta(hours=1)
            ),
            Escalation(level=1, reason="next_response", deadline=NEXT, created_at=NOW),
        ],
        **clocks,
    )


def test_case_json_reads_the_clock_columns_and_names_each_escalations_deadline() -> None:
    data = case_json(_case(next_response_due_at=NOW + timedelta(hours=1), waiting_since=None), [])
    assert data["next_response_due_at"] == "2026-12-06T10:00:00Z"
    assert data["waiting_since"] is None
    assert data["escalations"] == [
        {
            "level": 1,
            "reason": "deadline",
            "at": "2026-12-06T08:00:00Z",
            "requested_by": None,
            "deadline": "first_response",
        },
        {
            "level": 1,
            "reason": "next_response",
            "at": "2026-12-06T09:00:00Z",
            "requested_by": None,
            "deadline": NEXT,
        },
    ]


def test_the_text_view_shows_the_running_clocks_only() -> None:
    running = case_text(case_json(_case(next_response_due_at=NOW + timedelta(hours=1)), []))
    assert "  Next response due 2026-12-06T10:00:00Z" in running
    assert "Waiting since" not in running
    assert "  escalated: level 1 (next_response) at 2026-12-06T09:00:00Z for " + NEXT in running
    assert "  escalated: level 1 (deadline) at 2026-12-06T08:00:00Z\n" in running
    waiting = case_text(case_json(_case(status="waiting_on_customer", waiting_since=NOW), []))
    assert "  Waiting since 2026-12-06T09:00:00Z (on the customer)" in waiting
    assert "Next response due" not in waiting
