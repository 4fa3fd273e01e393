"""The settings schema: every section and key of maild.toml -> frozen, validated settings.

Owns what the keys are, their defaults and how they depend on each other;
configread.py reads the values (types, durations, sizes, secrets, business
hours) and names the dotted key in every error. Everything is checked once,
at start-up: an unknown key, a wrong type or a bad value raises ConfigError,
so the command line can exit 2 with one clear sentence.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

from maild.configread import TomlTable, address_value, business_calendar, read_toml, suggest
from maild.configteams import RoutingSettings, TeamSettings, check_team_name, routing_section, teams_section
from maild.configtransport import (
    LmtpSettings,
    MailboxSettings,
    SmtpSettings,
    extra_mailboxes,
    lmtp_section,
    mailbox_section,
    resolve_refresh_token_files,
    smtp_section,
)
from maild.errors import ConfigError
from maild.locales import language_codes
from maild.policy.sla import BusinessCalendar, EscalationLevel
from maild.policy.teams import TeamRouting
from maild.safetext import redact_url

T = TypeVar("T")

DEFAULT_CONFIG_PATH = Path("/etc/maild/maild.toml")
SEVERITIES = (1, 2, 3, 4)
DEFAULT_TARGETS = {1: timedelta(hours=1), 2: timedelta(hours=2), 3: timedelta(hours=4), 4: timedelta(hours=8)}


@dataclass(frozen=True)
class DatabaseSettings:
    url: str


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
    # SPEC §11: next-response targets per severity; empty means no next-response clock.
    next_response: Mapping[int, timedelta] = field(default_factory=dict)


@dataclass(frozen=True)
class SlaSettings:
    plans: Mapping[str, Plan]
    # SPEC §11: while waiting on the customer, one reminder and then the automatic close (off when None).
    waiting_reminder: timedelta | None = None
    auto_close_after: timedelta | None = None

    def plan(self, name: str | None) -> Plan:
        """The account's plan, or the default one when it names none we know."""
        return self.plans.get(name or "default") or self.plans["default"]


@dataclass(frozen=True)
class EscalationSettings:
    recipients: tuple[str, ...]
    notify_contacts: bool
    levels: tuple[EscalationLevel, ...]
    warn_before: timedelta | None = None  # SPEC §11: one warning this long before each response deadline


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
    mailbox: MailboxSettings | None  # None only with [lmtp]: mail pushed by an MTA, none fetched
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
    lmtp: LmtpSettings | None = None
    # [teams.<name>] in file order, and [routing] (SPEC §10); none: one team, as before.
    teams: Mapping[str, TeamSettings] = field(default_factory=dict)
    routing: RoutingSettings = field(default_factory=RoutingSettings)

    def team(self, name: str | None) -> TeamSettings | None:
        """The configured team of this name (any case), or None."""
        if not name:
            return None
        found = self.teams.get(name)
        if found is not None:
            return found
        return next((t for n, t in self.teams.items() if n.lower() == name.lower()), None)

    @cached_property
    def team_routing(self) -> TeamRouting:
        """[teams.*] topics and [routing] as the pure router takes them, built once per configuration."""
        return TeamRouting(
            topics={word: t.name for t in self.teams.values() for word in t.topics},
            default_team=self.routing.default_team,
            designated_contacts_team=self.routing.designated_contacts_team,
        )

    def mailbox_team(self, mailbox_name: str) -> str | None:
        """The team of the mailbox recorded under `mailbox_name` (MailboxSettings.name), if it has one."""
        label = next((m.team for m in self.mailboxes if m.name == mailbox_name and m.team), None)
        team = self.team(label)
        return team.name if team else None

    @property
    def mailboxes(self) -> tuple[MailboxSettings, ...]:
        """Every mailbox maild reads: [mailbox] first, then [mailboxes.*] in file order."""
        return (self.mailbox, *self.extra_mailboxes) if self.mailbox else self.extra_mailboxes

    def mailbox_by_label(self, label: str | None) -> MailboxSettings:
        """[mailbox] for None or "", else [mailboxes.<label>]; ConfigError naming what exists."""
        for m in self.mailboxes:
            if m.label == (label or ""):
                return m
        known = ", ".join(m.label for m in self.extra_mailboxes) or "none"
        key = f"mailboxes.{label}" if label else "mailbox"
        raise ConfigError(key, "is not configured", f"configured labels: {known}")


# --------------------------------------------------------------------------- sections


