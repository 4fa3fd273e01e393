"""What every case writer needs from the application: settings, the notifier, the clock.

One small object shared by the case modules (opening, comments, notices,
actions) instead of a class that owns them all: each module is a set of
functions over a session and this environment. It is mutable on purpose:
a configuration reload (App.reload) swaps `settings` in place and every
writer sees the new values on its next message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql import Insert

from maild.config import Settings
from maild.outbound.notify import CaseRef, Notifier, Recipient
from maild.vocab import Event


@dataclass(slots=True)
class CaseEnv:
    settings: Settings
    notifier: Notifier

    def now(self) -> datetime:
        return self.notifier.clock.now()

    def tell_case(
        self,
        session: Session,
        case: CaseRef,
        event: Event,
        *,
        extra: Mapping[str, Any] | None = None,
        recipients: Sequence[Recipient] | None = None,
        case_ctx: Mapping[str, Any] | None = None,
        languages: Mapping[str, str | None] | None = None,
    ) -> int:
        """One event to everyone in the case's sharing settings (or `recipients`); how many were queued.

        `case_ctx` and `languages` come with a case that is not an ORM Case
        (read or inserted with Core), whose view and languages the caller has.
        """
        if recipients is None:
            recipients = self.notifier.case_recipients(session, case, languages=languages)
        queued = self.notifier.enqueue_many(
            session, event, recipients, case=case, case_ctx=case_ctx, extra=extra
        )
        return len(queued)


def insert_row(session: Session, statement: Insert, values: dict[str, Any]) -> int:
    """One row through Core on the session's connection; its new primary key."""
    result = session.connection().execute(statement, values)
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
