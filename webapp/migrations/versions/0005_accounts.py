"""account life cycle and sign-in throttling

Revision ID: c4a1e5510005
Revises: c4a1e5510004
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'c4a1e5510005'
down_revision = 'c4a1e5510004'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
