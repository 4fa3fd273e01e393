"""SPEC §11 in `maild status` and the metrics: open cases near or past each response deadline.

The counts come from aggregate queries on a real SQLite database (rows
written straight in, so every boundary is exact): a deadline at now is
overdue, one at now + the window is due soon, one just beyond is neither.
Closed and answered cases never count; a waiting case's clocks do not run.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from maild.daemon.health import (
    DEFAULT_DUE_SOON,
    DeadlineCounts,
    Health,
    due_soon_window,
    health_text,
    snapshot,
    span_text,
)
from maild.daemon.metrics import deadline_gauges
from maild.store.db import Database, upgrade
from maild.store.models import Account, Case, Contact, DeadlineNotice
from maild.vocab import CaseStatus

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'deadlines.db'}")
    upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def add_case(db: Database, status: str = CaseStatus.NEW, **clocks: Any) -> int:
    tag = secrets.token_hex(4)
    with db.session() as s:
        conn = s.connection()
        account = conn.execute(
            insert(Account).returning(Account.id), {"name": f"Acme {tag}", "created_at": NOW}
        ).scalar_one()
        contact = conn.execute(
            insert(Contact).returning(Contact.id),
            {"account_id": account, "email": f"a.{tag}@acme.example", "created_at": NOW},
        ).scalar_one()
        values = {
            "subject": "s",
            "description": "d",
            "description_full": "d",
            "severity": 3,
            "status": status,
            "account_id": account,
            "primary_contact_id": contact,
            "fields": {},
            "language": "en",
            "thread_root": f"<root.{tag}@acme.example>",
            "created_at": NOW - timedelta(days=1),
            "updated_at": NOW,
            **clocks,
        }
        return int(conn.execute(insert(Case).returning(Case.id), values).scalar_one())


def add_notice(db: Database, case_id: int, kind: str, at: datetime) -> None:
    with db.session() as s:
        s.connection().execute(
            insert(DeadlineNotice),
            {"case_id": case_id, "kind": kind, "deadline": f"waiting:{at.isoformat()}", "created_at": at},
        )


def test_due_soon_is_warn_before_when_set_else_one_hour() -> None:
    assert due_soon_window(None) == DEFAULT_DUE_SOON == timedelta(hours=1)
    assert due_soon_window(timedelta(minutes=15)) == timedelta(minutes=15)
    assert due_soon_window(timedelta(0)) == DEFAULT_DUE_SOON
    assert [span_text(timedelta(seconds=n)) for n in (0, 45, 900, 5400, 90061)] == [
        "0s",
        "45s",
        "15m",
        "1h30m",
        "1d1h1m1s",
    ]


def test_first_response_counts_at_the_boundaries(db: Database) -> None:
    soon = timedelta(minutes=15)
    add_case(db, first_response_due_at=NOW)  # overdue: due at now
    add_case(db, first_response_due_at=NOW - timedelta(days=2))  # overdue
    add_case(db, CaseStatus.WAITING_ON_CUSTOMER, first_response_due_at=NOW - SECOND)  # open, unanswered
    add_case(db, first_response_due_at=NOW + SECOND)  # due soon
    add_case(db, first_response_due_at=NOW + soon)  # due soon: the window's end is in it
    add_case(db, first_response_due_at=NOW + soon + SECOND)  # neither
    add_case(db, first_response_due_at=NOW - SECOND, first_responded_at=NOW - 2 * SECOND)  # answered
    add_case(db, CaseStatus.CLOSED, first_response_due_at=NOW - SECOND)  # closed
    add_case(db)  # no deadline at all
    with db.reader() as s:
        h = snapshot(s, NOW, warn_before=soon)
    assert h.first_response == DeadlineCounts(due_soon=2, overdue=3)
    assert h.past_deadline == 3, "the old key and the new count agree"
    assert h.next_response == DeadlineCounts() and h.waiting == 1


def test_next_response_runs_only_while_new_or_in_progress(db: Database) -> None:
    answered = {
        "first_response_due_at": NOW - timedelta(hours=5),
        "first_responded_at": NOW - timedelta(hours=6),
    }
    add_case(db, CaseStatus.IN_PROGRESS, next_response_due_at=NOW, **answered)  # overdue
    add_case(db, CaseStatus.IN_PROGRESS, next_response_due_at=NOW + timedelta(minutes=59), **answered)  # soon
    add_case(db, CaseStatus.IN_PROGRESS, next_response_due_at=NOW + timedelta(minutes=61), **answered)
    add_case(db, CaseStatus.CLOSED, next_response_due_at=NOW - SECOND, **answered)
    add_case(db, CaseStatus.WAITING_ON_CUSTOMER, next_response_due_at=NOW - SECOND, **answered)
    with db.reader() as s:
        h = snapshot(s, NOW)  # no warn_before: one hour
    assert h.next_response == DeadlineCounts(due_soon=1, overdue=1)
    assert h.first_response == DeadlineCounts()


def test_waiting_counts_and_the_oldest_wait(db: Database) -> None:
    waiting = CaseStatus.WAITING_ON_CUSTOMER
    long_ago = NOW - timedelta(days=3)
    # reminded during this wait, closing within the hour
    reminded = add_case(db, waiting, waiting_since=long_ago, next_escalation_at=NOW + timedelta(minutes=30))
    add_notice(db, reminded, "reminder", NOW - timedelta(hours=5))
    # reminded during an earlier wait only: not reminded now; its reminder is a day away
    earlier = add_case(
        db, waiting, waiting_since=NOW - timedelta(hours=1), next_escalation_at=NOW + timedelta(days=1)
    )
    add_notice(db, earlier, "reminder", NOW - timedelta(days=2))
    add_notice(db, earlier, "warning", NOW - timedelta(minutes=5))
    add_case(db, CaseStatus.CLOSED, waiting_since=NOW - timedelta(days=9), next_escalation_at=NOW)
    with db.reader() as s:
        h = snapshot(s, NOW)
    assert (h.waiting, h.oldest_waiting_since) == (2, long_ago)
    assert (h.reminded, h.waiting_notice_due_soon) == (1, 1)
    assert h.as_json()["deadlines"]["waiting_on_customer"] == {
        "waiting": 2,
        "oldest_since": "2026-12-03T09:00:00Z",
        "reminded": 1,
        "reminder_or_close_due_soon": 1,
    }
    assert (
        "waiting on the customer: 2 (oldest since 2026-12-03T09:00:00Z); "
        "1 reminded, 1 reminder or close due soon" in health_text(h)
    )


def test_an_empty_database_has_every_count_at_zero(db: Database) -> None:
    with db.reader() as s:
        data = snapshot(s, NOW).as_json()
    assert data["deadlines"] == {
        "due_soon_seconds": 3600,
        "first_response": {"due_soon": 0, "overdue": 0},
        "next_response": {"due_soon": 0, "overdue": 0},
        "waiting_on_customer": {
            "waiting": 0,
            "oldest_since": None,
            "reminded": 0,
            "reminder_or_close_due_soon": 0,
        },
    }
    assert {
        "at",
        "mailboxes",
        "outbox",
        "inbound",
        "cases",
        "cases_by_team",
        "unassigned_cases",
        "oauth2",
    } <= set(data), "every key from before is still there"


def _health(warn_before: timedelta | None) -> Health:
    return Health(
        at=NOW,
        warn_before=warn_before,
        first_response=DeadlineCounts(due_soon=2, overdue=1),
        next_response=DeadlineCounts(due_soon=4, overdue=3),
        waiting=5,
        oldest_waiting_since=NOW - timedelta(hours=2),
        reminded=2,
        waiting_notice_due_soon=1,
    )


def test_the_status_text_says_what_due_soon_means() -> None:
    text = health_text(_health(timedelta(minutes=15)))
    assert (
        "  response deadlines (due soon = within 15m: [escalation] warn_before): "
        "first response 1 overdue, 2 due soon; next response 3 overdue, 4 due soon"
    ) in text
    assert "  waiting on the customer: 5 (oldest since 2026-12-06T07:00:00Z)" in text
    assert "due soon = within 1h: [escalation] warn_before unset" in health_text(_health(None))
    assert "  waiting on the customer: 0\n" in health_text(Health(at=NOW)) + "\n"


def test_the_gauges_carry_every_deadline_and_state() -> None:
    families = {m.name: m for m in deadline_gauges(_health(timedelta(minutes=15)))}
    samples = {
        (s.labels["deadline"], s.labels["state"]): s.value for s in families["maild_cases_deadline"].samples
    }
    assert samples == {
        ("first_response", "due_soon"): 2,
        ("first_response", "overdue"): 1,
        ("next_response", "due_soon"): 4,
        ("next_response", "overdue"): 3,
        ("waiting_on_customer", "waiting"): 5,
        ("waiting_on_customer", "reminded"): 2,
        ("waiting_on_customer", "due_soon"): 1,
    }
    assert families["maild_cases_due_soon_window_seconds"].samples[0].value == 900
    assert families["maild_cases_waiting_oldest_age_seconds"].samples[0].value == 7200
    empty = {m.name: m for m in deadline_gauges(Health(at=NOW))}
    assert empty["maild_cases_waiting_oldest_age_seconds"].samples[0].value == 0
