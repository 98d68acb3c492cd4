"""carers: the standing profile, the risk plan, and what a carer reports of an episode

Every existing child gets an empty profile (the carer's field-mode record for that child), with
a change-log entry so phones already in the field are given it at their next pull. New children
get theirs from the app (webapp.carers.hooks).

Revision ID: c4a1e5510007
Revises: c4a1e5510006
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "c4a1e5510007"
down_revision = "c4a1e5510006"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade():
    op.create_table(
        "child_profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("content_enc", sa.Text(), nullable=True),
        sa.Column("photo_enc", sa.Text(), nullable=True),
        sa.Column("photo_updated_at", sa.DateTime(), nullable=True),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("updated_by_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["id"], ["children.id"], name=op.f("fk_child_profiles_id_children")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_child_profiles_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_profiles")),
    )
    op.create_table(
        "risk_plans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("content_enc", sa.Text(), nullable=True),
        sa.Column("report_after_hours", sa.Integer(), nullable=False),
        sa.Column("carer_signed_at", sa.DateTime(), nullable=True),
        sa.Column("carer_signed_by_id", sa.String(length=36), nullable=True),
        sa.Column("social_worker_signed_at", sa.DateTime(), nullable=True),
        sa.Column("social_worker_signed_by_id", sa.String(length=36), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("review_due_at", sa.DateTime(), nullable=True),
        sa.Column("updated_by_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["id"], ["children.id"], name=op.f("fk_risk_plans_id_children")),
        sa.ForeignKeyConstraint(
            ["carer_signed_by_id"], ["users.id"], name=op.f("fk_risk_plans_carer_signed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["social_worker_signed_by_id"],
            ["users.id"],
            name=op.f("fk_risk_plans_social_worker_signed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_risk_plans_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_plans")),
    )
    op.create_index(op.f("ix_risk_plans_review_due_at"), "risk_plans", ["review_due_at"])
    with op.batch_alter_table("episodes") as batch_op:
        batch_op.add_column(sa.Column("due_back_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("report_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("return_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("carer_notes_enc", sa.Text(), nullable=True))
    # The return interview's appointment: time in clear (reminders), place sealed.
    with op.batch_alter_table("interviews") as batch_op:
        batch_op.add_column(sa.Column("appointment_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("appointment_arranged_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("appointment_place_enc", sa.Text(), nullable=True))
    # The child's independent reviewing officer (looked-after children): told of every episode.
    # On SQLite the column comes with its REFERENCES clause in place: Alembic's copy-and-rename
    # of children would, with foreign keys on, fail on (or delete) the rows that refer to it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE children ADD COLUMN iro_id VARCHAR(36) "
            "CONSTRAINT fk_children_iro_id_users REFERENCES users (id)"
        )
    else:
        op.add_column("children", sa.Column("iro_id", sa.String(length=36), nullable=True))
        op.create_foreign_key(
            op.f("fk_children_iro_id_users"), "children", "users", ["iro_id"], ["id"]
        )
    op.create_index(op.f("ix_children_iro_id"), "children", ["iro_id"], unique=False)

    conn = op.get_bind()
    children = sa.table("children", sa.column("id", sa.String))
    profiles = sa.table(
        "child_profiles",
        sa.column("id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
    )
    change_log = sa.table(
        "change_log",
        sa.column("record_type", sa.String),
        sa.column("record_id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("deleted", sa.Boolean),
        sa.column("changed_at", sa.DateTime),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    last = ""
    while True:
        ids = conn.scalars(
            sa.select(children.c.id).where(children.c.id > last).order_by(children.c.id).limit(BATCH)
        ).all()
        if not ids:
            break
        conn.execute(
            profiles.insert(),
            [{"id": i, "version": 1, "created_at": now, "updated_at": now} for i in ids],
        )
        conn.execute(
            change_log.insert(),
            [
                {"record_type": "child", "record_id": i, "version": 1, "deleted": False,
                 "changed_at": now}
                for i in ids
            ],
        )
        last = ids[-1]


def downgrade():
    op.drop_index(op.f("ix_children_iro_id"), table_name="children")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE children DROP COLUMN iro_id")  # as in upgrade: no table copy
    else:
        op.drop_constraint(op.f("fk_children_iro_id_users"), "children", type_="foreignkey")
        op.drop_column("children", "iro_id")
    with op.batch_alter_table("interviews") as batch_op:
        batch_op.drop_column("appointment_place_enc")
        batch_op.drop_column("appointment_arranged_at")
        batch_op.drop_column("appointment_at")
    with op.batch_alter_table("episodes") as batch_op:
        batch_op.drop_column("carer_notes_enc")
        batch_op.drop_column("return_enc")
        batch_op.drop_column("report_enc")
        batch_op.drop_column("due_back_at")
    op.drop_index(op.f("ix_risk_plans_review_due_at"), table_name="risk_plans")
    op.drop_table("risk_plans")
    op.drop_table("child_profiles")