def _database(t: TomlTable) -> DatabaseSettings:
    url = t.string("url", "sqlite:////var/lib/maild/maild.db")
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        shown = redact_url(url)
        raise ConfigError(t.key("url"), f"{shown!r} is not a sqlite:// or postgresql+psycopg:// URL")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    t.finish()
    return DatabaseSettings(url=url)


def config_warnings(settings: Settings) -> list[str]:
    """Valid settings that an operator of a public address should think twice about."""
    warnings = []
    if settings.support.unproven == "accept":
        warnings.append(
            'support.unproven = "accept": comments are added on the From header alone, which anyone '
            "can forge (spoofable); agents and commands still need proof"
        )
    return warnings


def _support(t: TomlTable) -> SupportSettings:
    address = address_value(t.key("address"), t.string("address", required=True))
    if "+" in address.split("@")[0]:
        raise ConfigError(
            t.key("address"), "must not contain '+': maild issues support+TOKEN@ reply addresses"
        )
    helpdesk = t.optional_string("helpdesk_message")
    if helpdesk is not None and len(helpdesk) > 120:
        raise ConfigError(t.key("helpdesk_message"), f"is {len(helpdesk)} characters long; at most 120")
    default_language = t.choice("default_language", language_codes(), "en")
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
        agent_address=address_value(t.key("agent_address"), agent_address) if agent_address else None,
        other_addresses=t.addresses("other_addresses"),
        notice_interval=t.duration("notice_interval", "1h"),
        trusted_authserv_ids=t.lowercase_names("trusted_authserv_ids", 'authserv-ids like "mx.example.com"'),
        unproven=t.choice("unproven", ("hold", "refuse", "accept"), "hold"),  # type: ignore[arg-type]
        max_new_collaborators=t.integer("max_new_collaborators", 10, 0, 1000),
        max_collaborators=t.integer("max_collaborators", 50, 0, 10000),
        notice_limit=t.integer("notice_limit", 100, 0, 1_000_000),
    )
    if len(settings.secret) < 16:
        raise ConfigError(t.key("secret"), "must be at least 16 characters (it signs reply addresses)")
    t.finish()
    return settings


def _targets(t: TomlTable, fallback: Mapping[int, timedelta]) -> dict[int, timedelta]:
    """Targets per severity, each falling back to `fallback`'s (the default plan's for a plan)."""
    targets = dict(fallback)
    for key in list(t.data):
        if key not in {str(s) for s in SEVERITIES}:
            raise ConfigError(t.key(key), "unknown severity (use 1, 2, 3 or 4)")
        targets[int(key)] = t.duration(key, "1h")
    t.finish()
    return targets


def _sla(t: TomlTable) -> SlaSettings:
    default_targets = _targets(t.sub("initial_response"), DEFAULT_TARGETS)
    default_next = _targets(t.sub("next_response"), {})
    calendar = business_calendar(t)
    plans: dict[str, Plan] = {"default": Plan("default", default_targets, calendar, default_next)}
    plans_table = t.sub("plans")
    for name in list(plans_table.data):
        p = plans_table.sub(name)
        plans[name] = Plan(
            name,
            _targets(p.sub("initial_response"), default_targets),
            business_calendar(p),
            _targets(p.sub("next_response"), default_next),
        )
        p.finish()
    plans_table.finish()
    reminder, auto_close = t.optional_duration("waiting_reminder"), t.optional_duration("auto_close_after")
    if reminder is not None and auto_close is not None and reminder >= auto_close:
        raise ConfigError(
            t.key("waiting_reminder"), "must be shorter than sla.auto_close_after (the reminder comes first)"
        )
    t.finish()
    return SlaSettings(plans=plans, waiting_reminder=reminder, auto_close_after=auto_close)


def _escalation(t: TomlTable) -> EscalationSettings:
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
            lt = TomlTable(f"{t.key('levels')}[{i}]", item)
            percent = lt.integer("percent", 100 * (i + 1), 1, 100_000)
            extra = lt.addresses("recipients")
            lt.finish()
            levels.append(EscalationLevel(level=i + 1, percent=percent, recipients=extra or recipients))
        if [lv.percent for lv in levels] != sorted({lv.percent for lv in levels}):
            raise ConfigError(t.key("levels"), "percentages must increase from one level to the next")
    settings = EscalationSettings(
        recipients=recipients,
        notify_contacts=t.boolean("notify_contacts", True),
        levels=tuple(levels),
        warn_before=t.optional_duration("warn_before"),
    )
    t.finish()
    return settings


