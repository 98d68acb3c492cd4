"""children: the authority's identifier for a child, and the history of corrections

Revision ID: c4a1e551000e
Revises: c4a1e551000d
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e551000e"
down_revision = "c4a1e551000d"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("children") as batch_op:
        batch_op.add_column(sa.Column("authority_child_id", sa.String(length=20), nullable=True))
    op.create_index(
        "uq_children_responsible_authority_id_authority_child_id",
        "children",
        ["responsible_authority_id", "authority_child_id"],
        unique=True,
    )
    op.create_table(
        "child_changes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("child_id", sa.String(length=36), nullable=False),
        sa.Column("changed_by_id", sa.String(length=36), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("fields", sa.String(length=400), nullable=False),
        sa.Column("values_enc", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_child_changes_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["users.id"], name=op.f("fk_child_changes_changed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_changes")),
    )
    op.create_index(op.f("ix_child_changes_child_id"), "child_changes", ["child_id"])


def downgrade():
    op.drop_index(op.f("ix_child_changes_child_id"), table_name="child_changes")
    op.drop_table("child_changes")
    op.drop_index("uq_children_responsible_authority_id_authority_child_id", table_name="children")
    if op.get_bind().dialect.name == "sqlite":
        # As in 0007 and 0009: drop in place rather than copy-and-rename a table others refer to.
        op.execute("ALTER TABLE children DROP COLUMN authority_child_id")
    else:
        op.drop_column("children", "authority_child_id")
