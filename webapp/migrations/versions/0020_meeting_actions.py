"""meeting_actions: the monthly missing meeting's actions and owners, carried until done

Revision ID: c4a1e5510014
Revises: c4a1e5510013
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510014"
down_revision = "c4a1e5510013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "meeting_actions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("authority_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("text_enc", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("created_by_id", sa.String(36), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by_id", sa.String(36), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("outcome_enc", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_meeting_actions_authority_id", "meeting_actions", ["authority_id"])


def downgrade():
    op.drop_index("ix_meeting_actions_authority_id", table_name="meeting_actions")
    op.drop_table("meeting_actions")
