"""The transport sections of maild.toml: where mail comes from and goes to, and how maild logs in.

[mailbox], [mailboxes.<label>], [smtp] with their `auth` and `[… .oauth2]`
tables, and [lmtp]. Kept apart from config.py (the rest of the schema) so
that each stays one screenful of rules; config.py builds Settings from both.
Every error names the dotted key, as everywhere in the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast, get_args

from maild.configread import TomlTable
from maild.errors import ConfigError
from maild.oauth2.settings import Flow, Mechanism, OAuth2Settings, Provider, validate
from maild.tls import is_loopback
from maild.vocab import Security

__all__ = [
    "AUTH_MODES",
    "LmtpSettings",
    "MailboxSettings",
    "SmtpSettings",
    "extra_mailboxes",
    "lmtp_section",
    "mailbox_section",
    "resolve_refresh_token_files",
    "smtp_section",
]

Auth = Literal["password", "oauth2"]
AUTH_MODES: tuple[Auth, ...] = get_args(Auth)


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
    auth: Auth = "password"
    # The OAuth2 client whose tokens log in as `username` (the mailbox user,
    # which may differ from the token's owner: a shared mailbox).
    oauth2: OAuth2Settings | None = None
    label: str = ""  # "" for [mailbox]; the <label> of [mailboxes.<label>]
    team: str | None = None  # its new cases' team (SPEC §10), checked against [teams.*] by config.py

    @property
    def name(self) -> str:
        """The stable identifier under which this mailbox's messages are recorded."""
        if self.protocol == "maildir":
            return f"maildir:{self.path}"
        return f"imap://{self.username}@{self.host}:{self.port}/{self.folder}"

    @property
    def section(self) -> str:
        """Its table in maild.toml, for messages: "mailbox" or "mailboxes.<label>"."""
        return f"mailboxes.{self.label}" if self.label else "mailbox"


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
    auth: Auth = "password"
    oauth2: OAuth2Settings | None = None


@dataclass(frozen=True)
class LmtpSettings:
    """[lmtp]: local delivery from an MTA. `listen` is "host:port" on loopback or "unix:/path"."""

    listen: str
    max_message_size: int

    @property
    def unix_path(self) -> Path | None:
        return Path(self.listen[len("unix:") :]) if self.listen.startswith("unix:") else None

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


def _security(t: TomlTable, default: Security) -> Security:
    return cast(Security, t.choice("security", get_args(Security), default))


def _auth(t: TomlTable) -> tuple[Auth, OAuth2Settings | None]:
    """`auth` and its `oauth2` table: the table is required with oauth2 and refused without it."""
    auth = cast(Auth, t.choice("auth", AUTH_MODES, "password"))
    has_table = t.has("oauth2")
    if auth == "oauth2" and not has_table:
        raise ConfigError(t.key("oauth2"), 'is required when auth = "oauth2"', "the provider and client")
    if auth != "oauth2" and has_table:
        raise ConfigError(t.key("auth"), 'must be "oauth2" when an oauth2 table is given')
    if auth != "oauth2":
        return auth, None
    return auth, oauth2_section(t.sub("oauth2"))


def oauth2_section(t: TomlTable) -> OAuth2Settings:
    """One `[… .oauth2]` table; `validate` refuses combinations that cannot work, naming the key."""
    scopes = t.typed("scopes", list, [])
    if not all(isinstance(s, str) and s for s in scopes):
        raise ConfigError(t.key("scopes"), "must be a list of non-empty strings")
    refresh_file = t.optional_string("refresh_token_file")
    settings = OAuth2Settings(
        provider=Provider(t.choice("provider", tuple(Provider), "generic")),
        flow=Flow(t.choice("flow", tuple(Flow), "client_credentials")),
        client_id=t.string("client_id", required=True),
        client_secret=t.secret("client_secret", required=False) or "",
        tenant=t.string("tenant", ""),
        token_url=t.string("token_url", ""),
        device_url=t.string("device_url", ""),
        auth_url=t.string("auth_url", ""),
        scopes=tuple(scopes),
        refresh_token_file=Path(refresh_file) if refresh_file else None,
        mechanism=Mechanism(t.choice("mechanism", tuple(Mechanism), "xoauth2")),
        timeout=t.duration("timeout", "30s").total_seconds(),
    )
    for key in ("token_url", "device_url", "auth_url"):
        value = getattr(settings, key)
        if value and not value.startswith(("https://", "http://")):
            raise ConfigError(t.key(key), f"{value!r} is not an http(s) URL")
        if value.startswith("http://") and not _loopback_url(value):
            raise ConfigError(t.key(key), "must be https:// (plain http only to a loopback address)")
    t.finish()
    validate(settings, t.prefix)
    return settings


