"""outbox.enqueue: the only writer of new outbox rows, and of the thread entries that come with them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, create_engine, select

from maild.outbound.outbox import InboundLink, Notification, enqueue
from maild.store.models import Base, Outbox, ThreadMessage, table
from maild.vocab import Event, OutboxStatus

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[table(Outbox), table(ThreadMessage)])
    with engine.begin() as connection:
        yield connection
    engine.dispose()


def note(message_id: str, case_id: int | None = 7, event: Event = Event.COMMENT_ADDED) -> Notification:
    return Notification(
        event=event,
        recipient="alice@acme.example",
        mail_from="support@example.com",
        message_id=message_id,
        subject="[Case #00000007] Hello",
        raw=b"raw bytes",
        case_id=case_id,
    )


def test_rows_are_queued_pending_and_due_now(conn: Connection) -> None:
    enqueue(conn, [note("<a@example.com>"), note("<b@example.com>")], now=NOW)
    rows = conn.execute(select(table(Outbox)).order_by(table(Outbox).c.id)).all()
    assert [r.message_id for r in rows] == ["<a@example.com>", "<b@example.com>"]
    for row in rows:
        assert row.status == OutboxStatus.PENDING and row.attempts == 0
        assert row.event == "comment_added" and row.case_id == 7 and row.raw == b"raw bytes"
        assert row.next_attempt_at.replace(tzinfo=UTC) == NOW == row.created_at.replace(tzinfo=UTC)


def test_the_inbound_ids_and_the_notifications_join_the_case_thread(conn: Connection) -> None:
    enqueue(conn, [note("<ours@example.com>")], now=NOW, inbound=InboundLink(7, ["<theirs@acme.example>"]))
    threads = conn.execute(select(table(ThreadMessage).c.message_id, table(ThreadMessage).c.case_id)).all()
    assert sorted(threads) == [("<ours@example.com>", 7), ("<theirs@acme.example>", 7)]


def test_a_notice_without_a_case_joins_no_thread(conn: Connection) -> None:
    enqueue(conn, [note("<notice@example.com>", case_id=None, event=Event.HELPDESK)], now=NOW)
    assert conn.execute(select(table(ThreadMessage))).all() == []
    assert conn.execute(select(table(Outbox).c.event)).scalar() == "helpdesk"


def test_the_inbound_ids_are_recorded_when_every_recipient_was_skipped(conn: Connection) -> None:
    enqueue(conn, [], now=NOW, inbound=InboundLink(7, ["<theirs@acme.example>"]))
    assert conn.execute(select(table(Outbox))).all() == []
    ids = conn.execute(select(table(ThreadMessage).c.message_id)).scalars().all()
    assert ids == ["<theirs@acme.example>"]
