"""Copies of a message recorded as duplicates; outbox.claimed_by for crash recovery

* inbound_messages.message_id: a partial unique index (outcome != 'duplicate')
  instead of a unique constraint, so every copy of a message gets a record
  while still only one is ever processed.
* outbox.claimed_by: who is sending a notification, so a crashed worker's
  claims are taken back at once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOT_DUPLICATE = sa.text("outcome != 'duplicate'")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_inbound_messages_message_id", type_="unique")
    op.create_index(
        "uq_inbound_messages_message_id",
        "inbound_messages",
        ["message_id"],
        unique=True,
        sqlite_where=NOT_DUPLICATE,
        postgresql_where=NOT_DUPLICATE,
    )


def downgrade() -> None:
    op.drop_index("uq_inbound_messages_message_id", table_name="inbound_messages")
    op.execute("DELETE FROM inbound_messages WHERE outcome = 'duplicate'")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_inbound_messages_message_id", ["message_id"])
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
