"""Return home interviews: allocate, save answers section by section, submit, authorise.

Answers travel as a flat dict of strings (radios, short and long text, ISO 8601 UTC for times) and
lists (checkboxes). The envelope answers go to their own columns so oversight can count them; the
police intelligence goes to its own sealed field; everything else is one sealed JSON document.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from webapp import access, audit, deadlines, sealed, uow
from webapp.accounts.models import Role, User
from webapp.children import service as children
from webapp.children.models import Child
from webapp.db_types import utcnow
from webapp.errors import ChangedMeanwhile, NotAllowed, RuleError
from webapp.extensions import db
from webapp.interviews import workflow
from webapp.interviews.models import Interview
from webapp.interviews.questions import (
    ENVELOPE_FIELDS,
    INTELLIGENCE_FIELD,
    QUESTIONS,
    SECTIONS,
    Problem,
    Section,
    completeness_problems,
)

_BOOL_FIELDS = ("independent",)


def _to_bool(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def _from_bool(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


# ---------------------------------------------------------------- reading


def list_for_worker(user: User) -> list[Interview]:
    """The returns allocated to this person still to do, soonest deadline first (overdue at the
    top): a worker's, or a social worker's who holds a looked-after child's interview."""
    rows = db.session.scalars(
        access.field_interviews_query(user)
        .where(Interview.status.in_(workflow.statuses_allowing(workflow.Action.EDIT)))
        .order_by(Interview.due_at)
    ).all()
    audit.record("list", "interview", None, detail=f"{len(rows)} returns")
    uow.commit()
    return list(rows)


