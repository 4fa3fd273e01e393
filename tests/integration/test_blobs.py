"""Attachment bytes through maild.blobs on both backends: a slice at a time, errors as SQLAlchemy's."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from maild import blobs
from maild.db import Database, upgrade
from maild.models import Account, Attachment, Case, Contact

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'b.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    database = Database(url)
    upgrade(database)
    request.addfinalizer(database.dispose)
    return database


def _attachment(db: Database) -> int:
    """A case with one attachment row, named uniquely (the PostgreSQL database is shared)."""
    tag = secrets.token_hex(4)
    with db.transaction() as conn:
        account = conn.execute(
            insert(Account).returning(Account.id), {"name": f"Acme {tag}", "created_at": NOW}
        )
        account_id = account.scalar_one()
        contact_id = conn.execute(
            insert(Contact).returning(Contact.id),
            {"account_id": account_id, "email": f"a.{tag}@acme.example", "created_at": NOW},
        ).scalar_one()
        case_id = conn.execute(
            insert(Case).returning(Case.id),
            {
                "subject": "s",
                "description": "d",
                "description_full": "d",
                "severity": 3,
                "status": "new",
                "account_id": account_id,
                "primary_contact_id": contact_id,
                "fields": {},
                "language": "en",
                "thread_root": f"<root.{tag}@acme.example>",
                "created_at": NOW,
                "updated_at": NOW,
            },
        ).scalar_one()
        return int(
            conn.execute(
                insert(Attachment).returning(Attachment.id),
                {"case_id": case_id, "filename": "f.bin", "size": 0, "created_at": NOW},
            ).scalar_one()
        )


@pytest.mark.parametrize("size", [0, 1, blobs.SLICE - 1, blobs.SLICE, 2 * blobs.SLICE + 7])
def test_bytes_come_back_exactly(db: Database, size: int) -> None:
    data = random.Random(size).randbytes(size)
    attachment_id = _attachment(db)
    with db.transaction() as conn:
        blobs.store(conn, attachment_id, data)
    with db.transaction() as conn:
        assert blobs.load(conn, attachment_id) == data
        assert blobs.load(conn, attachment_id + 1000) is None


def test_a_refused_write_is_sqlalchemys_error_and_leaves_nothing(db: Database) -> None:
    attachment_id = _attachment(db)
    with pytest.raises(IntegrityError), db.transaction() as conn:  # no such attachment row
        blobs.store(conn, attachment_id + 1000, b"x" * 100)
    with db.transaction() as conn:
        blobs.store(conn, attachment_id, b"kept")
    with db.transaction() as conn:
        assert blobs.load(conn, attachment_id) == b"kept"
