"""The SQLite transaction start: BEGIN IMMEDIATE issued straight to the driver."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from maild.store.db import Database, is_conflict


def test_a_locked_database_is_the_operational_error_callers_handle(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:  # the pool hands this connection out again below
            conn.exec_driver_sql("PRAGMA busy_timeout=50")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer that does not use maild's lock
        try:
            with pytest.raises(OperationalError) as caught, db.session() as s:
                s.execute(text("SELECT 1"))
            assert "locked" in str(caught.value.orig)
        finally:
            other.execute("ROLLBACK")
            other.close()
        with db.session() as s:  # and the next transaction works
            assert s.execute(text("SELECT 1")).scalar() == 1
        with db.reader() as s:
            assert s.execute(text("SELECT 2")).scalar() == 2
    finally:
        db.dispose()


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "conflict"),
    [("40P01", True), ("40001", True), ("57P01", False), ("08006", False), (None, False)],
)
def test_only_lost_lock_races_are_conflicts_that_a_batch_retries_message_by_message(
    sqlstate: str | None, conflict: bool
) -> None:
    """A deadlock or serialization failure sends a batch's messages one by one; a dead server is transient."""
    error = OperationalError("INSERT …", None, _DriverError(sqlstate))
    assert is_conflict(error) is conflict
