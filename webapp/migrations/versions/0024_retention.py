"""retention: children.died_on (a looked-after child who died before 18 is kept 15 years from
it) and retention_reports (each dry run as made, the only thing `retention apply` deletes from)

Revision ID: c4a1e5510018
Revises: c4a1e5510017
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510018"
down_revision = "c4a1e5510017"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("children") as batch:
        batch.add_column(sa.Column("died_on", sa.Date(), nullable=True))
    op.create_table(
        "retention_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_reports")),
    )
    op.create_index(op.f("ix_retention_reports_digest"), "retention_reports", ["digest"])


def downgrade():
    op.drop_index(op.f("ix_retention_reports_digest"), table_name="retention_reports")
    op.drop_table("retention_reports")
    if op.get_bind().dialect.name == "sqlite":
        # As in 0007 and 0018: drop in place rather than copy-and-rename a table others refer to
        # (the copy's DROP TABLE children fails their foreign keys).
        op.execute("ALTER TABLE children DROP COLUMN died_on")
    else:
        op.drop_column("children", "died_on")
