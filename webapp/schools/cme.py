"""The authority's children-missing-education (CME) officer: the worklist of what the schools of
the authority told it, the case each notification opens or joins, the joint reasonable enquiries
and the outcome that closes the case; and the school side of a child for the social worker and
the missing co-ordinator (the manager), on the child's page.

What the officer may see is access.child_clause (the children notified by a school of their
authority). The school's own enquiry notes (absence_models.Enquiry) are never read here: the
authority sees that the school notified it and when, not what the school wrote.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp import access, audit, uow
from webapp.accounts.models import Organisation, Role, User
from webapp.children.models import Child
from webapp.db_types import utcnow
from webapp.deadlines import to_local
from webapp.episodes.models import Episode
from webapp.errors import ChangedMeanwhile, NotFound, RuleError
from webapp.extensions import db
from webapp.schools.absence_models import FollowUp, FollowUpStatus, SchoolNotification
from webapp.schools.cme_models import CME_KINDS, OUTCOME_LABELS, CaseStatus, CmeCase

# "At a glance": missing from home or care (placement), not from school: the school side is
# already on the worklist.
GLANCE_FROM = ("home", "placement")
GLANCE_WINDOW = timedelta(days=365)
MAX_TEXT = 2000
# Who sees the school side of a child on the child's page (besides the officer): the social
# worker (their children) and the manager, the authority's missing co-ordinator.
SCHOOL_SIDE_ROLES = (Role.SOCIAL_WORKER, Role.MANAGER, Role.CME)


@dataclass(frozen=True)
class Glance:
    """Missing-from-home or care episodes in the last 12 months (0: none, no tag)."""

    episodes: int

    @property
    def text(self) -> str:
        n = self.episodes
        return f"Also missing from home or care: {n} {'time' if n == 1 else 'times'} in 12 months"


@dataclass
class WorkItem:
    notification: SchoolNotification
    school: Organisation
    case: CmeCase | None
    glance: Glance


@dataclass
class CaseView:
    case: CmeCase
    notifications: list[SchoolNotification]
    glance: Glance
    enquiries: list[dict] = field(default_factory=list)


def _require_officer(user: User) -> None:
    if user.role != Role.CME:
        raise NotFound


def _schools(user: User):
    return select(Organisation.id).where(Organisation.parent_id == user.authority_id)


def _notifications(user: User):
    """The notifications of the officer's authority's schools that are the authority's business,
    of children the officer may see (the same rule: a list and a lookup never disagree)."""
    return (
        select(SchoolNotification)
        .join(Child, Child.id == SchoolNotification.child_id)
        .where(
            access.child_clause(user),
            SchoolNotification.school_id.in_(_schools(user)),
            SchoolNotification.kind.in_(CME_KINDS),
        )
    )


def glances(child_ids: set[str], now: datetime | None = None) -> dict[str, Glance]:
    """Each child's missing-from-home or care episodes in the last 12 months, in one query.
    Counts only: which episodes, and anything about them, is for those who may read them."""
    now = now or utcnow()
    counts: dict[str, int] = dict.fromkeys(child_ids, 0)
    if child_ids:
        rows = db.session.execute(
            select(Episode.child_id, func.count())
            .where(
                Episode.child_id.in_(child_ids),
                Episode.missing_from.in_(GLANCE_FROM),
                Episode.last_seen_at >= now - GLANCE_WINDOW,
            )
            .group_by(Episode.child_id)
        )
        counts.update({child_id: n for child_id, n in rows})
    return {child_id: Glance(n) for child_id, n in counts.items()}


def _covering(notification: SchoolNotification, cases: list[CmeCase]) -> CmeCase | None:
    """The case a notification belongs to. A child has one case at a time (cases ordered by
    opening): each covers what arrived after the one before it closed, up to its own close. A
    notification after every close, with no case open, belongs to none yet: the worklist shows
    it as new, and opening it starts the child's next case."""
    previous_close = None
    for case in cases:
        after_previous = previous_close is None or notification.sent_at > previous_close
        before_close = case.closed_at is None or notification.sent_at <= case.closed_at
        if after_previous and before_close:
            return case
        previous_close = case.closed_at
    return None


