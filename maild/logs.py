"""Logging to stderr, one event per line, as text or JSON lines.

systemd's journal and any log shipper read stderr; one line per event keeps
grep and JSON parsers happy. Multi-line values (tracebacks only appear with
--debug) are folded so an event never spans lines. A message can quote mail
or a driver's error, so control characters are shown as escapes (in JSON as
\\uXXXX, which parses back to the same text) and passwords are masked (SPEC §8).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from maild.safetext import json_safe, redact, visible


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = record.getMessage()
        if record.exc_info:
            text += " | " + self.formatException(record.exc_info)
        return f"{when} {record.levelname.lower()} {visible(record.name)}: {visible(redact(_one_line(text)))}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in ("case", "message_id", "outcome"):
            value = getattr(record, key, None)
            if value is not None:
                event[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            event["exception"] = redact(self.formatException(record.exc_info))
        return json_safe(json.dumps(event, ensure_ascii=False))


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", " | ")


def setup_logging(level: str = "info", fmt: str = "text", debug: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO))
    for noisy in ("aiosmtpd", "mail.log", "imapclient", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
