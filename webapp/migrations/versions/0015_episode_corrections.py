"""episodes: the history of corrections to an episode's facts

Revision ID: c4a1e551000f
Revises: c4a1e551000e
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e551000f"
down_revision = "c4a1e551000e"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "episode_changes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("episode_id", sa.String(length=36), nullable=False),
        sa.Column("changed_by_id", sa.String(length=36), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("fields", sa.String(length=200), nullable=False),
        sa.Column("values_enc", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_episode_changes_episode_id_episodes")
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["users.id"], name=op.f("fk_episode_changes_changed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episode_changes")),
    )
    op.create_index(op.f("ix_episode_changes_episode_id"), "episode_changes", ["episode_id"])


def downgrade():
    op.drop_index(op.f("ix_episode_changes_episode_id"), table_name="episode_changes")
    op.drop_table("episode_changes")
