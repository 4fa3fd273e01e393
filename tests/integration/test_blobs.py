"""Attachment bytes through maild.store.blobs on both backends: a slice at a time, errors as SQLAlchemy's."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from maild.store import blobs
from maild.store.db import Database, upgrade
from maild.store.models import Attachment
from tests.integration.rows import NOW, insert_case


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
    with db.transaction() as conn:
        case_id = insert_case(conn)
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
