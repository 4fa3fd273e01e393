"""TOML configuration -> frozen, validated settings.

Owns the one configuration schema. Everything is checked once, at start-up:
an unknown key, a wrong type or a bad value raises ConfigError naming the
dotted key, so the command line can exit 2 with one clear sentence. Secrets
may come inline, from a file (relative paths resolve against systemd's
$CREDENTIALS_DIRECTORY when it is set) or from an environment variable.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maild.errors import ConfigError
from maild.policy.sla import BusinessCalendar, EscalationLevel, parse_duration
from maild.safetext import redact_url

DEFAULT_CONFIG_PATH = Path("/etc/maild/maild.toml")
SEVERITIES = (1, 2, 3, 4)
DEFAULT_TARGETS = {1: timedelta(hours=1), 2: timedelta(hours=2), 3: timedelta(hours=4), 4: timedelta(hours=8)}
LANGUAGES = ("en", "ja")

Security = Literal["tls", "starttls", "none"]
T = TypeVar("T")


@dataclass(frozen=True)
class DatabaseSettings:
    url: str


@dataclass(frozen=True)
class MailboxSettings:
    protocol: Literal["imap", "maildir"]
    host: str
    port: int
    security: Security
    username: str
    password: str
    folder: str
    poll_interval: timedelta
    path: Path | None
    processed_folder: str | None
    failed_folder: str
    batch_size: int
    idle: bool
    timeout: timedelta
    ca_file: str | None
    verify_tls: bool

    @property
    def name(self) -> str:
        """The stable identifier under which this mailbox's messages are recorded."""
        if self.protocol == "maildir":
            return f"maildir:{self.path}"
        return f"imap://{self.username}@{self.host}:{self.port}/{self.folder}"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: Security
    username: str | None
    password: str | None
    timeout: timedelta
    ca_file: str | None
    verify_tls: bool
    connections: int


@dataclass(frozen=True)
class SupportSettings:
    address: str
    name: str
    secret: str
    restrict_to_designated_contacts: bool
    helpdesk_message: str | None
    default_severity: int
    default_language: str
    require_reply_token: bool
    collaborators: Literal["any", "account_domains", "none"]
    reopen_window: timedelta
    max_attachment_size: int
    agent_address: str | None
    other_addresses: tuple[str, ...]
    notice_interval: timedelta
    trusted_authserv_ids: tuple[str, ...]
    unproven: Literal["hold", "refuse", "accept"] = "hold"
    max_new_collaborators: int = 10
    max_collaborators: int = 50
    notice_limit: int = 100

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]

    @property
    def own_addresses(self) -> tuple[str, ...]:
        """Addresses whose mail is ours: a message from one of them is a loop."""
        return (self.address, *self.other_addresses)


@dataclass(frozen=True)
class Plan:
    name: str
    targets: Mapping[int, timedelta]
    calendar: BusinessCalendar | None


@dataclass(frozen=True)
class SlaSettings:
    plans: Mapping[str, Plan]

    def plan(self, name: str | None) -> Plan:
        """The account's plan, or the default one when it names none we know."""
        return self.plans.get(name or "default") or self.plans["default"]


@dataclass(frozen=True)
class EscalationSettings:
    recipients: tuple[str, ...]
    notify_contacts: bool
    levels: tuple[EscalationLevel, ...]


@dataclass(frozen=True)
class OutboxSettings:
    batch_size: int
    retry_initial: timedelta
    retry_max: timedelta
    give_up_after: timedelta


@dataclass(frozen=True)
class LoggingSettings:
    level: str
    format: Literal["text", "json"]


@dataclass(frozen=True)
class DaemonSettings:
    shutdown_timeout: timedelta


@dataclass(frozen=True)
class MetricsSettings:
    listen: str | None


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    mailbox: MailboxSettings
    smtp: SmtpSettings
    support: SupportSettings
    sla: SlaSettings
    escalation: EscalationSettings
    outbox: OutboxSettings
    logging: LoggingSettings
    metrics: MetricsSettings
    daemon: DaemonSettings
    templates_path: Path | None
    source: Path | None = field(default=None, compare=False)
    # [mailboxes.<label>]: more mailboxes (e.g. one per language or product), each
    # with [mailbox]'s keys and taking the ones it does not set from [mailbox].
    extra_mailboxes: tuple[MailboxSettings, ...] = ()

    @property
    def mailboxes(self) -> tuple[MailboxSettings, ...]:
        """Every mailbox maild reads: [mailbox] first, then [mailboxes.*] in file order."""
        return (self.mailbox, *self.extra_mailboxes)


