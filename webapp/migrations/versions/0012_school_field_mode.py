"""schools: the DSL's tablet in field mode (the school's calendar version, tablet entries)

Revision ID: c4a1e551000c
Revises: c4a1e551000b
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e551000c"
down_revision = "c4a1e551000b"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "school_entries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("child_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_school_entries_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["organisations.id"],
            name=op.f("fk_school_entries_school_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_school_entries_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_entries")),
    )
    op.create_index(op.f("ix_school_entries_child_id"), "school_entries", ["child_id"])
    op.create_index(op.f("ix_school_entries_school_id"), "school_entries", ["school_id"])


def downgrade():
    op.drop_index(op.f("ix_school_entries_school_id"), table_name="school_entries")
    op.drop_index(op.f("ix_school_entries_child_id"), table_name="school_entries")
    op.drop_table("school_entries")
    if op.get_bind().dialect.name == "sqlite":
        # As in 0007 and 0009: drop in place rather than copy-and-rename a table others refer to.
        op.execute("ALTER TABLE organisations DROP COLUMN version")
    else:
        op.drop_column("organisations", "version")
