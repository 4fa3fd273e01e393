"""Reading a TOML configuration: tables whose every key is accounted for, and checked values.

Owns the generic half of the configuration. `TomlTable` ticks off each key
it is asked for, so whatever is left over is an unknown key (with a "did you
mean" suggestion); its readers turn TOML values into typed ones: durations,
sizes, e-mail addresses, business calendars (time spans per weekday,
holidays) and secrets (inline, from a file under systemd's
$CREDENTIALS_DIRECTORY, or from an environment variable). Every refusal is
a ConfigError naming the dotted key, which is what lets the command line
exit 2 with one clear sentence.

What the keys are and what they default to is config.py's business (the
schema); nothing here knows a section name.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maild.errors import ConfigError
from maild.mailids import is_email_address
from maild.policy.sla import BusinessCalendar, parse_duration

__all__ = [
    "TomlTable",
    "address_value",
    "business_calendar",
    "plain_address",
    "read_toml",
    "suggest",
    "time_span",
]

T = TypeVar("T")

_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}
# Possessive: whitespace, digits and unit letters never overlap, so nothing is given back.
_SIZE = re.compile(r"^\s*+(\d++)\s*+([kmg]?i?b?)\s*+$", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TomlTable:
    """One TOML table being consumed: every key read is ticked off, the rest are unknown."""

    def __init__(self, prefix: str, data: object) -> None:
        if not isinstance(data, dict):
            raise ConfigError(prefix, "must be a table")
        self.prefix = prefix
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted name errors use: `support.address`, `escalation.levels[0].percent`."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str) -> Any:
        self.seen.add(name)
        return self.data.get(name)

    def sub(self, name: str) -> TomlTable:
        self.seen.add(name)
        return TomlTable(self.key(name), self.data.get(name, {}))

    def typed(self, name: str, kind: type[T], default: T | None = None, *, required: bool = False) -> T:
        value = self.raw(name)
        if value is None:
            if required:
                raise ConfigError(self.key(name), "is required")
            return default  # type: ignore[return-value]
        if kind is int and isinstance(value, bool):
            raise ConfigError(self.key(name), f"must be an integer, not {value!r}")
        if not isinstance(value, kind):
            kind_name = _KIND_NAMES.get(kind, kind.__name__)
            raise ConfigError(self.key(name), f"must be {kind_name}, not {type(value).__name__} {value!r}")
        return value

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        return self.typed(name, str, default, required=required)

    def optional_string(self, name: str) -> str | None:
        """The string, or None when absent or empty: "" means "not set" for optional keys."""
        value = self.typed(name, str, None)
        return value or None

    def boolean(self, name: str, default: bool) -> bool:
        return self.typed(name, bool, default)

    def integer(self, name: str, default: int, low: int | None = None, high: int | None = None) -> int:
        value = self.typed(name, int, default)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(self.key(name), f"must be between {low} and {high}, not {value}")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        if value not in options:
            raise ConfigError(
                self.key(name), f"must be one of {', '.join(map(repr, options))}, not {value!r}"
            )
        return value

    def duration(self, name: str, default: str, *, positive: bool = True) -> timedelta:
        return duration_value(self.key(name), self.string(name, default), positive=positive)

    def optional_duration(self, name: str) -> timedelta | None:
        """A duration that switches something on; unset (or "") leaves it off."""
        value = self.optional_string(name)
        return None if value is None else duration_value(self.key(name), value)

    def size(self, name: str, default: str) -> int:
        """Bytes, given as a number or as text like "25MB"."""
        value = self.raw(name)
        if value is None:
            value = default
        if isinstance(value, int) and not isinstance(value, bool):
            if value <= 0:
                raise ConfigError(self.key(name), "must be positive")
            return value
        if not isinstance(value, str):
            raise ConfigError(self.key(name), f'must be a size like "25MB", not {value!r}')
        return size_value(self.key(name), value)

    def addresses(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(self.key(name), "must be a list of email addresses")
        return tuple(address_value(f"{self.key(name)}[{i}]", v) for i, v in enumerate(value))

    def lowercase_names(self, name: str, what: str) -> tuple[str, ...]:
        """A list of non-empty strings (host names, ids), stripped and lower-cased; () when absent."""
        value = self.raw(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(self.key(name), f"must be a list of {what}")
        return tuple(v.strip().lower() for v in value)

    def dates(self, name: str) -> frozenset[date] | None:
        """A list of dates (TOML dates or "2026-12-31" strings), or None when absent."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise ConfigError(self.key(name), 'must be a list of dates like "2026-12-31"')
        found: set[date] = set()
        for i, item in enumerate(value):
            try:
                found.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
            except ValueError:
                raise ConfigError(f"{self.key(name)}[{i}]", f"{item!r} is not a date") from None
        return frozenset(found)

    def secret(self, name: str, *, required: bool) -> str | None:
        """`name`, `name_file` or `name_env`: exactly one of them."""
        variants = (name, f"{name}_file", f"{name}_env")
        given = [n for n in variants if self.has(n)]
        self.seen.update(variants)
        if len(given) > 1:
            raise ConfigError(self.key(given[1]), f"give only one of {', '.join(given)}")
        if not given:
            if required:
                raise ConfigError(self.key(name), f"is required (or {name}_file / {name}_env)")
            return None
        key = given[0]
        value = self.data[key]
        if not isinstance(value, str) or not value:
            raise ConfigError(self.key(key), "must be a non-empty string")
        if key.endswith("_file"):
            return _read_secret_file(self.key(key), value)
        if key.endswith("_env"):
            env = os.environ.get(value)
            if not env:
                raise ConfigError(self.key(key), f"environment variable {value} is not set or empty")
            return env
        return value

    def finish(self) -> None:
        """Refuse whatever key nobody asked for: a typo must not silently mean a default."""
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(self.key(unknown[0]), "unknown key", suggest(unknown[0], self.seen))


