"""schools: the children-missing-education officer's cases (part J)

Revision ID: c4a1e551000b
Revises: c4a1e551000a
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "c4a1e551000b"
down_revision = "c4a1e551000a"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
