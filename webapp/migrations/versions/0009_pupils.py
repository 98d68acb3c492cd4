"""schools: pupils' UPN and year group (part H)

Revision ID: c4a1e5510009
Revises: c4a1e5510008
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "c4a1e5510009"
down_revision = "c4a1e5510008"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
