"""schools: term dates and closure days (part G)

Revision ID: c4a1e5510008
Revises: c4a1e5510007
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510008"
down_revision = "c4a1e5510007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "school_terms",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["organisations.id"],
            name=op.f("fk_school_terms_school_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_school_terms_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_terms")),
    )
    op.create_index(op.f("ix_school_terms_school_id"), "school_terms", ["school_id"])
    op.create_table(
        "school_closures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=36), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("created_by_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["organisations.id"],
            name=op.f("fk_school_closures_school_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_school_closures_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_closures")),
        sa.UniqueConstraint("school_id", "on", name=op.f("uq_school_closures_school_id")),
    )
    op.create_index(op.f("ix_school_closures_school_id"), "school_closures", ["school_id"])


def downgrade():
    op.drop_index(op.f("ix_school_closures_school_id"), table_name="school_closures")
    op.drop_table("school_closures")
    op.drop_index(op.f("ix_school_terms_school_id"), table_name="school_terms")
    op.drop_table("school_terms")