# --------------------------------------------------------------------------- reading helpers


class _Table:
    """One TOML table being consumed: every key read is ticked off, the rest are unknown."""

    def __init__(self, prefix: str, data: object) -> None:
        if not isinstance(data, dict):
            raise ConfigError(prefix, "must be a table")
        self.prefix = prefix
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str) -> Any:
        self.seen.add(name)
        return self.data.get(name)

    def sub(self, name: str) -> _Table:
        self.seen.add(name)
        return _Table(self.key(name), self.data.get(name, {}))

    def typed(self, name: str, kind: type[T], default: T | None = None, *, required: bool = False) -> T:
        value = self.raw(name)
        if value is None:
            if required:
                raise ConfigError(self.key(name), "is required")
            return default  # type: ignore[return-value]
        if kind is int and isinstance(value, bool):
            raise ConfigError(self.key(name), f"must be an integer, not {value!r}")
        if not isinstance(value, kind):
            raise ConfigError(
                self.key(name), f"must be {_kind_name(kind)}, not {type(value).__name__} {value!r}"
            )
        return value

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        return self.typed(name, str, default, required=required)

    def optional_string(self, name: str) -> str | None:
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
        return _duration(self.key(name), self.string(name, default), positive=positive)

    def size(self, name: str, default: str) -> int:
        value = self.raw(name)
        if value is None:
            value = default
        if isinstance(value, int) and not isinstance(value, bool):
            if value <= 0:
                raise ConfigError(self.key(name), "must be positive")
            return value
        if not isinstance(value, str):
            raise ConfigError(self.key(name), f'must be a size like "25MB", not {value!r}')
        return _size(self.key(name), value)

    def addresses(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(self.key(name), "must be a list of email addresses")
        return tuple(_address(f"{self.key(name)}[{i}]", v) for i, v in enumerate(value))

    def secret(self, name: str, *, required: bool) -> str | None:
        """`name`, `name_file` or `name_env`: exactly one of them."""
        given = [n for n in (name, f"{name}_file", f"{name}_env") if self.has(n)]
        for n in (name, f"{name}_file", f"{name}_env"):
            self.seen.add(n)
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
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(self.key(unknown[0]), "unknown key", _suggest(unknown[0], self.expected()))

    def expected(self) -> set[str]:
        return set(self.seen)


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a table"}.get(
        kind, kind.__name__
    )


def _suggest(name: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def _duration(key: str, text: str, *, positive: bool = True) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as e:
        raise ConfigError(key, f"{e}", 'durations look like "90s", "15m", "1h30m", "2d"') from None
    if positive and value <= timedelta(0):
        raise ConfigError(key, "must be longer than zero")
    return value


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?i?b?)\s*$", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _size(key: str, text: str) -> int:
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


_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def _address(key: str, value: str) -> str:
    value = value.strip()
    if not _ADDRESS.match(value):
        raise ConfigError(key, f"{value!r} is not an email address")
    return value.lower()


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


# --------------------------------------------------------------------------- sections


def _database(t: _Table) -> DatabaseSettings:
    url = t.string("url", "sqlite:////var/lib/maild/maild.db")
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        shown = redact_url(url)
        raise ConfigError(t.key("url"), f"{shown!r} is not a sqlite:// or postgresql+psycopg:// URL")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    t.finish()
    return DatabaseSettings(url=url)


def _security(t: _Table, default: str) -> Security:
    return t.choice("security", ("tls", "starttls", "none"), default)  # type: ignore[return-value]


