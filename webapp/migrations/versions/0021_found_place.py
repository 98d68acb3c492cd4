"""found_place: where a child was found, as a code the figures count; the figures' covering index
holds it too

Revision ID: c4a1e5510015
Revises: c4a1e5510014
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510015"
down_revision = "c4a1e5510014"
branch_labels = None
depends_on = None

_BEFORE = ["last_seen_at", "child_id", "status", "reported_type", "missing_from", "how_returned"]


def upgrade():
    with op.batch_alter_table("episodes") as batch:
        batch.add_column(sa.Column("found_place", sa.String(length=20), nullable=True))
    # The figures count where children were found from the same scan as the rest: the covering
    # index gains the column so the year's episodes stay an index-only scan (docs/BENCHMARKS.md).
    op.drop_index("ix_episodes_figures", table_name="episodes")
    op.create_index("ix_episodes_figures", "episodes", [*_BEFORE, "found_place", "id"])


def downgrade():
    op.drop_index("ix_episodes_figures", table_name="episodes")
    op.create_index("ix_episodes_figures", "episodes", [*_BEFORE, "id"])
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("found_place")
