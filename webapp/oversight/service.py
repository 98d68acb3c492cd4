"""What a manager must act on now: allocation, the 72-hour clock, authorisation, escalations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.orm import selectinload

from webapp import access, audit, deadlines, uow
from webapp.accounts.models import User
from webapp.carers import plans
from webapp.carers.models import RiskPlan
from webapp.children import service as children
from webapp.episodes import escalations as escalations_service
from webapp.episodes.models import Episode, EpisodeStatus
from webapp.extensions import db
from webapp.interviews import workflow
from webapp.interviews.models import Interview, InterviewStatus

# Escalations are shown for episodes that are open or ended recently; older ones are history.
ESCALATION_LOOKBACK = timedelta(days=30)


@dataclass
class Dashboard:
    awaiting_allocation: list[tuple[Interview, deadlines.RhiClock]]
    at_risk: list[tuple[Interview, deadlines.RhiClock]]  # overdue or due soon, allocated
    awaiting_authorisation: list[Interview]
    authorised_not_forwarded: list[Interview]
    missing_now: list[Episode]
    # Open escalation tasks, overdue first (escalations.worklist); done ones are in the child's
    # history, not here.
    escalations: list[escalations_service.WorkItem]
    # Risk plans whose review (6 months on, or 7 days after a return) has fallen due.
    overdue_plan_reviews: list[RiskPlan] = field(default_factory=list)


def open_tasks(
    manager: User, now: datetime
) -> tuple[list[escalations_service.WorkItem], list[Episode]]:
    """The open escalation tasks of the manager's episodes (overdue first), and the children
    missing now: the manager's page and the monthly meeting pack lead with them."""
    recent = db.session.scalars(
        access.episodes_query(manager)
        .options(selectinload(Episode.child))
        .where(
            or_(
                Episode.status == EpisodeStatus.MISSING,
                (Episode.status == EpisodeStatus.RETURNED)
                & (Episode.returned_at >= now - ESCALATION_LOOKBACK),
            )
        )
        .order_by(Episode.last_seen_at)
    ).all()
    missing_now = [e for e in recent if e.status == EpisodeStatus.MISSING]
    return escalations_service.worklist(recent, now), missing_now


def dashboard(manager: User, now: datetime) -> Dashboard:
    t = children.thresholds()
    q = access.interviews_query(manager).options(selectinload(Interview.child))
    open_rows = db.session.scalars(
        q.where(Interview.status.in_(workflow.OPEN_STATUSES)).order_by(Interview.due_at)
    ).all()
    clocks = [(i, deadlines.rhi_clock(i.due_at, now, t)) for i in open_rows]
    awaiting = [(i, c) for i, c in clocks if i.status == InterviewStatus.AWAITING_ALLOCATION]
    at_risk = [
        (i, c)
        for i, c in clocks
        if i.status != InterviewStatus.AWAITING_ALLOCATION and c.state != "on_track"
    ]
    submitted = db.session.scalars(
        q.where(Interview.status == InterviewStatus.SUBMITTED).order_by(Interview.submitted_at)
    ).all()
    not_forwarded = db.session.scalars(
        q.where(
            Interview.status == InterviewStatus.AUTHORISED,
            Interview.forwarded_to_police_at.is_(None),
        ).order_by(Interview.authorised_at)
    ).all()

    tasks, missing_now = open_tasks(manager, now)
    overdue_reviews = plans.overdue_reviews(manager, now)
    audit.record("view", "dashboard", None, detail="manager dashboard")
    uow.commit()
    return Dashboard(
        awaiting_allocation=awaiting,
        at_risk=at_risk,
        awaiting_authorisation=list(submitted),
        authorised_not_forwarded=list(not_forwarded),
        missing_now=missing_now,
        escalations=tasks,
        overdue_plan_reviews=overdue_reviews,
    )


__all__ = ["Dashboard", "dashboard", "open_tasks"]