def _mailbox(t: _Table) -> MailboxSettings:
    protocol = t.choice("protocol", ("imap", "maildir"), "imap")
    security = _security(t, "tls")
    imap = protocol == "imap"
    port = t.integer("port", 993 if security == "tls" else 143, 1, 65535)
    path_text = t.optional_string("path")
    if protocol == "maildir" and not path_text:
        raise ConfigError(t.key("path"), 'is required when protocol = "maildir"')
    settings = MailboxSettings(
        protocol=protocol,  # type: ignore[arg-type]
        host=t.string("host", required=imap) if imap else t.string("host", "127.0.0.1"),
        port=port,
        security=security,
        username=t.string("username", required=imap) if imap else t.string("username", ""),
        password=(t.secret("password", required=imap) or ""),
        folder=t.string("folder", "INBOX"),
        poll_interval=t.duration("poll_interval", "30s"),
        path=Path(path_text) if path_text else None,
        processed_folder=t.optional_string("processed_folder"),
        failed_folder=t.string("failed_folder", "maild-failed"),
        batch_size=t.integer("batch_size", 100, 1, 10_000),
        idle=t.boolean("idle", True),
        timeout=t.duration("timeout", "60s"),
        ca_file=t.optional_string("ca_file"),
        verify_tls=t.boolean("verify_tls", True),
    )
    t.finish()
    return settings


def _extra_mailboxes(root: _Table, first: MailboxSettings | None) -> tuple[MailboxSettings, ...]:
    """[mailboxes.<label>] tables: [mailbox]'s keys, each one defaulting to [mailbox]'s value."""
    if "mailboxes" not in root.data:
        return ()
    tables = root.sub("mailboxes")
    given = root.data.get("mailbox")
    base: dict[str, Any] = given if isinstance(given, dict) else {}
    out: list[MailboxSettings] = []
    names = {first.name: "[mailbox]"} if first is not None else {}
    for label, data in tables.data.items():
        prefix = tables.key(label)
        if not isinstance(data, dict):
            raise ConfigError(prefix, "must be a table of mailbox keys, like [mailbox]")
        settings = _mailbox(_Table(prefix, {**base, **data}))
        if settings.name in names:
            raise ConfigError(prefix, f"is the same mailbox as {names[settings.name]} ({settings.name})")
        names[settings.name] = f"[{prefix}]"
        out.append(settings)
    return tuple(out)


def _smtp(t: _Table) -> SmtpSettings:
    security = _security(t, "starttls")
    username = t.optional_string("username")
    password = t.secret("password", required=False)
    if password and not username:
        raise ConfigError(t.key("username"), "is required when a password is given")
    settings = SmtpSettings(
        host=t.string("host", "127.0.0.1"),
        port=t.integer("port", {"tls": 465, "starttls": 587, "none": 25}[security], 1, 65535),
        security=security,
        username=username,
        password=password,
        timeout=t.duration("timeout", "30s"),
        ca_file=t.optional_string("ca_file"),
        verify_tls=t.boolean("verify_tls", True),
        connections=t.integer("connections", 4, 1, 32),
    )
    t.finish()
    return settings


def config_warnings(settings: Settings) -> list[str]:
    """Valid settings that an operator of a public address should think twice about."""
    warnings = []
    if settings.support.unproven == "accept":
        warnings.append(
            'support.unproven = "accept": comments are added on the From header alone, which anyone '
            "can forge (spoofable); agents and commands still need proof"
        )
    return warnings


def _authserv_ids(t: _Table) -> tuple[str, ...]:
    value = t.raw("trusted_authserv_ids")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(
            t.key("trusted_authserv_ids"), 'must be a list of authserv-ids like "mx.example.com"'
        )
    return tuple(v.strip().lower() for v in value)


def _support(t: _Table) -> SupportSettings:
    address = _address(t.key("address"), t.string("address", required=True))
    if "+" in address.split("@")[0]:
        raise ConfigError(
            t.key("address"), "must not contain '+': maild issues support+TOKEN@ reply addresses"
        )
    helpdesk = t.optional_string("helpdesk_message")
    if helpdesk is not None and len(helpdesk) > 120:
        raise ConfigError(t.key("helpdesk_message"), f"is {len(helpdesk)} characters long; at most 120")
    default_language = t.choice("default_language", LANGUAGES, "en")
    agent_address = t.optional_string("agent_address")
    settings = SupportSettings(
        address=address,
        name=t.string("name", "Support"),
        secret=t.secret("secret", required=True) or "",
        restrict_to_designated_contacts=t.boolean("restrict_to_designated_contacts", True),
        helpdesk_message=helpdesk,
        default_severity=t.integer("default_severity", 3, 1, 4),
        default_language=default_language,
        require_reply_token=t.boolean("require_reply_token", False),
        collaborators=t.choice("collaborators", ("any", "account_domains", "none"), "any"),  # type: ignore[arg-type]
        reopen_window=t.duration("reopen_window", "14d"),
        max_attachment_size=t.size("max_attachment_size", "25MB"),
        agent_address=_address(t.key("agent_address"), agent_address) if agent_address else None,
        other_addresses=t.addresses("other_addresses"),
        notice_interval=t.duration("notice_interval", "1h"),
        trusted_authserv_ids=_authserv_ids(t),
        unproven=t.choice("unproven", ("hold", "refuse", "accept"), "hold"),  # type: ignore[arg-type]
        max_new_collaborators=t.integer("max_new_collaborators", 10, 0, 1000),
        max_collaborators=t.integer("max_collaborators", 50, 0, 10000),
        notice_limit=t.integer("notice_limit", 100, 0, 1_000_000),
    )
    if len(settings.secret) < 16:
        raise ConfigError(t.key("secret"), "must be at least 16 characters (it signs reply addresses)")
    t.finish()
    return settings


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _targets(t: _Table, fallback: Mapping[int, timedelta]) -> dict[int, timedelta]:
    targets = dict(fallback)
    for key in list(t.data):
        if key not in {str(s) for s in SEVERITIES}:
            raise ConfigError(t.key(key), "unknown severity (use 1, 2, 3 or 4)")
        targets[int(key)] = t.duration(key, "1h")
    t.finish()
    return targets


