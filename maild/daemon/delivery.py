"""Local delivery: one message an MTA handed us (LMTP or `maild deliver`), recorded exactly once.

An MTA that gets no success answer keeps the message and tries again, so
the whole of exactly-once here is: answer success only after the message's
transaction committed, answer "try later" when the database is away, and
recognise a redelivery. A redelivery is the same bytes again (an MTA retry
after we crashed between the commit and our answer), so the message's key in
its mailbox is a hash of its bytes: the (mailbox, source key) unique rule
then makes the second copy a no-op, answered with success. A copy that
differs in its bytes but not its Message-ID is the ingest pipeline's
duplicate, as for any mailbox.

Both local paths record under the same mailbox name (LOCAL_MAILBOX, or the
name of the configured mailbox `--mailbox LABEL` / the LMTP parameter
X-MAILD-MAILBOX names), so a message offered once over LMTP and once by
`maild deliver` is recognised too.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from maild.app import App
from maild.cases.facts import Directory
from maild.cases.recording import Applied
from maild.config import SupportSettings
from maild.daemon.ingest import ClaimedMessage, Ingestor, database_up
from maild.daemon.lmtp import LmtpServer, LmtpTarget
from maild.daemon.workqueue import WorkQueue
from maild.inbound.source import FetchedMessage
from maild.mailids import is_own_address
from maild.store.holders import new_holder_id

__all__ = ["LOCAL_MAILBOX", "LocalDelivery", "accepts_recipient", "lmtp_server", "source_key"]

log = logging.getLogger("maild.delivery")

# The mailbox name of mail an MTA delivered to us (LMTP or `maild deliver`), as
# `maild inbound list` and the database show it.
LOCAL_MAILBOX = "local"
REDELIVERED = "redelivered"  # not an outcome: the same bytes were recorded before, nothing added


def source_key(raw: bytes) -> str:
    """The key of a delivered message in its mailbox: the hash of its bytes (see above)."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(eq=False)
class LocalDelivery:
    """Records delivered messages through the ingest pipeline; one thread at a time.

    `on_recorded(applied, seconds)` hears of every message that was recorded
    now (the daemon wakes its outbox and counts it in its metrics).
    """

    ingestor: Ingestor
    on_recorded: Callable[[Applied, float], None] = lambda _applied, _seconds: None
    app: App | None = None  # whose settings a reload (SIGHUP) changes: read again per message
    _directory: Directory = field(init=False, default_factory=Directory)

    @classmethod
    def for_app(cls, app: App, on_recorded: Callable[[Applied, float], None] | None = None) -> LocalDelivery:
        """The ingest pipeline `app` configures, with no work queue rows (nothing is listed)."""
        ingestor = Ingestor(
            app.db,
            app.service,
            app.policy,
            app.clock,
            max_attachment_bytes=app.settings.support.max_attachment_size,
            queue=WorkQueue(app.db, app.clock, new_holder_id()),
        )
        if on_recorded is None:
            return cls(ingestor, app=app)
        return cls(ingestor, on_recorded, app=app)

    def deliver(self, raw: bytes, mailbox: str = LOCAL_MAILBOX) -> str:
        """Record `raw` under `mailbox`; returns its outcome once committed (REDELIVERED for a repeat).

        A repeat is not looked up first (one query less per message, and
        repeats are rare): its insert meets the (mailbox, source key) unique
        index, its transaction changes nothing, and the record is found then.
        Raises TransientError when the database is unavailable: nothing was
        recorded and the MTA must try again later.
        """
        started = time.perf_counter()
        key = source_key(raw)
        if self.app is not None:  # as IntakeLoop.reconfigure does for the mailboxes
            self.ingestor.policy = self.app.policy
            self.ingestor.max_attachment_bytes = self.app.settings.support.max_attachment_size
        if self._directory.stale():
            self._directory = Directory()
        claimed = ClaimedMessage(mailbox, FetchedMessage(key, raw), self._directory, None, None)
        try:
            with database_up():  # the quarantine's own write, say: TransientError, the MTA retries
                applied = self.ingestor.process(claimed)
        except IntegrityError:  # a repeat of a message that was quarantined
            if not self.ingestor.recorded(mailbox, [key]):
                raise
            applied = None
        if applied is None:  # recorded before: by an earlier delivery of the same bytes
            log.info("message %s delivered again: recorded before, nothing added", key)
            return REDELIVERED
        self.on_recorded(applied, time.perf_counter() - started)
        return applied.outcome


def accepts_recipient(support: SupportSettings, address: str) -> bool:
    """A recipient the LMTP listener takes: one of our addresses (plus-variants too) or our domain."""
    if is_own_address(address, support.own_addresses):
        return True
    _local, at, domain = address.strip().rpartition("@")
    return bool(at) and domain.lower() == support.domain.lower()


def lmtp_server(app: App, on_recorded: Callable[[Applied, float], None] | None = None) -> LmtpServer:
    """The daemon's LMTP listener on `[lmtp]`, recording through `app`'s ingest pipeline."""
    settings = app.settings.lmtp
    assert settings is not None, "only with [lmtp]"
    delivery = LocalDelivery.for_app(app, on_recorded)
    target = LmtpTarget(
        accepts=lambda address: accepts_recipient(app.settings.support, address),
        mailbox=lambda label: app.settings.mailbox_by_label(label).name,
        deliver=delivery.deliver,
        default_mailbox=LOCAL_MAILBOX,
    )
    return LmtpServer(settings, target)
