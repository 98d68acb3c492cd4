"""interview_factors: the reason codes a child gave, in clear for the dashboard's counts; a
covering index for the figures' scans of a period's episodes

Revision ID: c4a1e5510013
Revises: c4a1e5510012
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510013"
down_revision = "c4a1e5510012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "interview_factors",
        sa.Column("interview_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_interview_factors_interview_id_interviews"),
        ),
        sa.PrimaryKeyConstraint("interview_id", "code", name=op.f("pk_interview_factors")),
    )
    # The figures read a period's episodes and these columns only: an index-only scan.
    op.create_index(
        "ix_episodes_figures",
        "episodes",
        [
            "last_seen_at",
            "child_id",
            "status",
            "reported_type",
            "missing_from",
            "how_returned",
            "id",
        ],
    )
    # Interviews saved before this table existed: `homeward oversight backfill-factors` copies
    # their codes (it needs the data keys, which a migration does not have).


def downgrade():
    op.drop_index("ix_episodes_figures", table_name="episodes")
    op.drop_table("interview_factors")