def _calendar(t: _Table) -> BusinessCalendar | None:
    tz_name = t.optional_string("timezone")
    hours = t.sub("hours")
    holidays_raw = t.raw("holidays")
    if tz_name is None and not hours.data and holidays_raw is None:
        hours.finish()
        return None
    if tz_name is None:
        raise ConfigError(t.key("timezone"), "is required with business hours")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(t.key("timezone"), f"{tz_name!r} is not an IANA time zone") from None
    weekly: dict[int, tuple[tuple[time, time], ...]] = {}
    for day in list(hours.data):
        if day not in _WEEKDAYS:
            raise ConfigError(hours.key(day), "unknown weekday (use mon … sun)")
        spans = hours.raw(day)
        spans = [spans] if isinstance(spans, str) else spans
        if not isinstance(spans, list) or not all(isinstance(s, str) for s in spans):
            raise ConfigError(hours.key(day), 'must be "09:00-17:00" or a list of such spans')
        weekly[_WEEKDAYS.index(day)] = tuple(_span(hours.key(day), s) for s in spans)
    hours.finish()
    if not weekly:
        raise ConfigError(hours.key("mon"), "business hours need at least one day")
    holidays: set[date] = set()
    if holidays_raw is not None:
        if not isinstance(holidays_raw, list):
            raise ConfigError(t.key("holidays"), 'must be a list of dates like "2026-12-31"')
        for i, item in enumerate(holidays_raw):
            try:
                holidays.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
            except ValueError:
                raise ConfigError(f"{t.key('holidays')}[{i}]", f"{item!r} is not a date") from None
    return BusinessCalendar(tz=tz, weekly=weekly, holidays=frozenset(holidays))


def _span(key: str, text: str) -> tuple[time, time]:
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


def _sla(t: _Table) -> SlaSettings:
    default_targets = _targets(t.sub("initial_response"), DEFAULT_TARGETS)
    calendar = _calendar(t)
    plans: dict[str, Plan] = {"default": Plan("default", default_targets, calendar)}
    plans_table = t.sub("plans")
    for name in list(plans_table.data):
        p = plans_table.sub(name)
        plans[name] = Plan(name, _targets(p.sub("initial_response"), default_targets), _calendar(p))
        p.finish()
    plans_table.finish()
    t.finish()
    return SlaSettings(plans=plans)


def _escalation(t: _Table) -> EscalationSettings:
    recipients = t.addresses("recipients")
    levels_raw = t.raw("levels")
    levels: list[EscalationLevel] = []
    if levels_raw is None:
        levels.append(EscalationLevel(level=1, percent=100, recipients=recipients))
    else:
        if not isinstance(levels_raw, list) or not levels_raw:
            raise ConfigError(
                t.key("levels"), "must be a list of tables like {percent = 200, recipients = [...]}"
            )
        for i, item in enumerate(levels_raw):
            lt = _Table(f"{t.key('levels')}[{i}]", item)
            percent = lt.integer("percent", 100 * (i + 1), 1, 100_000)
            extra = lt.addresses("recipients")
            lt.finish()
            levels.append(EscalationLevel(level=i + 1, percent=percent, recipients=extra or recipients))
        if [lv.percent for lv in levels] != sorted({lv.percent for lv in levels}):
            raise ConfigError(t.key("levels"), "percentages must increase from one level to the next")
    settings = EscalationSettings(
        recipients=recipients, notify_contacts=t.boolean("notify_contacts", True), levels=tuple(levels)
    )
    t.finish()
    return settings


