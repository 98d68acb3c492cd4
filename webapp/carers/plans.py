"""The risk assessment and action plan: read, save and sign off, always through the access rules,
always audited. The rules (shape, hours, review dates) are the pure plan_rules.

The social worker and the carer complete the plan together; each signs it off for themself. A
change to what the plan says after a sign-off clears both sign-offs: they signed something else.
Both signed is a review: reviewed_at is then, and the next review falls due by plan_rules. The
field-mode sync handler (webapp/carers/sync.py) calls these same functions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from webapp import access, audit, uow
from webapp.accounts.models import Role, User
from webapp.carers import plan_rules
from webapp.carers.models import RiskPlan
from webapp.children.models import Child
from webapp.db_types import utcnow
from webapp.episodes.models import Episode
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db


def _may(user: User, child: Child) -> None:
    if not access.can_edit_plan(user, child):
        raise NotAllowed("Only the child's carer, social worker or a manager keeps the plan")


def read_plan(user: User, child: Child) -> RiskPlan | None:
    """The child's plan (None before the first save). Read by the same people who may edit it."""
    _may(user, child)
    plan = db.session.get(RiskPlan, child.id)
    audit.record("view", "risk_plan", child.id, child_id=child.id)
    uow.commit()
    return plan


def save_plan(user: User, child: Child, data: dict) -> RiskPlan:
    """Save what the plan says; the row is made on the first save. `data` holds the text
    fields, "contacts" and "addresses" (lists of dicts), "visit_within_days" and
    "report_after_hours" (see plan_rules). Unchanged content keeps the sign-offs."""
    _may(user, child)
    try:
        content, hours = plan_rules.validate(data)
    except plan_rules.PlanRuleError as err:
        raise RuleError(err.field, err.message) from None
    plan = db.session.get(RiskPlan, child.id)
    created = plan is None
    if created:
        plan = RiskPlan(id=child.id)
        db.session.add(plan)
    if created or plan.content != content or plan.report_after_hours != hours:
        plan.content = content
        plan.report_after_hours = hours
        plan.updated_by_id = user.id
        # Whoever signed, signed what the plan said then.
        plan.carer_signed_at = plan.carer_signed_by_id = None
        plan.social_worker_signed_at = plan.social_worker_signed_by_id = None
        db.session.flush()
        audit.record("create" if created else "update", "risk_plan", child.id, child_id=child.id)
    uow.commit()
    return plan


def sign_plan(user: User, child: Child) -> RiskPlan:
    """The child's carer or social worker signs the plan as it stands, for themself only."""
    _may(user, child)
    plan = db.session.get(RiskPlan, child.id)
    if plan is None:
        raise RuleError("sign", "Save the plan before signing it off")
    now = utcnow()
    if user.role == Role.CARER and child.carer_id == user.id:
        plan.carer_signed_at, plan.carer_signed_by_id = now, user.id
    elif user.role == Role.SOCIAL_WORKER and child.social_worker_id == user.id:
        plan.social_worker_signed_at, plan.social_worker_signed_by_id = now, user.id
    else:
        raise NotAllowed("Only the child's carer and social worker sign the plan")
    if plan.carer_signed_at and plan.social_worker_signed_at:
        plan.reviewed_at = now
    refresh_review_due(plan)
    audit.record("sign", "risk_plan", child.id, child_id=child.id, detail=str(user.role))
    uow.commit()
    return plan


def returns_since(child_id: str, since: datetime | None) -> list[datetime]:
    q = select(Episode.returned_at).where(
        Episode.child_id == child_id, Episode.returned_at.is_not(None)
    )
    if since is not None:
        q = q.where(Episode.returned_at > since)
    return list(db.session.scalars(q))


def refresh_review_due(plan: RiskPlan) -> bool:
    """Keep review_due_at in step with the last review and the returns since (the manager's
    overdue list queries the column). True if it moved. Called on sign-off and by the
    reminders' refresh when an episode of the child changes."""
    due = plan_rules.review_due_at(plan.reviewed_at, returns_since(plan.id, plan.reviewed_at))
    if due != plan.review_due_at:
        plan.review_due_at = due
        return True
    return False


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def step_for(episode: Episode, now: datetime) -> plan_rules.Step:
    """What the child's page says the carer should do next while the child is not back: the
    plan's police deadline (the phone works out the same with plan.js)."""
    plan = db.session.get(RiskPlan, episode.child_id)
    return plan_rules.next_step(
        reported_type=episode.reported_type,
        last_seen_at=episode.last_seen_at,
        due_back_at=episode.due_back_at,
        date_of_birth=episode.child.date_of_birth,
        report_after_hours=plan.report_after_hours if plan is not None else None,
        reported_to_police_at=episode.reported_to_police_at,
        returned_at=episode.returned_at,
        now=now,
    )


def plan_summary(plan: RiskPlan | None) -> dict:
    """What a carer's phone keeps of the plan (JSON-able). No plan: report_after_hours None,
    which plan.js reads as no agreed wait (at once)."""
    if plan is None:
        return {"exists": False, "report_after_hours": None}
    content = plan.content or {}
    return {
        "exists": True,
        "report_after_hours": plan.report_after_hours,
        **{name: content.get(name) for name in plan_rules.PLAN_FIELDS},
        "carer_signed_at": _iso(plan.carer_signed_at),
        "social_worker_signed_at": _iso(plan.social_worker_signed_at),
        "reviewed_at": _iso(plan.reviewed_at),
        "review_due_at": _iso(plan.review_due_at),
    }


def overdue_reviews(user: User, now: datetime) -> list[RiskPlan]:
    """Plans of the children this manager may see whose review has fallen due."""
    return list(
        db.session.scalars(
            select(RiskPlan)
            .join(Child, RiskPlan.id == Child.id)
            .where(access.child_clause(user), RiskPlan.review_due_at <= now)
            .order_by(RiskPlan.review_due_at)
        )
    )


__all__ = [
    "overdue_reviews",
    "plan_summary",
    "read_plan",
    "refresh_review_due",
    "save_plan",
    "sign_plan",
]
