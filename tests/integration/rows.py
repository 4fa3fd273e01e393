"""Rows written straight into a maild database, for tests of the storage layer itself."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import Connection, insert

from maild.store.models import Account, Case, Contact
from maild.vocab import CaseStatus

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def insert_case(conn: Connection) -> int:
    """An account, its contact and an open case; named uniquely, as databases may be shared."""
    tag = secrets.token_hex(4)
    account_id = conn.execute(
        insert(Account).returning(Account.id), {"name": f"Acme {tag}", "created_at": NOW}
    ).scalar_one()
    contact_id = conn.execute(
        insert(Contact).returning(Contact.id),
        {"account_id": account_id, "email": f"a.{tag}@acme.example", "created_at": NOW},
    ).scalar_one()
    return int(
        conn.execute(
            insert(Case).returning(Case.id),
            {
                "subject": "s",
                "description": "d",
                "description_full": "d",
                "severity": 3,
                "status": CaseStatus.NEW,
                "account_id": account_id,
                "primary_contact_id": contact_id,
                "fields": {},
                "language": "en",
                "thread_root": f"<root.{tag}@acme.example>",
                "created_at": NOW,
                "updated_at": NOW,
            },
        ).scalar_one()
    )
