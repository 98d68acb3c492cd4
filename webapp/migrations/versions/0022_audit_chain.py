"""audit_chain: (issue 15; filled in by the work that needs it)

Revision ID: c4a1e5510016
Revises: c4a1e5510015
"""

revision = "c4a1e5510016"
down_revision = "c4a1e5510015"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
