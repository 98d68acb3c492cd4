"""schools: absences, follow-ups, enquiries, referrals (part I)

The DSL's safeguarding record of a pupil's absences: sessions and their 2024 codes, the follow-up
an unexplained absence opens, each reasonable enquiry, the always-refer checklist and its
referral, and what the school told the authority. New tables only: nothing existing changes.

Revision ID: c4a1e551000a
Revises: c4a1e5510009
"""

import sqlalchemy as sa
from alembic import op

revision = "c4a1e551000a"
down_revision = "c4a1e5510009"
branch_labels = None
depends_on = None


def _fk(table, column, referred):
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}")
    )


def upgrade():
    op.create_table(
        "school_followups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("child_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=36), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("closed_reason", sa.String(length=20), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("illness", sa.Boolean(), nullable=False),
        sa.Column("whereabouts_unknown", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk("school_followups", "child_id", "children"),
        _fk("school_followups", "school_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_followups")),
    )
    for column in ("child_id", "school_id", "status"):
        op.create_index(op.f(f"ix_school_followups_{column}"), "school_followups", [column])

    op.create_table(
        "school_absences",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("child_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=36), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("session", sa.String(length=2), nullable=False),
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("recorded_by_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("followup_id", sa.String(length=36), nullable=True),
        _fk("school_absences", "child_id", "children"),
        _fk("school_absences", "school_id", "organisations"),
        _fk("school_absences", "recorded_by_id", "users"),
        _fk("school_absences", "followup_id", "school_followups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_absences")),
        sa.UniqueConstraint("child_id", "on", "session", name=op.f("uq_school_absences_child_id")),
    )
    for column in ("child_id", "school_id", "on", "followup_id"):
        op.create_index(op.f(f"ix_school_absences_{column}"), "school_absences", [column])

    op.create_table(
        "school_enquiries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("followup_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("outcome_enc", sa.Text(), nullable=True),
        sa.Column("seen_safe", sa.Boolean(), nullable=False),
        sa.Column("recorded_by_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("school_enquiries", "followup_id", "school_followups"),
        _fk("school_enquiries", "recorded_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_enquiries")),
    )
    op.create_index(op.f("ix_school_enquiries_followup_id"), "school_enquiries", ["followup_id"])

    op.create_table(
        "school_referrals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("followup_id", sa.String(length=36), nullable=False),
        sa.Column("answers_enc", sa.Text(), nullable=True),
        sa.Column("any_yes", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("referred_to", sa.String(length=20), nullable=True),
        sa.Column("referred_at", sa.DateTime(), nullable=True),
        sa.Column("reference_enc", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.String(length=36), nullable=True),
        _fk("school_referrals", "followup_id", "school_followups"),
        _fk("school_referrals", "recorded_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_referrals")),
    )
    op.create_index(op.f("ix_school_referrals_followup_id"), "school_referrals", ["followup_id"])

    op.create_table(
        "school_notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("child_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.String(length=36), nullable=False),
        sa.Column("followup_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("episode_id", sa.String(length=36), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("sent_by_id", sa.String(length=36), nullable=True),
        _fk("school_notifications", "child_id", "children"),
        _fk("school_notifications", "school_id", "organisations"),
        _fk("school_notifications", "followup_id", "school_followups"),
        _fk("school_notifications", "episode_id", "episodes"),
        _fk("school_notifications", "sent_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_notifications")),
    )
    for column in ("child_id", "school_id", "followup_id", "kind"):
        op.create_index(op.f(f"ix_school_notifications_{column}"), "school_notifications", [column])


def downgrade():
    op.drop_table("school_notifications")
    op.drop_table("school_referrals")
    op.drop_table("school_enquiries")
    op.drop_table("school_absences")
    op.drop_table("school_followups")
