"""attachment_data: an attachment's bytes in their own table

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Listing attachments no longer reads their bytes, and SQLite can take the
bytes as a zeroblob written in slices (maild.store.blobs). Existing bytes move over.

The bytes wait in a plain table while `data` is dropped: on SQLite, Alembic's
batch mode copies and DROPs the attachments table, and with foreign keys on,
that DROP would delete rows already in attachment_data. (SQLite's own ALTER
TABLE … DROP COLUMN avoids the copy but needs SQLite 3.35, newer than some
distributions' Python links against.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_data_0004",
        sa.Column("attachment_id", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.execute(
        "INSERT INTO attachment_data_0004 (attachment_id, data) "
        "SELECT id, data FROM attachments WHERE data IS NOT NULL"
    )
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("data")
    op.create_table(
        "attachment_data",
        sa.Column(
            "attachment_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_attachment_data_attachment_id_attachments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_attachment_data")),
    )
    op.execute(
        "INSERT INTO attachment_data (attachment_id, data) "
        "SELECT attachment_id, data FROM attachment_data_0004"
    )
    op.drop_table("attachment_data_0004")


def downgrade() -> None:
    op.add_column("attachments", sa.Column("data", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE attachments SET data = "
        "(SELECT d.data FROM attachment_data d WHERE d.attachment_id = attachments.id)"
    )
    op.drop_table("attachment_data")