def _outbox(t: _Table) -> OutboxSettings:
    settings = OutboxSettings(
        batch_size=t.integer("batch_size", 200, 1, 10_000),
        retry_initial=t.duration("retry_initial", "30s"),
        retry_max=t.duration("retry_max", "1h"),
        give_up_after=t.duration("give_up_after", "3d"),
    )
    t.finish()
    return settings


def _logging(t: _Table) -> LoggingSettings:
    level = t.choice("level", ("debug", "info", "warning", "error"), "info")
    fmt = t.choice("format", ("text", "json"), "text")
    t.finish()
    return LoggingSettings(level=level, format=fmt)  # type: ignore[arg-type]


_LISTEN = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


def _metrics(t: _Table) -> MetricsSettings:
    listen = t.optional_string("listen")
    if listen is not None:
        m = _LISTEN.match(listen)
        if not m or not 0 < int(m.group(1)) < 65536:
            raise ConfigError(t.key("listen"), f"{listen!r} is not host:port", 'e.g. "127.0.0.1:9464"')
    t.finish()
    return MetricsSettings(listen=listen)


def _daemon(t: _Table) -> DaemonSettings:
    settings = DaemonSettings(shutdown_timeout=t.duration("shutdown_timeout", "30s"))
    t.finish()
    return settings


SECTIONS: dict[str, Callable[[_Table], Any]] = {
    "database": _database,
    "mailbox": _mailbox,
    "smtp": _smtp,
    "support": _support,
    "sla": _sla,
    "escalation": _escalation,
    "outbox": _outbox,
    "logging": _logging,
    "metrics": _metrics,
    "daemon": _daemon,
}


def parse_settings(data: Mapping[str, Any], source: Path | None = None) -> Settings:
    """Validate a decoded TOML document.

    Each section is checked on its own, so one run reports the first problem of
    every section (ConfigErrors); the first of them names the key for scripts.
    """
    root = _Table("", dict(data))
    problems: list[ConfigError] = []
    known = set(SECTIONS) | {"templates", "mailboxes"}
    for name in root.data:
        if name not in known:
            problems.append(ConfigError(name, "unknown section", _suggest(name, known)))
    if "support" not in root.data:
        problems.append(ConfigError("support", "is required (at least support.address and support.secret)"))
    if "mailbox" not in root.data:
        problems.append(ConfigError("mailbox", "is required"))
    built: dict[str, Any] = {}
    for name, parse in SECTIONS.items():
        if name in ("support", "mailbox") and name not in root.data:
            continue
        try:
            built[name] = parse(root.sub(name))
        except ConfigError as e:
            problems.append(e)
    extra: tuple[MailboxSettings, ...] = ()
    try:
        extra = _extra_mailboxes(root, built.get("mailbox"))
    except ConfigError as e:
        problems.append(e)
    templates_path: str | None = None
    try:
        templates = root.sub("templates")
        templates_path = templates.optional_string("path")
        templates.finish()
    except ConfigError as e:
        problems.append(e)
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    return Settings(
        **built,
        templates_path=Path(templates_path) if templates_path else None,
        source=source,
        extra_mailboxes=extra,
    )


class ConfigErrors(ConfigError):
    """Several configuration problems at once; `key` is the first one's."""

    def __init__(self, problems: list[ConfigError]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.key, first.problem, first.hint)
        self.args = ("\n".join(str(p) for p in problems),)

    def __str__(self) -> str:
        return str(self.args[0])


def load_settings(path: Path) -> Settings:
    """Read and validate the file at `path`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "", f"config file {path} does not exist", "pass --config PATH or set MAILD_CONFIG"
        ) from None
    except OSError as e:
        raise ConfigError("", f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("", f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("", f"{path} is not valid TOML: {e}") from None
    return parse_settings(data, source=path)


def config_path(cli_value: str | None) -> Path:
    """--config, else $MAILD_CONFIG, else /etc/maild/maild.toml."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get("MAILD_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG_PATH
