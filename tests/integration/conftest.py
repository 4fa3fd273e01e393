"""Integration fixtures: maild wired to the real Dovecot, sink and database; SMTP servers for the sender."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from maild.demo.sink import SinkServer
from tests.integration.env import MaildEnv
from tests.integration.smtp_servers import Recorder, StartServer, free_port


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


# ------------------------------------------------------------------ SMTP servers for the sender's tests


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkServer]:
    """A sink of the test's own (not the session's smtp_sink): tests may stop it and count its sessions."""
    server = SinkServer(tmp_path / "sink").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (IP SAN), so verification against it can succeed."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start aiosmtpd Controllers with the given options; all are stopped after the test."""
    controllers: list[Controller] = []

    def start(recorder: Recorder | None = None, **options: Any) -> tuple[Recorder, int]:
        recorder = recorder or Recorder()
        port = free_port()
        controller = Controller(
            recorder, hostname="127.0.0.1", port=port, server_hostname="test.localhost", **options
        )
        controller.start()
        controllers.append(controller)
        return recorder, port

    yield start
    for controller in controllers:
        controller.stop()
