"""seal sensitive clear columns

Revision ID: c4a1e5510006
Revises: c4a1e5510005
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'c4a1e5510006'
down_revision = 'c4a1e5510005'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
