"""Shared fixtures: real servers on 127.0.0.1 for the whole suite.

Dovecot and PostgreSQL live in their own modules (tests/fixtures/); the SMTP
sink is the project's own (maild/demo/sink.py), so only its wiring is here. The
sink is imported inside the fixture so that unit tests never pay for (or
depend on) aiosmtpd.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from maild.demo.sink import SinkServer

pytest_plugins = ["tests.fixtures.dovecot", "tests.fixtures.postgres"]


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkServer]:
    """One SMTP sink for the session on 127.0.0.1 (`.port` set); messages stored on disk."""
    from maild.demo.sink import SinkServer

    server = SinkServer(tmp_path_factory.mktemp("smtp-sink")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_sink(smtp_server: SinkServer) -> SinkServer:
    """The session sink, listening again if a test stopped it, emptied and without injected faults."""
    from tests.fixtures.dovecot import port_open

    if not port_open(smtp_server.port):
        smtp_server.stop()
        smtp_server.start()
    smtp_server.clear()
    smtp_server.fail_next(0, 0)
    return smtp_server
