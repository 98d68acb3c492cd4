"""schools: the children-missing-education officer's cases (part J)

Revision ID: c4a1e551000b
Revises: c4a1e551000a
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e551000b"
down_revision = "c4a1e551000a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cme_cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("child_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=36), nullable=False),
        sa.Column("opened_from_id", sa.String(length=36), nullable=False),
        sa.Column("open_child_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("joint_enquiries_enc", sa.Text(), nullable=True),
        sa.Column("outcome_note_enc", sa.Text(), nullable=True),
        sa.Column("opened_by_id", sa.String(length=36), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by_id", sa.String(length=36), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_cme_cases_child_id_children")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["organisations.id"], name=op.f("fk_cme_cases_school_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["opened_from_id"],
            ["school_notifications.id"],
            name=op.f("fk_cme_cases_opened_from_id_school_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["users.id"], name=op.f("fk_cme_cases_opened_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_cme_cases_closed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cme_cases")),
        sa.UniqueConstraint("open_child_id", name=op.f("uq_cme_cases_open_child_id")),
    )
    op.create_index(op.f("ix_cme_cases_child_id"), "cme_cases", ["child_id"])
    op.create_index(op.f("ix_cme_cases_school_id"), "cme_cases", ["school_id"])
    op.create_index(op.f("ix_cme_cases_status"), "cme_cases", ["status"])


def downgrade():
    op.drop_index(op.f("ix_cme_cases_status"), table_name="cme_cases")
    op.drop_index(op.f("ix_cme_cases_school_id"), table_name="cme_cases")
    op.drop_index(op.f("ix_cme_cases_child_id"), table_name="cme_cases")
    op.drop_table("cme_cases")