def read_interview(user: User, interview_id: str) -> Interview:
    interview = access.get_interview_or_404(user, interview_id)
    audit.record("view", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return interview


def answers(interview: Interview) -> dict:
    """Every answer in one dict, decrypted. Callers must have passed the access checks."""
    data = dict(sealed.unseal(interview.content_enc, "interview", interview.id, "content", {}))
    intelligence = sealed.unseal(
        interview.intelligence_enc, "interview", interview.id, "intelligence"
    )
    if intelligence:
        data[INTELLIGENCE_FIELD] = intelligence
    data["offered"] = interview.offered
    data["outcome"] = interview.outcome
    data["held_at"] = interview.held_at.isoformat() if interview.held_at else None
    for name in _BOOL_FIELDS:
        data[name] = _from_bool(getattr(interview, name))
    return {k: v for k, v in data.items() if v not in (None, "", [])}


def review_note(interview: Interview) -> str | None:
    return sealed.unseal(interview.review_note_enc, "interview", interview.id, "review_note")


def clock(interview: Interview, now: datetime | None = None) -> deadlines.RhiClock:
    return deadlines.rhi_clock(interview.due_at, now or utcnow(), children.thresholds())


# ---------------------------------------------------------------- progress


def section_state(section: Section, data: dict) -> str:
    filled = [n for n in section.names if data.get(n) not in (None, "", [])]
    if not filled:
        return "not_started"
    problems = [p for p in completeness_problems(data) if p.section == section.slug]
    return "in_progress" if problems else "completed"


# ---------------------------------------------------------------- changing


def _check(user: User, interview: Interview, action: workflow.Action, not_role: str) -> None:
    """Refuse an action the workflow does not allow: NotAllowed for the wrong role, RuleError
    (shown beside the form field) for a status it cannot be taken from."""
    if not workflow.role_may(action, user.role):
        raise NotAllowed(not_role)
    refused = workflow.refusal(action, interview.status)
    if refused:
        raise RuleError(*refused)


def _may_be_allocated(person: User | None, manager: User, interview: Interview) -> bool:
    """A return interview worker of the manager's authority, or the looked-after child's own
    social worker (the Hertfordshire model)."""
    if person is None or not person.active or person.authority_id != manager.authority_id:
        return False
    return person.role == Role.WORKER or access.may_hold_interview(person, interview.child)


def _allocate_to(interview: Interview, person: User, by: User, status: workflow.Status) -> None:
    interview.allocated_to_id = person.id
    interview.team_id = person.team_id
    interview.allocated_by_id = by.id
    interview.allocated_at = utcnow()
    interview.status = status


def allocate(manager: User, interview: Interview, worker_id: str) -> Interview:
    _check(manager, interview, workflow.Action.ALLOCATE, "Only managers allocate")
    worker = db.session.get(User, worker_id) if worker_id else None
    if not _may_be_allocated(worker, manager, interview):
        raise RuleError("worker_id", "Choose a return interview worker from the list")
    _allocate_to(
        interview, worker, manager, workflow.next_status(workflow.Action.ALLOCATE, interview.status)
    )
    audit.record("allocate", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return interview


def take(social_worker: User, interview: Interview) -> Interview:
    """The child's social worker holds the interview themself (Hertfordshire model)."""
    if not access.may_hold_interview(social_worker, interview.child):
        raise NotAllowed("Only a looked-after child's own social worker takes the interview")
    _check(social_worker, interview, workflow.Action.TAKE, "Only social workers take interviews")
    _allocate_to(
        interview,
        social_worker,
        social_worker,
        workflow.next_status(workflow.Action.TAKE, interview.status),
    )
    audit.record("take", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return interview


def pass_on(social_worker: User, interview: Interview, worker_id: str | None) -> Interview:
    """The social worker holding the interview passes it to a return interview worker, or (no
    worker chosen) back to the team, where it awaits a manager's allocation (the managers are
    reminded, as for any return awaiting allocation)."""
    if not access.can_take(social_worker, interview, workflow.Action.PASS_ON):
        refused = workflow.refusal(workflow.Action.PASS_ON, interview.status)
        if refused and access.is_assignee(social_worker, interview):
            raise RuleError(*refused)
        raise NotAllowed("Only the social worker holding the interview passes it on")
    if worker_id:
        worker = db.session.get(User, worker_id)
        if (
            worker is None
            or worker.role != Role.WORKER
            or not _may_be_allocated(worker, social_worker, interview)
        ):
            raise RuleError("worker_id", "Choose a return interview worker from the list")
        _allocate_to(interview, worker, social_worker, workflow.pass_on_status(to_worker=True))
    else:
        interview.allocated_to_id = None
        interview.team_id = None
        interview.allocated_by_id = None
        interview.allocated_at = None
        interview.status = workflow.pass_on_status(to_worker=False)
    audit.record("pass_on", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return interview


def workers_for(manager: User) -> list[User]:
    workers = db.session.scalars(
        select(User).where(User.role == Role.WORKER, User.active.is_(True)).order_by(User.name)
    ).all()
    return [w for w in workers if w.authority_id == manager.authority_id]


def allocation_choices(manager: User, interview: Interview) -> list[tuple[str, str]]:
    """Who the interview may be allocated to: the authority's workers and, for a looked-after
    child, the child's own social worker (named as such)."""
    choices = [(w.id, w.name) for w in workers_for(manager)]
    sw = interview.child.social_worker
    if sw is not None and _may_be_allocated(sw, manager, interview) and sw.role != Role.WORKER:
        choices.append((sw.id, f"{sw.name} (the child's social worker)"))
    return choices


def save_section(
    user: User,
    interview: Interview,
    section: Section,
    values: dict,
    *,
    read_version: int | None = None,
) -> Interview:
    """Store the given answers of one section (only the names given; the rest stay as they are).

    Autosave sends only the answers that passed validation, so a half-typed date never costs the
    paragraph typed next to it. `read_version` is the version the form was read at: if the
    interview has moved on since (a phone synced, another tab saved), nothing is stored and
    ChangedMeanwhile is raised, so a save never silently replaces a change its author never saw.
    """
    if not access.can_edit_interview(user, interview):
        raise NotAllowed("This interview cannot be changed now")
    if read_version is not None and interview.version != read_version:
        raise ChangedMeanwhile("The interview changed since this form was read")
    unknown = set(values) - section.names
    if unknown:
        raise RuleError(None, f"Unknown answers: {', '.join(sorted(unknown))}")
    _store_answers(interview, values, replace=False)
    audit.record(
        "update", "interview", interview.id, child_id=interview.child_id, detail=section.slug
    )
    uow.commit()
    return interview


def replace_answers(user: User, interview: Interview, values: dict, *, source: str) -> Interview:
    """Replace every answer at once (a device sends its whole copy of the interview)."""
    if not access.can_edit_interview(user, interview):
        raise NotAllowed("This interview cannot be changed now")
    unknown = set(values) - set(QUESTIONS)
    if unknown:
        raise RuleError(None, f"Unknown answers: {', '.join(sorted(unknown))}")
    _store_answers(interview, {name: values.get(name) for name in QUESTIONS}, replace=True)
    audit.record("update", "interview", interview.id, child_id=interview.child_id, detail=source)
    uow.commit()
    return interview


def _check_held_at(interview: Interview, held_at: datetime | None) -> None:
    if held_at is None:
        return
    earliest = min((e.returned_at for e in interview.episodes if e.returned_at), default=None)
    if earliest and held_at < earliest:
        raise RuleError("held_at", "The interview cannot be before the child returned")
    if held_at > utcnow():
        raise RuleError("held_at", "The interview time must be in the past")


def _store_answers(interview: Interview, values: dict, *, replace: bool) -> None:
    held_at = values.get("held_at")
    if isinstance(held_at, datetime):
        _check_held_at(interview, held_at)
    if replace:
        content: dict = {}
    else:
        content = dict(
            sealed.unseal(interview.content_enc, "interview", interview.id, "content", {})
        )
    for name, value in values.items():
        if value in ("", []):
            value = None
        if name in ENVELOPE_FIELDS:
            if name in _BOOL_FIELDS:
                value = _to_bool(value)
            setattr(interview, name, value)
        elif name == INTELLIGENCE_FIELD:
            interview.intelligence_enc = sealed.seal(
                value, "interview", interview.id, "intelligence"
            )
        elif value is None:
            content.pop(name, None)
        else:
            content[name] = value
    interview.content_enc = sealed.seal(content, "interview", interview.id, "content")
    interview.updated_at = utcnow()


def submit(user: User, interview: Interview) -> list[Problem]:
    """Send the interview for authorisation, or say what is missing."""
    if not access.can_take(user, interview, workflow.Action.SUBMIT):
        raise NotAllowed("This interview cannot be submitted now")
    problems = completeness_problems(answers(interview))
    if problems:
        return problems
    interview.status = workflow.next_status(workflow.Action.SUBMIT, interview.status)
    interview.completed_by_id = user.id
    interview.submitted_at = utcnow()
    audit.record("submit", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return []


def authorise(manager: User, interview: Interview) -> Interview:
    _check(manager, interview, workflow.Action.AUTHORISE, "Only managers authorise")
    interview.status = workflow.next_status(workflow.Action.AUTHORISE, interview.status)
    interview.authorised_by_id = manager.id
    interview.authorised_at = utcnow()
    audit.record("authorise", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return interview


def send_back(manager: User, interview: Interview, note: str) -> Interview:
    _check(manager, interview, workflow.Action.SEND_BACK, "Only managers send interviews back")
    if not note.strip():
        raise RuleError("note", "Say what needs to change")
    interview.status = workflow.next_status(workflow.Action.SEND_BACK, interview.status)
    interview.review_note_enc = sealed.seal(note.strip(), "interview", interview.id, "review_note")
    audit.record("send_back", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return interview


def record_forwarded(manager: User, interview: Interview, when: datetime) -> Interview:
    _check(manager, interview, workflow.Action.FORWARD_TO_POLICE, "Only managers record forwarding")
    if when > utcnow():
        raise RuleError("forwarded_at", "The date forwarded must be in the past")
    if interview.authorised_at and when < interview.authorised_at.replace(second=0, microsecond=0):
        raise RuleError("forwarded_at", "The date forwarded cannot be before authorisation")
    interview.forwarded_to_police_at = when
    audit.record("forward_police", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return interview


# ---------------------------------------------------------------- the police copy

# What the police receive of an authorised interview: the intelligence section only (names,
# places, vehicles, numbers), with whether the child agreed to it being shared, never the child's
# account of why they went or what happened to them (DOMAIN.md: shared with the police only).
POLICE_COPY_FIELDS = ("intelligence", "consent_to_share", "share_with")


def police_copy(manager: User, interview: Interview) -> dict:
    """The printable police copy of an authorised interview (a manager of the child). Audited
    as a view of the police copy; the sending is recorded with record_forwarded."""
    if not access.can_manage(manager):
        raise NotAllowed("Only managers forward interviews to the police")
    if interview.status != workflow.Status.AUTHORISED:
        raise RuleError("forwarded_at", "Authorise the interview before forwarding it")
    data = answers(interview)
    audit.record("view", "police_copy", interview.id, child_id=interview.child_id)
    uow.commit()
    return {
        "interview": interview,
        "child": interview.child,
        "episodes": sorted(interview.episodes, key=lambda e: e.last_seen_at),
        "answers": {name: data.get(name) for name in POLICE_COPY_FIELDS},
        "generated_at": utcnow(),
    }


# ---------------------------------------------------------------- the appointment

PLACE_MAX = 200
# A time typed a few minutes ago (the form was slow to send, the phone's clock is a little out) is
# still "now"; anything earlier is a mistake.
APPOINTMENT_GRACE = timedelta(minutes=5)
# How long after its time an appointment is still shown on the child's page (it may run late).
APPOINTMENT_SHOWN_FOR = timedelta(hours=2)


def _may_arrange(user: User, interview: Interview) -> bool:
    if access.is_assignee(user, interview) and user.role in (Role.WORKER, Role.SOCIAL_WORKER):
        return True
    # A manager of the child: the interview is one access lets them see.
    return access.can_manage(user) and (
        db.session.scalar(access.interviews_query(user).where(Interview.id == interview.id))
        is not None
    )


def may_arrange(user: User, interview: Interview) -> bool:
    """The allocated worker or a manager of the child, while the interview is open: the pages
    offer the form only then."""
    return interview.is_open and _may_arrange(user, interview)


def arrange(
    user: User, interview: Interview, at: datetime | None, place: str | None = None
) -> Interview:
    """Arrange (or re-arrange) the interview's appointment; `at` None cancels it.

    A time after the 72-hour due time is allowed: the child chooses when, and the clock on the
    page already says the interview is late. The reminders (the carer told it is arranged, the
    carer and worker two hours before) follow from the hooks at commit.
    """
    if not _may_arrange(user, interview):
        raise NotAllowed("Only the allocated worker or a manager arranges the interview")
    if not interview.is_open:
        raise RuleError("appointment_at", "The interview is no longer open: nothing to arrange")
    place = (place or "").strip() or None
    if at is None:
        interview.appointment_at = None
        interview.appointment_arranged_at = None
        interview.appointment_place = None
        audit.record(
            "arrange", "interview", interview.id, child_id=interview.child_id, detail="cancelled"
        )
        uow.commit()
        return interview
    now = utcnow()
    if at < now - APPOINTMENT_GRACE:
        raise RuleError("appointment_at", "The appointment must be in the future")
    if place is not None and len(place) > PLACE_MAX:
        raise RuleError("place", f"The place must be {PLACE_MAX} characters or fewer")
    if at != interview.appointment_at:
        # A new time is news to the carer again; the same time with a corrected place is not.
        interview.appointment_arranged_at = now
    interview.appointment_at = at
    interview.appointment_place = place
    audit.record("arrange", "interview", interview.id, child_id=interview.child_id)
    uow.commit()
    return interview


def appointments(user: User, child: Child) -> list[Interview]:
    """The child's open interviews with an appointment still to come (or just begun), for the
    child's page: anyone who may see the child (the carer included) sees when and where, which is
    not interview content. The caller has read the child through access. Audited, since the place
    is sealed."""
    rows = list(
        db.session.scalars(
            select(Interview)
            .where(
                Interview.child_id == child.id,
                Interview.status.in_(workflow.OPEN_STATUSES),
                Interview.appointment_at.is_not(None),
                Interview.appointment_at >= utcnow() - APPOINTMENT_SHOWN_FOR,
            )
            .order_by(Interview.appointment_at)
        )
    )
    for interview in rows:
        audit.record("view", "interview", interview.id, child_id=child.id, detail="appointment")
    if rows:
        uow.commit()
    return rows


def sections_overview(interview: Interview) -> list[tuple[Section, str]]:
    data = answers(interview)
    return [(s, section_state(s, data)) for s in SECTIONS]
