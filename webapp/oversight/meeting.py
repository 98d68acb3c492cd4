"""The monthly missing meeting pack (Wigan appendix f): what the authority's missing meeting looks
at for one month, and the actions it agrees, carried to each later meeting until done.

The agenda, in Wigan's order where Homeward holds the data: cases of concern (escalations
overdue now, and children still missing), frequent missing (three or more episodes in the
month: the intervention meeting's threshold), return interviews (the dashboard's table and the
72-hour share), the dashboard's headline figures, high risk (children with an episode in the
month flagged at risk of sexual exploitation or trafficking), out of area (children placed here
by other authorities, and ours placed elsewhere), episodes not reported to the police, and a dip
sample of declined interviews. Crime data, intelligence mapping and hotspots are the police's and
are not held here.

Every list is under the access rules (access.episodes_query: the manager's authority as
responsible or host) and withdrawn episodes count for nothing. One audit row per pack viewed,
with the month only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from webapp import access, audit, uow
from webapp.accounts.models import Role, User
from webapp.children.models import FLAG_LABELS, Child
from webapp.db_types import utcnow
from webapp.episodes import escalations as escalations_service
from webapp.episodes import tasks
from webapp.episodes.models import Episode, EpisodeStatus, ReportedType
from webapp.errors import NotAllowed, NotFound, RuleError
from webapp.extensions import db
from webapp.interviews.models import Interview, interview_episodes
from webapp.oversight import figures
from webapp.oversight import service as worklist_service
from webapp.oversight.meeting_models import MeetingAction

FREQUENT_EPISODES = 3  # in the month: as the intervention meeting's "3 in 30 days"
HIGH_RISK_FLAGS = ("flag_cse", "flag_trafficking")
DIP_SAMPLE = 5
LIST_LIMIT = 50  # a list longer than this says how many more there are
ACTION_MAX = 1000
# Who may own an action: the authority's own people (a carer or a school's DSL is asked through
# their social worker or the CME officer, who then owns it).
OWNER_ROLES = (
    Role.MANAGER,
    Role.SENIOR_MANAGER,
    Role.SOCIAL_WORKER,
    Role.WORKER,
    Role.IRO,
    Role.CME,
)


@dataclass(frozen=True)
class ChildCount:
    child: Child
    count: int


@dataclass(frozen=True)
class Capped:
    """A list cut at LIST_LIMIT, with how many there are in all."""

    items: tuple
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass(frozen=True)
class Pack:
    period: figures.Period
    month: str  # "2026-11"
    figures: figures.Figures
    overdue: tuple[escalations_service.WorkItem, ...]
    missing_now: tuple[Episode, ...]
    frequent: tuple[ChildCount, ...]
    high_risk: Capped  # of (Child, [flag labels])
    placed_here: tuple[ChildCount, ...]
    placed_away: tuple[ChildCount, ...]
    not_reported: Capped  # of Episode
    declined_sample: tuple[Interview, ...]
    declined_total: int
    carried: tuple[MeetingAction, ...]  # open, agreed at an earlier meeting
    agreed: tuple[MeetingAction, ...]  # agreed at this month's meeting
    owners: tuple[User, ...]


def month_of(code: str | None, now: datetime) -> figures.Period:
    """The month from its code ("2026-11"); the last full month when empty. RuleError if bad."""
    if not code:
        return figures.default_period(now)
    period = figures.parse_period(f"m{code}", now)
    if period.first_day > figures.london_today(now):
        raise RuleError("month", "Choose a month that has begun")
    return period


def month_code(period: figures.Period) -> str:
    return f"{period.first_day:%Y-%m}"


def month_choices(now: datetime, months: int = 24) -> list[tuple[str, str]]:
    today = figures.london_today(now)
    out, day = [], today.replace(day=1)
    for _ in range(months):
        label = f"{day:%B %Y}" + (" (so far)" if day.month == today.month else "")
        out.append((f"{day:%Y-%m}", label))
        day = (day - timedelta(days=1)).replace(day=1)
    return out


def _month_episodes(user: User, period: figures.Period):
    return access.episodes_query(user).where(
        Episode.status != EpisodeStatus.WITHDRAWN,
        Episode.last_seen_at >= period.start,
        Episode.last_seen_at < period.end,
    )


def _child_counts(user: User, period: figures.Period, *where, having: int = 1):
    """Children with at least `having` episodes in the month matching `where`, most first."""
    counted = (
        _month_episodes(user, period)
        .where(*where)
        .with_only_columns(Episode.child_id, func.count(Episode.id).label("n"))
        .group_by(Episode.child_id)
        .having(func.count(Episode.id) >= having)
        .subquery()
    )
    rows = db.session.execute(
        select(Child, counted.c.n)
        .join(counted, counted.c.child_id == Child.id)
        .order_by(counted.c.n.desc(), Child.last_name, Child.first_name)
    ).all()
    return tuple(ChildCount(child, n) for child, n in rows)


def _high_risk(user: User, period: figures.Period) -> Capped:
    # The flags are sealed (no query can read them): the month's children are unsealed here, a
    # few hundred a month even for a large authority.
    ids = _month_episodes(user, period).with_only_columns(Episode.child_id).distinct()
    children = db.session.scalars(
        select(Child).where(Child.id.in_(ids)).order_by(Child.last_name, Child.first_name)
    ).all()
    flagged = []
    for child in children:
        flags = child.sealed_flags
        raised = [FLAG_LABELS[f] for f in HIGH_RISK_FLAGS if flags.get(f)]
        if raised:
            flagged.append((child, raised))
    return Capped(tuple(flagged[:LIST_LIMIT]), len(flagged))


def _not_reported(user: User, period: figures.Period) -> Capped:
    # "Away from placement" (whereabouts known) is not reported to the police by rule.
    query = _month_episodes(user, period).where(
        Episode.reported_to_police_at.is_(None), Episode.reported_type != ReportedType.AWAY
    )
    total = db.session.scalar(query.with_only_columns(func.count(Episode.id)))
    rows = db.session.scalars(
        query.options(selectinload(Episode.child)).order_by(Episode.last_seen_at).limit(LIST_LIMIT)
    ).all()
    return Capped(tuple(rows), total or 0)


def _sample_key(month: str, interview_id: str) -> str:
    # A fixed pseudo-random order per month: the printed pack and the screen show the same
    # sample, and next month's is a fresh one.
    return hashlib.sha256(f"{month}:{interview_id}".encode()).hexdigest()


def _declined(user: User, period: figures.Period, month: str) -> tuple[tuple[Interview, ...], int]:
    in_month = (
        select(interview_episodes.c.interview_id)
        .join(Episode, Episode.id == interview_episodes.c.episode_id)
        .where(
            Episode.status != EpisodeStatus.WITHDRAWN,
            Episode.last_seen_at >= period.start,
            Episode.last_seen_at < period.end,
        )
    )
    ids = db.session.scalars(
        access.interviews_query(user)
        .where(Interview.outcome == "declined", Interview.id.in_(in_month))
        .with_only_columns(Interview.id)
    ).all()
    chosen = sorted(ids, key=lambda i: _sample_key(month, i))[:DIP_SAMPLE]
    rows = db.session.scalars(
        select(Interview).options(selectinload(Interview.child)).where(Interview.id.in_(chosen))
    ).all()
    order = {i: n for n, i in enumerate(chosen)}
    return tuple(sorted(rows, key=lambda r: order[r.id])), len(ids)


def owners_for(user: User) -> tuple[User, ...]:
    return tuple(
        p
        for p in db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(OWNER_ROLES))
            .order_by(User.name)
        )
        if p.authority_id == user.authority_id
    )


def _actions(user: User, month: str) -> tuple[tuple[MeetingAction, ...], tuple[MeetingAction, ...]]:
    rows = db.session.scalars(
        select(MeetingAction)
        .options(selectinload(MeetingAction.owner), selectinload(MeetingAction.done_by))
        .where(MeetingAction.authority_id == user.authority_id, MeetingAction.month <= month)
        .order_by(MeetingAction.month, MeetingAction.created_at)
    ).all()
    carried = tuple(a for a in rows if a.month < month and a.done_at is None)
    agreed = tuple(a for a in rows if a.month == month)
    return carried, agreed


def pack(user: User, month_period: figures.Period, now: datetime) -> Pack:
    month = month_code(month_period)
    overdue, missing_now = worklist_service.open_tasks(user, now)
    away = _child_counts(
        user,
        month_period,
        Child.host_authority_id.is_not(None),
        Child.responsible_authority_id == user.authority_id,
        Child.host_authority_id != user.authority_id,
    )
    here = _child_counts(
        user,
        month_period,
        Child.host_authority_id == user.authority_id,
        Child.responsible_authority_id != user.authority_id,
    )
    declined, declined_total = _declined(user, month_period, month)
    carried, agreed = _actions(user, month)
    result = Pack(
        period=month_period,
        month=month,
        figures=figures.figures(user, month_period, figures.Filters(), now),
        overdue=tuple(w for w in overdue if w.task.urgency == tasks.OVERDUE),
        missing_now=tuple(missing_now),
        frequent=_child_counts(user, month_period, having=FREQUENT_EPISODES),
        high_risk=_high_risk(user, month_period),
        placed_here=here,
        placed_away=away,
        not_reported=_not_reported(user, month_period),
        declined_sample=declined,
        declined_total=declined_total,
        carried=carried,
        agreed=agreed,
        owners=owners_for(user),
    )
    audit.record("view", "meeting_pack", None, detail=month)
    uow.commit()
    return result


# ---------------------------------------------------------------- the actions


def _text(value: str | None, field: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise RuleError(field, f"Enter {what}")
    if len(text) > ACTION_MAX:
        raise RuleError(field, f"{what.capitalize()} must be {ACTION_MAX} characters or fewer")
    return text


def add_action(
    user: User, month_period: figures.Period, text: str | None, owner_id: str, due_on: date | None
) -> MeetingAction:
    """An action agreed at the month's meeting, owned by a person of the authority."""
    if not access.can_manage(user):
        raise NotAllowed("Only managers record the meeting's actions")
    words = _text(text, "text", "the action")
    owner = db.session.get(User, owner_id) if owner_id else None
    if owner is None or owner.id not in {p.id for p in owners_for(user)}:
        raise RuleError("owner_id", "Choose who owns the action from the list")
    if due_on is not None and due_on < month_period.first_day:
        raise RuleError("due_on", "The date it is due must be after the month began")
    action = MeetingAction(
        authority_id=user.authority_id,
        month=month_code(month_period),
        owner_id=owner.id,
        due_on=due_on,
        created_by_id=user.id,
    )
    action.text = words
    db.session.add(action)
    db.session.flush()
    audit.record("create", "meeting_action", action.id, detail=action.month)
    uow.commit()
    return action


def complete_action(
    user: User, action_id: str, outcome: str | None, read_version: int | None
) -> MeetingAction:
    """Mark an action done, with what came of it. A second "done" from a page opened before the
    first is refused, saying so (what it said is kept)."""
    if not access.can_manage(user):
        raise NotAllowed("Only managers record the meeting's actions")
    action = db.session.get(MeetingAction, action_id)
    if action is None or action.authority_id != user.authority_id:
        raise NotFound
    if action.done_at is not None or (read_version is not None and action.version != read_version):
        raise RuleError(None, "This action was updated meanwhile: it is already recorded as done")
    action.outcome = _text(outcome, "outcome", "what came of it")
    action.done_at = utcnow()
    action.done_by_id = user.id
    audit.record("update", "meeting_action", action.id, detail="done")
    uow.commit()
    return action


__all__ = ["Pack", "add_action", "complete_action", "month_choices", "month_of", "pack"]
