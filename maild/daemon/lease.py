"""One fetcher per mailbox at a time, across processes and machines.

A lease is a row in mailbox_leases: who holds the mailbox and until when.
The holder renews it while it works; a holder that dies stops renewing and
its lease expires, so another worker takes over. A holder on this same
machine whose process is gone is recognised at once (its pid no longer
exists), so a restart after a crash does not wait for the lease to run out.
Exactly-once does not depend on the lease (the database's unique keys
guarantee it); the lease only keeps two workers from doing the same work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from maild.clock import Clock
from maild.store.db import Database
from maild.store.holders import holder_is_dead_here, new_holder_id
from maild.store.models import MailboxLease

DEFAULT_TTL = timedelta(seconds=30)


class MailboxLeaser:
    def __init__(
        self, db: Database, clock: Clock, holder: str | None = None, ttl: timedelta = DEFAULT_TTL
    ) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder or new_holder_id()
        self.ttl = ttl

    def acquire(self, mailbox: str) -> bool:
        """Take or renew the lease; False while another live worker holds it."""
        now = self.clock.now()
        try:
            with self.db.session() as s:
                row = s.get(MailboxLease, mailbox, with_for_update=True)
                if row is None:
                    s.add(MailboxLease(mailbox=mailbox, holder=self.holder, expires_at=now + self.ttl))
                    s.flush()
                    return True
                if row.holder != self.holder and row.expires_at > now and not holder_is_dead_here(row.holder):
                    return False
                row.holder = self.holder
                row.expires_at = now + self.ttl
                return True
        except IntegrityError:
            return False  # another worker inserted the row first

    def touch(self, mailbox: str, fetched_at: datetime | None = None) -> None:
        """Renew a lease we hold and note when the mailbox was last read."""
        with self.db.session() as s:
            row = s.get(MailboxLease, mailbox, with_for_update=True)
            if row is not None and row.holder == self.holder:
                row.expires_at = self.clock.now() + self.ttl
                if fetched_at is not None:
                    row.last_fetch_at = fetched_at

    def release(self, mailbox: str) -> None:
        with self.db.session() as s:
            row = s.get(MailboxLease, mailbox, with_for_update=True)
            if row is not None and row.holder == self.holder:
                row.expires_at = self.clock.now()
