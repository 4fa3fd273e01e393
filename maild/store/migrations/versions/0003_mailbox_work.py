"""mailbox_work: messages listed by the mailbox's lease holder for any worker to claim

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_work",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mailbox", sa.String(length=500), nullable=False),
        sa.Column("source_key", sa.String(length=300), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("thread_group", sa.String(length=998), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox_work")),
        sa.UniqueConstraint("mailbox", "source_key", name=op.f("uq_mailbox_work_mailbox_source_key")),
    )
    op.create_index(
        "ix_mailbox_work_thread_group", "mailbox_work", ["mailbox", "thread_group", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_mailbox_work_thread_group", table_name="mailbox_work")
    op.drop_table("mailbox_work")