def _cases_by_child(child_ids: set[str]) -> dict[str, list[CmeCase]]:
    out: dict[str, list[CmeCase]] = defaultdict(list)
    if child_ids:
        for case in db.session.scalars(
            select(CmeCase).where(CmeCase.child_id.in_(child_ids)).order_by(CmeCase.opened_at)
        ):
            out[case.child_id].append(case)
    return out


def worklist(user: User, now: datetime | None = None, limit: int = 500) -> list[WorkItem]:
    """Every notification of the authority's schools, newest first, with its case."""
    _require_officer(user)
    notifications = list(
        db.session.scalars(
            _notifications(user).order_by(SchoolNotification.sent_at.desc()).limit(limit)
        )
    )
    child_ids = {n.child_id for n in notifications}
    cases = _cases_by_child(child_ids)
    seen = glances(child_ids, now)
    schools = {
        o.id: o
        for o in db.session.scalars(
            select(Organisation).where(Organisation.id.in_({n.school_id for n in notifications}))
        )
    }
    items = [
        WorkItem(n, schools[n.school_id], _covering(n, cases.get(n.child_id, [])), seen[n.child_id])
        for n in notifications
    ]
    audit.record("list", "cme_worklist", None, detail=f"{len(items)} notifications")
    uow.commit()
    return items


def _notification_or_404(user: User, notification_id: str) -> SchoolNotification:
    n = db.session.scalar(_notifications(user).where(SchoolNotification.id == notification_id))
    if n is None:
        raise NotFound
    return n


def get_case_or_404(user: User, case_id: str) -> CmeCase:
    _require_officer(user)
    case = db.session.scalar(
        select(CmeCase)
        .join(Child, Child.id == CmeCase.child_id)
        .where(
            CmeCase.id == case_id,
            CmeCase.school_id.in_(_schools(user)),
            access.child_clause(user),
        )
    )
    if case is None:
        raise NotFound
    return case


def case_of(user: User, notification_id: str) -> CmeCase | None:
    """The case a notification belongs to, for an officer who may see the notification
    (NotFound otherwise); None while it has none (the worklist shows it as new). Reads only: a
    tapped reminder lands there, it never opens a case."""
    _require_officer(user)
    n = _notification_or_404(user, notification_id)
    return _covering(n, _cases_by_child({n.child_id})[n.child_id])