def suggest(name: str, known: set[str]) -> str:
    """'did you mean …?' for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def duration_value(key: str, text: str, *, positive: bool = True) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as e:
        raise ConfigError(key, f"{e}", 'durations look like "90s", "15m", "1h30m", "2d"') from None
    if positive and value <= timedelta(0):
        raise ConfigError(key, "must be longer than zero")
    return value


def size_value(key: str, text: str) -> int:
    m = _SIZE.match(text)
    if not m:
        raise ConfigError(
            key, f"{text!r} is not a size", 'sizes look like "25MB", "512KB" or a number of bytes'
        )
    unit = m.group(2).lower().rstrip("b").rstrip("i")
    value = int(m.group(1)) * _SIZE_UNITS[unit]
    if value <= 0:
        raise ConfigError(key, "must be positive")
    return value


def plain_address(value: str) -> str | None:
    """`value` as one plain `local@domain` address, stripped and lower-cased, or None.

    An address an operator types (mailids.is_email_address): no display
    name, no comment, no list.
    """
    text = value.strip()
    return text.lower() if is_email_address(text) else None


def address_value(key: str, value: str) -> str:
    address = plain_address(value)
    if address is None:
        raise ConfigError(key, f"{value.strip()!r} is not an email address")
    return address


def time_span(key: str, text: str) -> tuple[time, time]:
    """A span like "09:00-17:00" as (start, end); "24:00" ends at the last second of the day."""
    m = _HOURS.match(text.strip())
    if not m:
        raise ConfigError(key, f'{text!r} is not a span like "09:00-17:00"')
    h1, m1, h2, m2 = map(int, m.groups())
    try:
        start, end = time(h1, m1), time(h2, m2) if (h2, m2) != (24, 0) else time(23, 59, 59)
    except ValueError:
        raise ConfigError(key, f"{text!r} is not a valid time span") from None
    if end <= start:
        raise ConfigError(key, f"{text!r} ends before it starts")
    return start, end


def business_calendar(t: TomlTable) -> BusinessCalendar | None:
    """A table's business hours (timezone, hours, holidays), or None for around the clock.

    [sla] and each [sla.plans.<name>] hold one.
    """
    tz_name = t.optional_string("timezone")
    hours = t.sub("hours")
    if tz_name is None and not hours.data and not t.has("holidays"):
        hours.finish()
        return None
    if tz_name is None:
        raise ConfigError(t.key("timezone"), "is required with business hours")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(t.key("timezone"), f"{tz_name!r} is not an IANA time zone") from None
    weekly = _weekly_hours(hours)
    holidays = t.dates("holidays") or frozenset()
    return BusinessCalendar(tz=tz, weekly=weekly, holidays=holidays)


def _weekly_hours(hours: TomlTable) -> dict[int, tuple[tuple[time, time], ...]]:
    """[...hours]: weekday -> its spans; a day not listed is closed."""
    weekly: dict[int, tuple[tuple[time, time], ...]] = {}
    for day in list(hours.data):
        if day not in _WEEKDAYS:
            raise ConfigError(hours.key(day), "unknown weekday (use mon … sun)")
        spans = hours.raw(day)
        spans = [spans] if isinstance(spans, str) else spans
        if not isinstance(spans, list) or not all(isinstance(s, str) for s in spans):
            raise ConfigError(hours.key(day), 'must be "09:00-17:00" or a list of such spans')
        weekly[_WEEKDAYS.index(day)] = tuple(time_span(hours.key(day), s) for s in spans)
    hours.finish()
    if not weekly:
        raise ConfigError(hours.key("mon"), "business hours need at least one day")
    return weekly


def _read_secret_file(key: str, value: str) -> str:
    path = Path(value)
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not path.is_absolute() and creds:
        path = Path(creds) / path
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(key, f"cannot read {path}: {e.strerror or e}") from None
    if not text:
        raise ConfigError(key, f"{path} is empty")
    return text


def read_toml(path: Path) -> dict[str, Any]:
    """The decoded TOML document at `path`; an unreadable or invalid file is a ConfigError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "", f"config file {path} does not exist", "pass --config PATH or set MAILD_CONFIG"
        ) from None
    except OSError as e:
        raise ConfigError("", f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("", f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("", f"{path} is not valid TOML: {e}") from None
