"""schools: pupils' UPN and year group (part H)

Revision ID: c4a1e5510009
Revises: c4a1e5510008
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510009"
down_revision = "c4a1e5510008"
branch_labels = None
depends_on = None


def upgrade():
    # Plain nullable columns: SQLite adds them in place (batch mode's "auto" needs no copy of
    # the children table, which other tables refer to).
    with op.batch_alter_table("children") as batch_op:
        batch_op.add_column(sa.Column("upn", sa.String(length=13), nullable=True))
        batch_op.add_column(sa.Column("year_group", sa.String(length=3), nullable=True))
    # One UPN per pupil of a school: the MIS import matches its rows by it.
    op.create_index("uq_children_school_id_upn", "children", ["school_id", "upn"], unique=True)


def downgrade():
    op.drop_index("uq_children_school_id_upn", table_name="children")
    if op.get_bind().dialect.name == "sqlite":
        # As in 0007: drop in place rather than copy-and-rename a table others refer to.
        op.execute("ALTER TABLE children DROP COLUMN year_group")
        op.execute("ALTER TABLE children DROP COLUMN upn")
    else:
        op.drop_column("children", "year_group")
        op.drop_column("children", "upn")
