"""End-to-end fixtures: a maild installation wired to the real Dovecot, sink and database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.env import MaildEnv


def _overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("maild_config")
    return dict(marker.args[0]) if marker else {}


@pytest.fixture
def env(tmp_path: Path, imap_box: Any, smtp_sink: Any, request: pytest.FixtureRequest) -> Iterator[MaildEnv]:
    """maild on SQLite with the Acme world set up; an empty INBOX and sink."""
    e = MaildEnv(
        tmp_path,
        db_url=f"sqlite:///{tmp_path / 'maild.db'}",
        imap_port=imap_box.port,
        smtp_port=smtp_sink.port,
        overrides=_overrides(request),
    )
    e.setup_world()
    yield e


@pytest.fixture
def pg_env(
    tmp_path: Path, imap_box: Any, smtp_sink: Any, postgres_url: str, request: pytest.FixtureRequest
) -> Iterator[MaildEnv]:
    """The same on PostgreSQL (a fresh database per test)."""
    import psycopg

    name = f"e2e_{secrets.token_hex(6)}_{tmp_path.name.replace('-', '_')[-30:].lower()}"
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    e = MaildEnv(
        tmp_path, db_url=url, imap_port=imap_box.port, smtp_port=smtp_sink.port, overrides=_overrides(request)
    )
    e.setup_world()
    try:
        yield e
    finally:
        from sqlalchemy import create_engine

        create_engine(url).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
