"""The schema comes only from Alembic migrations, and they match the models on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from maild.store.db import Database, _alembic_config, upgrade
from maild.store.models import Base
from tests.integration.rows import insert_case


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_migrations_build_exactly_the_models_and_go_down_and_up_again(db_url: str) -> None:
    db = Database(db_url)
    try:
        before, after = upgrade(db)
        assert after is not None and upgrade(db) == (after, after), "upgrade is safe to repeat"
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        cfg = _alembic_config(db_url)
        command.downgrade(cfg, "base")
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() is None
        command.upgrade(cfg, "head")
        db.check_schema()
    finally:
        if db_url.startswith("postgresql"):
            command.downgrade(_alembic_config(db_url), "base")
        db.dispose()
    assert before in (None, after)


def test_attachment_bytes_move_to_their_own_table_and_back(db_url: str) -> None:
    """0004 moves stored bytes out of `attachments`, keeps none for a dropped one, and goes back down."""
    cfg = _alembic_config(db_url)
    blob = bytes(range(256)) * 4000
    now = datetime(2026, 1, 1, tzinfo=UTC)
    db = Database(db_url)
    try:
        command.upgrade(cfg, "0003")
        with db.engine.begin() as conn:
            case = insert_case(conn)
            for name, data, reason in (("kept.bin", blob, None), ("big.bin", None, "over the size limit")):
                conn.execute(
                    text(
                        "INSERT INTO attachments (case_id, filename, content_type, size, data,"
                        " dropped_reason, created_at) VALUES (:case, :name, 'application/octet-stream',"
                        " :size, :data, :reason, :now)"
                    ),
                    {"case": case, "name": name, "size": 10, "data": data, "reason": reason, "now": now},
                )
        command.upgrade(cfg, "0004")
        with db.engine.connect() as conn:
            assert "data" not in {c["name"] for c in inspect(conn).get_columns("attachments")}
            moved = conn.execute(
                text(
                    "SELECT a.filename, d.data FROM attachments a"
                    " LEFT JOIN attachment_data d ON d.attachment_id = a.id ORDER BY a.filename"
                )
            ).all()
        assert [(name, None if data is None else bytes(data)) for name, data in moved] == [
            ("big.bin", None),
            ("kept.bin", blob),
        ]
        command.downgrade(cfg, "0003")
        with db.engine.connect() as conn:
            back = conn.execute(text("SELECT filename, data FROM attachments ORDER BY filename")).all()
        assert [(name, None if data is None else bytes(data)) for name, data in back] == [
            ("big.bin", None),
            ("kept.bin", blob),
        ]
    finally:
        command.downgrade(_alembic_config(db_url), "base")
        db.dispose()
