"""teams: a case's team, owner and topic; internal comments; agents' team memberships

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

SPEC §10: cases are routed to teams and owned by an agent; an agent may
write internal notes, which are comments that contacts never see. Teams
are configured in maild.toml; the database keeps which team each case and
each agent belongs to, by the team's configured name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_teams",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_teams_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_teams")),
        sa.UniqueConstraint("agent_id", "team", name=op.f("uq_agent_teams_agent_id_team")),
    )
    op.create_index(op.f("ix_agent_teams_agent_id"), "agent_teams", ["agent_id"])
    op.create_index(op.f("ix_agent_teams_team"), "agent_teams", ["team"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("team", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch.add_column(sa.Column("topic", sa.String(length=200), nullable=True))
        batch.create_foreign_key(op.f("fk_cases_owner_id_agents"), "agents", ["owner_id"], ["id"])
        batch.create_index(op.f("ix_cases_team"), ["team"])
        batch.create_index(op.f("ix_cases_owner_id"), ["owner_id"])
    with op.batch_alter_table("comments") as batch:
        batch.add_column(sa.Column("internal", sa.Boolean(), server_default=sa.text("false"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("internal")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index(op.f("ix_cases_owner_id"))
        batch.drop_index(op.f("ix_cases_team"))
        batch.drop_constraint(op.f("fk_cases_owner_id_agents"), type_="foreignkey")
        batch.drop_column("topic")
        batch.drop_column("owner_id")
        batch.drop_column("team")
    op.drop_index(op.f("ix_agent_teams_team"), table_name="agent_teams")
    op.drop_index(op.f("ix_agent_teams_agent_id"), table_name="agent_teams")
    op.drop_table("agent_teams")
