"""oauth2_state: each OAuth2 client's token state as the daemon last knew it, for `maild status`

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

SPEC §9: a refused refresh (revoked grant, expired client secret) must show
in `maild status` with what to do. The daemon holds its tokens in memory;
this table is how another process learns of their state. It holds names,
error codes, hints and times, never a token or a secret.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth2_state",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("hint", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_oauth2_state")),
    )


def downgrade() -> None:
    op.drop_table("oauth2_state")
