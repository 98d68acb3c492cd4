"""schools: term dates and closure days (part G)

Revision ID: c4a1e5510008
Revises: c4a1e5510007
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "c4a1e5510008"
down_revision = "c4a1e5510007"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
