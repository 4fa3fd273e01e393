"""The schema comes only from Alembic migrations, and they match the models on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from maild.db import Database, _alembic_config, upgrade
from maild.models import Base


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
