"""episodes: the police's safe-and-well check after a return

Revision ID: c4a1e5510011
Revises: c4a1e5510010
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510011"
down_revision = "c4a1e5510010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("episodes") as batch_op:
        batch_op.add_column(sa.Column("safe_and_well_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("safe_and_well_by_enc", sa.Text(), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        # As in 0007: drop in place rather than copy-and-rename a table others refer to.
        op.execute("ALTER TABLE episodes DROP COLUMN safe_and_well_by_enc")
        op.execute("ALTER TABLE episodes DROP COLUMN safe_and_well_at")
    else:
        op.drop_column("episodes", "safe_and_well_by_enc")
        op.drop_column("episodes", "safe_and_well_at")
