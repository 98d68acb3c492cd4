"""children: the date the current period of care began (SSDA903 rule 581: a missing episode
starts inside a period of care)

Revision ID: c4a1e5510012
Revises: c4a1e5510011
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510012"
down_revision = "c4a1e5510011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("children") as batch_op:
        batch_op.add_column(sa.Column("looked_after_since", sa.Date(), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        # As in 0007: drop in place rather than copy-and-rename a table others refer to.
        op.execute("ALTER TABLE children DROP COLUMN looked_after_since")
    else:
        op.drop_column("children", "looked_after_since")
