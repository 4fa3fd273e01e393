"""Composition root: builds the database, templates, mailbox, sender and clock from settings.

The only place that knows which concrete implementation stands behind each
seam; everything else receives what it needs, so tests can pass their own.
"""

from __future__ import annotations

from dataclasses import fields, replace
from functools import cached_property
from typing import TYPE_CHECKING

from maild.clock import Clock, SystemClock
from maild.config import Settings
from maild.configtransport import MailboxSettings, SmtpSettings
from maild.store.db import Database

if TYPE_CHECKING:
    from maild.cases.service import CaseService
    from maild.inbound.source import MailSource
    from maild.oauth2.tokens import TokenSource
    from maild.outbound.compose import Composer
    from maild.outbound.notify import Notifier
    from maild.outbound.outbox import OutboxStore
    from maild.outbound.smtp import SmtpSender
    from maild.policy.route import RoutingPolicy


def routing_policy(settings: Settings) -> RoutingPolicy:
    """The routing settings, taken from [support] by name, so a new one cannot be left unwired.

    Every RoutingPolicy field is the support setting of the same name, but
    `support_address`, which [support] calls `address`, and `team_addresses`,
    the [teams.*] addresses and managers (our side: never collaborators, and
    holders of the reply addresses their copies carry).
    """
    from maild.policy.route import RoutingPolicy

    s = settings.support
    own = {"support_address", "team_addresses"}
    same_name = {f.name: getattr(s, f.name) for f in fields(RoutingPolicy) if f.name not in own}
    teams = tuple(dict.fromkeys(a for t in settings.teams.values() for a in (t.address, *t.managers) if a))
    return RoutingPolicy(support_address=s.address, team_addresses=teams, **same_name)


def token_source_name(owner: MailboxSettings | SmtpSettings) -> str:
    """How logs and `maild status` name the OAuth2 client of `owner`: its section."""
    return owner.section if isinstance(owner, MailboxSettings) else "smtp"


def login_command(owner: MailboxSettings | SmtpSettings) -> str:
    """The `maild auth login` that gets `owner` a new refresh token, for the hints that name it."""
    if isinstance(owner, SmtpSettings):
        return "maild auth login --smtp"
    return f"maild auth login --mailbox {owner.label}" if owner.label else "maild auth login"


class App:
    """Each part is built on first use: a `case list` never loads templates or mail libraries."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.db = Database(settings.database.url)
        self._token_sources: dict[object, TokenSource] = {}

    def token_source(self, owner: MailboxSettings | SmtpSettings) -> TokenSource | None:
        """The TokenSource of `owner`'s OAuth2 client (None with auth = "password").

        One per distinct client, shared by every mailbox and the sender that
        use it: one cached token, one refresh at a time, one failure state.
        """
        if owner.oauth2 is None:
            return None
        from maild.oauth2.tokens import TokenSource

        source = self._token_sources.get(owner.oauth2)
        if source is None:
            # Named after the first section of the file that uses this client, whichever
            # thread asks first, so `maild status` always shows a shared client under one name.
            first = next((o for o in self.oauth2_owners() if o.oauth2 == owner.oauth2), owner)
            source = self._token_sources[owner.oauth2] = TokenSource(
                owner.oauth2, self.clock, name=token_source_name(first), login_command=login_command(first)
            )
        return source

    def oauth2_owners(self) -> list[MailboxSettings | SmtpSettings]:
        """Every section with auth = "oauth2": the mailboxes in file order, then [smtp]."""
        owners: list[MailboxSettings | SmtpSettings] = [*self.settings.mailboxes, self.settings.smtp]
        return [o for o in owners if o.oauth2 is not None]

    @property
    def token_sources(self) -> list[TokenSource]:
        """Every TokenSource built so far, for `maild status` and `maild auth check`."""
        return list(self._token_sources.values())

    @cached_property
    def composer(self) -> Composer:
        from maild.outbound.compose import Composer, packaged_template_dir

        dirs = [d for d in (self.settings.templates_path, packaged_template_dir()) if d is not None]
        return Composer(dirs, self.settings.support.default_language)

    @cached_property
    def notifier(self) -> Notifier:
        from maild.outbound.notify import Notifier

        return Notifier(self.composer, self.settings.support, self.clock, self.settings.teams)

    @cached_property
    def service(self) -> CaseService:
        from maild.cases.service import CaseService

        return CaseService(self.settings, self.notifier)

    @cached_property
    def policy(self) -> RoutingPolicy:
        return routing_policy(self.settings)

    def reload(self, new: Settings) -> list[str]:
        """Apply a re-read config in place (SIGHUP); returns what only a restart applies.

        Templates are re-read and every setting that needs no new connection
        takes effect at once; the database, mailbox, SMTP and LMTP settings stay as
        they are until the daemon restarts.
        """
        needs_restart = [
            name
            for name in ("database", "mailbox", "smtp", "lmtp", "metrics")
            if getattr(new, name) != getattr(self.settings, name)
        ]
        kept = {name: getattr(self.settings, name) for name in needs_restart}
        self.settings = replace(new, **kept)
        for cached in ("composer", "policy"):
            self.__dict__.pop(cached, None)
        if "notifier" in self.__dict__:
            self.notifier.composer = self.composer
            self.notifier.support = self.settings.support
            self.notifier.teams = self.settings.teams
        if "service" in self.__dict__:
            self.service.settings = self.settings
        return needs_restart

    def make_source(self, mailbox: MailboxSettings | None = None) -> MailSource:
        """A source for `mailbox` (the first configured by default), not yet open."""
        from maild.inbound.imap import ImapSource
        from maild.inbound.maildir import MaildirSource
        from maild.oauth2.settings import Mechanism

        m = mailbox or self.settings.mailboxes[0]
        if m.protocol == "maildir":
            assert m.path is not None
            return MaildirSource(m.path)
        return ImapSource(
            m.host,
            m.port,
            m.security,
            m.username,
            m.password,
            folder=m.folder,
            processed_folder=m.processed_folder,
            failed_folder=m.failed_folder,
            timeout=m.timeout.total_seconds(),
            ca_file=m.ca_file,
            verify_tls=m.verify_tls,
            tokens=self.token_source(m),
            mechanism=m.oauth2.mechanism if m.oauth2 else Mechanism.XOAUTH2,
        )

    def make_sender(self) -> SmtpSender:
        from maild.outbound.smtpbuild import smtp_sender

        return smtp_sender(self.settings.smtp, self.token_source(self.settings.smtp))

    def outbox_store(self, holder: str | None = None) -> OutboxStore:
        from maild.outbound.outbox import OutboxStore
        from maild.store.holders import new_holder_id

        return OutboxStore(self.db, self.settings.outbox, self.clock, holder or new_holder_id())

    def close(self) -> None:
        self.db.dispose()
