"""episodes: escalations acted on (the action recorded against each, which closes it)

Revision ID: c4a1e551000d
Revises: c4a1e551000c
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e551000d"
down_revision = "c4a1e551000c"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "escalation_actions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("episode_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=False),
        sa.Column("details_enc", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_escalation_actions_episode_id_episodes")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_escalation_actions_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_actions")),
        sa.UniqueConstraint("episode_id", "code", name=op.f("uq_escalation_actions_episode_id")),
    )
    op.create_index(
        op.f("ix_escalation_actions_episode_id"), "escalation_actions", ["episode_id"]
    )


def downgrade():
    op.drop_index(op.f("ix_escalation_actions_episode_id"), table_name="escalation_actions")
    op.drop_table("escalation_actions")
