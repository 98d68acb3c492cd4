"""second_factor: (issue 15; filled in by the work that needs it)

Revision ID: c4a1e5510017
Revises: c4a1e5510016
"""

revision = "c4a1e5510017"
down_revision = "c4a1e5510016"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