def open_case(user: User, notification_id: str, now: datetime | None = None) -> CmeCase:
    """The case for this notification: the one it belongs to, or a new one opened from it (a
    notification after every earlier case closed starts the child's next case)."""
    _require_officer(user)
    n = _notification_or_404(user, notification_id)
    existing = _covering(n, _cases_by_child({n.child_id})[n.child_id])
    if existing is not None:
        return existing
    case = CmeCase(
        child_id=n.child_id,
        school_id=n.school_id,
        opened_from_id=n.id,
        open_child_id=n.child_id,
        status=CaseStatus.OPEN,
        opened_by_id=user.id,
        opened_at=now or utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(case)
    except IntegrityError:
        # Another officer opened the child's case this moment: join theirs.
        case = db.session.scalar(select(CmeCase).where(CmeCase.open_child_id == n.child_id))
        if case is None:
            raise
        return case
    audit.record("open", "cme_case", case.id, child_id=n.child_id, detail=n.kind)
    uow.commit()
    return case


def read_case(user: User, case_id: str, now: datetime | None = None) -> CaseView:
    case = get_case_or_404(user, case_id)
    all_cases = _cases_by_child({case.child_id})[case.child_id]
    notifications = [
        n
        for n in db.session.scalars(
            _notifications(user)
            .where(SchoolNotification.child_id == case.child_id)
            .order_by(SchoolNotification.sent_at.desc())
        )
        if _covering(n, all_cases) is case
    ]
    view = CaseView(
        case=case,
        notifications=notifications,
        glance=glances({case.child_id}, now)[case.child_id],
        # Newest first, with the date as a date for the page.
        enquiries=[
            {**e, "on": date.fromisoformat(e["on"])}
            for e in sorted(case.joint_enquiries, key=lambda e: e["on"], reverse=True)
        ],
    )
    audit.record("view", "cme_case", case.id, child_id=case.child_id)
    uow.commit()
    return view


def _check_version(case: CmeCase, version: int | None) -> None:
    if version is not None and version != case.version:
        raise ChangedMeanwhile


def _text(data: dict, name: str, label: str, *, required: bool = True) -> str:
    value = (data.get(name) or "").strip()
    if required and not value:
        raise RuleError(name, f"Enter {label}")
    if len(value) > MAX_TEXT:
        raise RuleError(
            name, f"{label[0].upper()}{label[1:]} must be {MAX_TEXT} characters or fewer"
        )
    return value


def add_joint_enquiry(
    user: User, case_id: str, data: dict, *, version: int | None = None
) -> CmeCase:
    """One joint reasonable enquiry made with the school: the date, with whom, what was done,
    what came of it. All sealed together in the case."""
    case = get_case_or_404(user, case_id)
    _check_version(case, version)
    if not case.is_open:
        raise RuleError("on", "This case is closed: open a new one from a new notification")
    on = data.get("on")
    if not isinstance(on, date):
        raise RuleError("on", "Enter the date of the enquiry")
    if on > to_local(utcnow()).date():
        raise RuleError("on", "The date of the enquiry must be today or in the past")
    entry = {
        "on": on.isoformat(),
        "with_whom": _text(data, "with_whom", "who the enquiry was made with"),
        "action": _text(data, "action", "what was done"),
        "outcome": _text(data, "outcome", "what came of it", required=False),
        "by": user.id,
        "at": utcnow().isoformat(),
    }
    case.joint_enquiries = [*case.joint_enquiries, entry]
    audit.record("update", "cme_case", case.id, child_id=case.child_id, detail="joint_enquiry")
    uow.commit()
    return case


def close_case(
    user: User, case_id: str, data: dict, *, version: int | None = None, now: datetime | None = None
) -> CmeCase:
    """The outcome, which closes the case (found at another school, moved away, referred,
    returned to school, other: "other" says what)."""
    case = get_case_or_404(user, case_id)
    _check_version(case, version)
    if not case.is_open:
        raise RuleError("outcome", "This case is already closed")
    outcome = data.get("outcome") or ""
    if outcome not in OUTCOME_LABELS:
        raise RuleError("outcome", "Select the outcome")
    note = _text(data, "note", "what the outcome was", required=outcome == "other")
    case.outcome = outcome
    case.outcome_note = note or None
    case.status = CaseStatus.CLOSED
    case.open_child_id = None
    case.closed_at = now or utcnow()
    case.closed_by_id = user.id
    audit.record("close", "cme_case", case.id, child_id=case.child_id, detail=outcome)
    uow.commit()
    return case


# ---------------------------------------------------------------- the child's page


@dataclass
class SchoolSide:
    notifications: list[SchoolNotification]
    followups: list[FollowUp]
    cases: list[CmeCase]
    school_names: dict[str, str]

    @property
    def open_followup(self) -> FollowUp | None:
        return next((f for f in self.followups if f.status == FollowUpStatus.OPEN), None)


def school_side(user: User, child: Child) -> SchoolSide | None:
    """What the school told the authority about this child, its absence follow-ups' states and
    the CME case's status and outcome: for the social worker, the manager (the missing
    co-ordinator) and the CME officer. Kinds, dates and states only: never the school's enquiry
    notes, the checklist's answers or the case's joint enquiries. None for anyone else, or when
    there is nothing to show. `child` has been found through access already."""
    if user.role not in SCHOOL_SIDE_ROLES:
        return None
    notifications = list(
        db.session.scalars(
            select(SchoolNotification)
            .where(SchoolNotification.child_id == child.id)
            .order_by(SchoolNotification.sent_at.desc())
        )
    )
    followups = list(
        db.session.scalars(
            select(FollowUp)
            .where(FollowUp.child_id == child.id)
            .order_by(FollowUp.opened_on.desc())
        )
    )
    cases = list(
        db.session.scalars(
            select(CmeCase).where(CmeCase.child_id == child.id).order_by(CmeCase.opened_at.desc())
        )
    )
    if not (notifications or followups or cases):
        return None
    school_ids = {n.school_id for n in notifications} | {f.school_id for f in followups}
    school_ids |= {c.school_id for c in cases}
    names = dict(
        db.session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(school_ids))
        ).all()
    )
    audit.record("view", "school_side", child.id, child_id=child.id)
    uow.commit()
    return SchoolSide(notifications, followups, cases, names)
