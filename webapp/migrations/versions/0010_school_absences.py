"""schools: absences, follow-ups, enquiries, referrals (part I)

Revision ID: c4a1e551000a
Revises: c4a1e5510009
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "c4a1e551000a"
down_revision = "c4a1e5510009"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
