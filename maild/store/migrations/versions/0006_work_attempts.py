"""mailbox_work.attempts: how often a message's processing started without finishing

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

SPEC §8: a message during whose processing a worker died or was killed twice
is quarantined ("crashed the worker") on the next start instead of being
tried again. A worker adds one to `attempts`, committed, just before it
processes a message; the row goes in the transaction that records the
message, so a row that reaches 2 was started twice by workers that never
finished it (see maild.daemon.workqueue).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox_work") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("mailbox_work") as batch:
        batch.drop_column("attempts")