def _loopback_url(url: str) -> bool:
    rest = url.split("://", 1)[1]
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    host = host[1 : host.index("]")] if host.startswith("[") and "]" in host else host.split(":", 1)[0]
    return is_loopback(host)


def mailbox_section(t: TomlTable, label: str = "") -> MailboxSettings:
    protocol = t.choice("protocol", ("imap", "maildir"), "imap")
    security = _security(t, "tls")
    imap = protocol == "imap"
    auth, oauth2 = _auth(t)
    port = t.integer("port", 993 if security == "tls" else 143, 1, 65535)
    path_text = t.optional_string("path")
    if protocol == "maildir" and not path_text:
        raise ConfigError(t.key("path"), 'is required when protocol = "maildir"')
    password = t.secret("password", required=imap and auth == "password") or ""
    settings = MailboxSettings(
        protocol=protocol,  # type: ignore[arg-type]
        host=t.string("host", required=imap) if imap else t.string("host", "127.0.0.1"),
        port=port,
        security=security,
        username=t.string("username", required=imap) if imap else t.string("username", ""),
        password=password,
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
        auth=auth,
        oauth2=oauth2,
        label=label,
        team=t.optional_string("team"),
    )
    t.finish()
    return settings


def extra_mailboxes(root: TomlTable, first: MailboxSettings | None) -> tuple[MailboxSettings, ...]:
    """[mailboxes.<label>] tables: [mailbox]'s keys, each one defaulting to [mailbox]'s value."""
    if "mailboxes" not in root.data:
        return ()
    tables = root.sub("mailboxes")
    given = root.data.get("mailbox")
    # Each mailbox names its own team: one left unset routes by topic and the defaults.
    base: dict[str, Any] = {k: v for k, v in given.items() if k != "team"} if isinstance(given, dict) else {}
    out: list[MailboxSettings] = []
    names = {first.name: "[mailbox]"} if first is not None else {}
    for label, data in tables.data.items():
        prefix = tables.key(label)
        if not isinstance(data, dict):
            raise ConfigError(prefix, "must be a table of mailbox keys, like [mailbox]")
        settings = mailbox_section(TomlTable(prefix, {**base, **data}), label)
        if settings.name in names:
            raise ConfigError(prefix, f"is the same mailbox as {names[settings.name]} ({settings.name})")
        names[settings.name] = f"[{prefix}]"
        out.append(settings)
    return tuple(out)


def smtp_section(t: TomlTable) -> SmtpSettings:
    security = _security(t, "starttls")
    auth, oauth2 = _auth(t)
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
        auth=auth,
        oauth2=oauth2,
    )
    t.finish()
    return settings


def lmtp_section(t: TomlTable) -> LmtpSettings:
    listen = t.string("listen", required=True).strip()
    if listen.startswith("unix:"):
        if not Path(listen[len("unix:") :]).is_absolute():
            raise ConfigError(t.key("listen"), f"{listen!r}: the socket path must be absolute")
    else:
        host, sep, port = listen.rpartition(":")
        if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(t.key("listen"), f'{listen!r} is not "host:port" or "unix:/path"')
        if not is_loopback(host.strip("[]")):
            raise ConfigError(
                t.key("listen"),
                f"{host!r} is not a loopback address",
                "LMTP has no authentication: listen on 127.0.0.1 or a unix socket",
            )
    settings = LmtpSettings(
        listen=listen,
        max_message_size=t.size("max_message_size", "50MB"),
    )
    t.finish()
    return settings


def resolve_refresh_token_files(settings: Any, base: Path) -> Any:
    """A relative `refresh_token_file` is relative to the config file's directory.

    The same rule for the daemon and for `maild auth login` run by hand, so
    both use one file whatever their working directory.
    """
    oauth2 = getattr(settings, "oauth2", None)
    if oauth2 is None or oauth2.refresh_token_file is None or oauth2.refresh_token_file.is_absolute():
        return settings
    return replace(settings, oauth2=replace(oauth2, refresh_token_file=base / oauth2.refresh_token_file))
