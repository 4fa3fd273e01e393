"""followup: next-response deadlines, waiting on the customer, warnings and reminders sent once

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

SPEC §11: a case keeps a next-response deadline and the instant it began
waiting on the customer. An escalation is now unique per (case, deadline,
level) instead of (case, level), because a case may miss several next
responses, each escalated once; the rows that exist are all about the
first response. Warnings, reminders and automatic closes are recorded in
deadline_notices, unique per (case, kind, deadline): what makes each go
out once across restarts and workers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("next_response_due_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("waiting_since", sa.DateTime(), nullable=True))
        batch.create_index(op.f("ix_cases_next_response_due_at"), ["next_response_due_at"])
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(
            sa.Column("deadline", sa.String(length=60), server_default="first_response", nullable=False)
        )
        batch.drop_constraint(op.f("uq_escalations_case_id_level"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_escalations_case_id_deadline_level"), ["case_id", "deadline", "level"]
        )
    op.create_table(
        "deadline_notices",
        sa.Column("id", _ID, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("deadline", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_deadline_notices_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_notices")),
        sa.UniqueConstraint(
            "case_id", "kind", "deadline", name=op.f("uq_deadline_notices_case_id_kind_deadline")
        ),
    )


def downgrade() -> None:
    op.drop_table("deadline_notices")
    op.execute("DELETE FROM escalations WHERE deadline <> 'first_response'")
    with op.batch_alter_table("escalations") as batch:
        batch.drop_constraint(op.f("uq_escalations_case_id_deadline_level"), type_="unique")
        batch.create_unique_constraint(op.f("uq_escalations_case_id_level"), ["case_id", "level"])
        batch.drop_column("deadline")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index(op.f("ix_cases_next_response_due_at"))
        batch.drop_column("waiting_since")
        batch.drop_column("next_response_due_at")
