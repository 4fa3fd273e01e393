"""Composition root: builds the database, templates, mailbox, sender and clock from settings.

The only place that knows which concrete implementation stands behind each
seam; everything else receives what it needs, so tests can pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maild.cases import CaseService
from maild.clock import Clock, SystemClock
from maild.compose import Composer, packaged_template_dir
from maild.config import Settings
from maild.db import Database
from maild.mailbox import ImapSource, MaildirSource, MailSource
from maild.notify import Notifier
from maild.outbox import OutboxStore
from maild.route import RoutingPolicy
from maild.smtp import SmtpSender


def routing_policy(settings: Settings) -> RoutingPolicy:
    s = settings.support
    return RoutingPolicy(
        support_address=s.address,
        own_addresses=s.own_addresses,
        secret=s.secret,
        restrict_to_designated_contacts=s.restrict_to_designated_contacts,
        require_reply_token=s.require_reply_token,
        collaborators=s.collaborators,
        reopen_window=s.reopen_window,
        default_severity=s.default_severity,
        agent_address=s.agent_address,
    )


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    db: Database = field(init=False)
    composer: Composer = field(init=False)
    notifier: Notifier = field(init=False)
    service: CaseService = field(init=False)
    policy: RoutingPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.db = Database(self.settings.database.url)
        dirs = [d for d in (self.settings.templates_path, packaged_template_dir()) if d is not None]
        self.composer = Composer(dirs, self.settings.support.default_language)
        self.notifier = Notifier(self.composer, self.settings.support, self.clock)
        self.service = CaseService(self.settings, self.notifier)
        self.policy = routing_policy(self.settings)

    def make_source(self) -> MailSource:
        m = self.settings.mailbox
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
        )

    def make_sender(self) -> SmtpSender:
        s = self.settings.smtp
        return SmtpSender(
            s.host,
            s.port,
            s.security,
            username=s.username,
            password=s.password,
            timeout=s.timeout.total_seconds(),
            ca_file=s.ca_file,
            verify_tls=s.verify_tls,
            connections=s.connections,
        )

    def outbox_store(self) -> OutboxStore:
        return OutboxStore(self.db, self.settings.outbox, self.clock)

    def close(self) -> None:
        self.db.dispose()
