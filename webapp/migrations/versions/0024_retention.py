"""retention: (issue 15; filled in by the work that needs it)

Revision ID: c4a1e5510018
Revises: c4a1e5510017
"""

revision = "c4a1e5510018"
down_revision = "c4a1e5510017"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
