"""children: indexes for finding a child by name and date of birth

Revision ID: c4a1e5510010
Revises: c4a1e551000f
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510010"
down_revision = "c4a1e551000f"
branch_labels = None
depends_on = None


def upgrade():
    # The search matches names by prefix in any case (lower(name) LIKE 'abc%'): on PostgreSQL a
    # pattern operator class lets the index serve LIKE whatever the database's collation.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_children_lower_last_name ON children (lower(last_name) text_pattern_ops)"
        )
        op.execute(
            "CREATE INDEX ix_children_lower_first_name ON children "
            "(lower(first_name) text_pattern_ops)"
        )
    else:
        op.create_index("ix_children_lower_last_name", "children", [sa.text("lower(last_name)")])
        op.create_index("ix_children_lower_first_name", "children", [sa.text("lower(first_name)")])
    op.create_index("ix_children_date_of_birth", "children", ["date_of_birth"])


def downgrade():
    op.drop_index("ix_children_date_of_birth", table_name="children")
    op.drop_index("ix_children_lower_first_name", table_name="children")
    op.drop_index("ix_children_lower_last_name", table_name="children")
