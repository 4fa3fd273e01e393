"""Log lines: one event per line, as text or JSON, with the case and Message-ID as fields."""

from __future__ import annotations

import json
import logging

import pytest

from maild.logs import setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_case_and_message_id(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "json")
    logging.getLogger("maild.daemon.ingest").info(
        "message %s outcome=%s",
        "1:7",
        "comment_added",
        extra={"case": "00000042", "message_id": "<a@b>", "outcome": "comment_added"},
    )
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    event = json.loads(line)
    assert (
        event["case"] == "00000042" and event["message_id"] == "<a@b>" and event["outcome"] == "comment_added"
    )
    assert event["level"] == "info" and event["message"] == "message 1:7 outcome=comment_added"
    assert event["time"].endswith("Z")


def test_text_lines_fold_newlines_and_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "text")
    log = logging.getLogger("maild.test")
    log.warning("first line\nsecond line\r\nthird")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = capsys.readouterr().err.strip().split("\n")
    assert len(lines) == 2, lines
    assert "first line | second line" in lines[0]
    assert "ValueError: boom" in lines[1]


def test_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("warning", "text")
    logging.getLogger("maild.x").info("hidden")
    logging.getLogger("maild.x").warning("shown")
    err = capsys.readouterr().err
    assert "shown" in err and "hidden" not in err
