"""server-side sessions bound to devices

Revision ID: c4a1e5510004
Revises: 9bf3c37218c9
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'c4a1e5510004'
down_revision = '9bf3c37218c9'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