def _outbox(t: TomlTable) -> OutboxSettings:
    settings = OutboxSettings(
        batch_size=t.integer("batch_size", 200, 1, 10_000),
        retry_initial=t.duration("retry_initial", "30s"),
        retry_max=t.duration("retry_max", "1h"),
        give_up_after=t.duration("give_up_after", "3d"),
    )
    t.finish()
    return settings


def _logging(t: TomlTable) -> LoggingSettings:
    level = t.choice("level", ("debug", "info", "warning", "error"), "info")
    fmt = t.choice("format", ("text", "json"), "text")
    t.finish()
    return LoggingSettings(level=level, format=fmt)  # type: ignore[arg-type]


_LISTEN = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


def _metrics(t: TomlTable) -> MetricsSettings:
    listen = t.optional_string("listen")
    if listen is not None:
        m = _LISTEN.match(listen)
        if not m or not 0 < int(m.group(1)) < 65536:
            raise ConfigError(t.key("listen"), f"{listen!r} is not host:port", 'e.g. "127.0.0.1:9464"')
    t.finish()
    return MetricsSettings(listen=listen)


def _daemon(t: TomlTable) -> DaemonSettings:
    settings = DaemonSettings(shutdown_timeout=t.duration("shutdown_timeout", "30s"))
    t.finish()
    return settings


SECTIONS: dict[str, Callable[[TomlTable], Any]] = {
    "database": _database,
    "mailbox": mailbox_section,
    "smtp": smtp_section,
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
    root = TomlTable("", dict(data))
    problems: list[ConfigError] = []
    known = set(SECTIONS) | {"templates", "mailboxes", "lmtp", "teams", "routing"}
    for name in root.data:
        if name not in known:
            problems.append(ConfigError(name, "unknown section", suggest(name, known)))
    if "support" not in root.data:
        problems.append(ConfigError("support", "is required (at least support.address and support.secret)"))
    if "mailbox" not in root.data and "lmtp" not in root.data:
        problems.append(ConfigError("mailbox", "is required (or [lmtp], for mail an MTA delivers)"))
    built: dict[str, Any] = {}
    for name, parse in SECTIONS.items():
        if name in root.data or name not in ("support", "mailbox"):
            built[name] = _checked(problems, lambda p=parse, n=name: p(root.sub(n)), None)  # type: ignore[misc]
    no_extra: tuple[MailboxSettings, ...] = ()
    extra = _checked(problems, lambda: extra_mailboxes(root, built.get("mailbox")), no_extra)
    lmtp = _checked(problems, lambda: lmtp_section(root.sub("lmtp")) if "lmtp" in root.data else None, None)
    templates_path = _checked(problems, lambda: _templates_path(root.sub("templates")), None)
    no_teams: dict[str, TeamSettings] = {}
    teams = _checked(problems, lambda: teams_section(root.sub("teams")), no_teams)
    routing = _checked(problems, lambda: routing_section(root.sub("routing"), teams), RoutingSettings())
    mailboxes = [m for m in (built.get("mailbox"), *extra) if m is not None]
    for m in mailboxes:
        if m.team is not None:
            key = f"mailboxes.{m.label}.team" if m.label else "mailbox.team"
            _checked(problems, lambda k=key, n=m.team: check_team_name(k, n, teams), None)  # type: ignore[misc]
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    base = source.parent if source is not None else Path.cwd()
    built.setdefault("mailbox", None)
    for name in ("mailbox", "smtp"):
        built[name] = resolve_refresh_token_files(built[name], base)
    if built["smtp"].auth == "oauth2" and not built["smtp"].username:
        # The SASL user of an OAuth2 login: by default the address maild sends as.
        built["smtp"] = replace(built["smtp"], username=built["support"].address)
    return Settings(
        **built,
        templates_path=templates_path,
        source=source,
        extra_mailboxes=tuple(resolve_refresh_token_files(m, base) for m in extra),
        lmtp=lmtp,
        teams=teams,
        routing=routing,
    )


def _checked(problems: list[ConfigError], read: Callable[[], T], default: T) -> T:
    """`read()`, or `default` with its ConfigError noted: one run reports every section's problem."""
    try:
        return read()
    except ConfigError as e:
        problems.append(e)
        return default


def _templates_path(t: TomlTable) -> Path | None:
    path = t.optional_string("path")
    t.finish()
    return Path(path) if path else None


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
    return parse_settings(read_toml(path), source=path)


def config_path(cli_value: str | None) -> Path:
    """--config, else $MAILD_CONFIG, else /etc/maild/maild.toml."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get("MAILD_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG_PATH
