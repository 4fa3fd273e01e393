"""trust: collaborators over the caps, and the notices' hourly count

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

SPEC §8: collaborators added from To/Cc are capped per message and per case;
the addresses over the caps are kept on the case (`collaborators_not_added`)
so an agent can see who was left out. Help-desk and refusal notices are
limited in total per hour: the outbox index on (event, created_at) makes that
count one index range scan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("collaborators_not_added", sa.JSON(), nullable=True))
    op.create_index("ix_outbox_event_created", "outbox", ["event", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_event_created", table_name="outbox")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("collaborators_not_added")
