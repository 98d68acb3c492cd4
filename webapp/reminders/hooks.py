"""Reminders follow the facts, whichever way the facts changed.

Every flush notes the interviews and episodes it touched; just before the transaction commits,
their reminders are recomputed in the same transaction (`service.refresh`). A return time
corrected on a web form, an interview submitted through a sync push, a child missing again: all go
through here, so no pending reminder is left to fire on facts that no longer hold.
"""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from webapp import uow
from webapp.carers.models import RiskPlan
from webapp.children.models import Child
from webapp.episodes.models import Episode, EpisodeStatus, EscalationAction
from webapp.interviews.models import Interview, interview_episodes, interview_ids_for
from webapp.reminders import schedule, service
from webapp.schools.absence_models import (
    FollowUp,
    FollowUpStatus,
    Referral,
    SchoolNotification,
)
from webapp.schools.calendar_models import SchoolClosure, SchoolTerm

_KEY = "homeward_reminder_subjects"


# The facts the schedule reads. An interview's answers change on every autosave and every sync
# push; they move no reminder, so they trigger no recomputation.
INTERVIEW_FACTS = (
    "status",
    "due_at",
    "allocated_to_id",
    "allocated_at",
    "episodes",
    # The appointment: the carer told it is arranged, carer and worker reminded 2 hours before.
    # (A change of the child's carer reaches these through CHILD_FACTS' carer_id below.)
    "appointment_at",
    "appointment_arranged_at",
)
EPISODE_FACTS = (
    # A withdrawn episode (recorded by mistake) wants no reminders at all.
    "status",
    "last_seen_at",
    "returned_at",
    "child_id",
    # The carer's police threshold runs from due back until police are told; "away" has none.
    "due_back_at",
    "reported_to_police_at",
    "reported_type",
)
# A child's legal status changes which escalations apply; its authorities, who hears of them;
# its carer, social worker and IRO, who is told; its age, whether the plan's hours apply.
CHILD_FACTS = (
    "looked_after",
    "legal_status",
    "responsible_authority_id",
    "host_authority_id",
    "carer_id",
    "social_worker_id",
    "iro_id",
    "date_of_birth",
)
# Any change to a plan may move the police threshold (report_after_hours) or the review.
PLAN_FACTS = (
    "report_after_hours",
    "reviewed_at",
    "review_due_at",
    "carer_signed_at",
    "social_worker_signed_at",
)

# The schools' facts (issue 11): a follow-up's first day, state and which steps apply; what the
# school told the authority (a step done, or the officer told); the checklist's yes and its
# referral. A term or closure moves the school days every open follow-up is counted in.
FOLLOWUP_FACTS = ("opened_on", "status", "illness", "whereabouts_unknown", "school_id")
REFERRAL_FACTS = ("any_yes", "referred_at", "checked_at")
NOTICE_FACTS = ("kind", "sent_at", "followup_id")
CALENDAR_FACTS = ("starts_on", "ends_on", "on")


def _changed(session: Session, obj, names: tuple[str, ...]) -> bool:
    if obj in session.new or obj in session.deleted:
        return True
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _allocation_settled(interview: Interview) -> bool:
    """Allocated for the first time (or no longer), or its status moved: the managers' "needs
    allocating" reminder on its episodes may change. A reallocation from one worker to another
    moves nothing there."""
    state = inspect(interview)
    if state.attrs["status"].history.has_changes():
        return True
    history = state.attrs["allocated_to_id"].history
    if not history.has_changes():
        return False
    return not history.deleted or None in history.deleted or None in history.added


def note_subjects(session: Session) -> None:
    subjects: set[tuple[str, str]] = uow.notes(session, _KEY, set)
    episodes: set[str] = set()
    children: set[str] = set()
    interviews: set[str] = set()
    planned: set[str] = set()  # children whose plan changed: their open episodes' thresholds
    calendars: set[str] = set()  # schools whose terms or closures changed
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Interview) and _changed(session, obj, INTERVIEW_FACTS):
            subjects.add((schedule.INTERVIEW, obj.id))
            if obj not in session.new and _allocation_settled(obj):
                interviews.add(obj.id)
        elif isinstance(obj, Episode) and _changed(session, obj, EPISODE_FACTS):
            subjects.add((schedule.EPISODE, obj.id))
            # A return brings the child's plan review forward.
            subjects.add((schedule.PLAN, obj.child_id))
            episodes.add(obj.id)
        elif (
            isinstance(obj, Child)
            and obj not in session.new
            and _changed(session, obj, CHILD_FACTS)
        ):
            children.add(obj.id)
            subjects.add((schedule.PLAN, obj.id))
        elif isinstance(obj, EscalationAction):
            # An escalation acted on: its reminders are no longer wanted.
            subjects.add((schedule.EPISODE, obj.episode_id))
        elif isinstance(obj, RiskPlan) and _changed(session, obj, PLAN_FACTS):
            subjects.add((schedule.PLAN, obj.id))
            planned.add(obj.id)
        elif isinstance(obj, FollowUp) and _changed(session, obj, FOLLOWUP_FACTS):
            subjects.add((schedule.FOLLOWUP, obj.id))
        elif isinstance(obj, Referral) and _changed(session, obj, REFERRAL_FACTS):
            subjects.add((schedule.REFERRAL, obj.id))
        elif isinstance(obj, SchoolNotification) and _changed(session, obj, NOTICE_FACTS):
            subjects.add((schedule.NOTICE, obj.id))
            if obj.followup_id:
                subjects.add((schedule.FOLLOWUP, obj.followup_id))
        elif isinstance(obj, SchoolTerm | SchoolClosure) and (
            obj in session.deleted or _changed(session, obj, CALENDAR_FACTS)
        ):
            calendars.add(obj.school_id)
    conn = session.connection() if (children or planned or interviews or calendars) else None
    if calendars:
        for followup_id in conn.scalars(
            select(FollowUp.id).where(
                FollowUp.school_id.in_(calendars), FollowUp.status == FollowUpStatus.OPEN
            )
        ):
            subjects.add((schedule.FOLLOWUP, followup_id))
    if children:
        for episode_id in conn.scalars(select(Episode.id).where(Episode.child_id.in_(children))):
            subjects.add((schedule.EPISODE, episode_id))
    if planned:
        for episode_id in conn.scalars(
            select(Episode.id).where(
                Episode.child_id.in_(planned), Episode.status == EpisodeStatus.MISSING
            )
        ):
            subjects.add((schedule.EPISODE, episode_id))
    if interviews:
        # Managers are told a return needs allocating until the interview covering it is.
        for episode_id in conn.scalars(
            select(interview_episodes.c.episode_id).where(
                interview_episodes.c.interview_id.in_(interviews)
            )
        ):
            subjects.add((schedule.EPISODE, episode_id))
    if episodes or children:
        # An episode's return time moves the 72-hour clock of the interview that covers it.
        for interview_id in interview_ids_for(
            session.connection(), child_ids=children, episode_ids=episodes
        ):
            subjects.add((schedule.INTERVIEW, interview_id))


def refresh_noted(session: Session) -> None:
    """Recompute the reminders of every subject noted; registered with uow before the change
    log (the refresh may add rows). uow flushes first, so every change has been noted; only the
    app's session gets here, the one the service works on."""
    done: set[tuple[str, str]] = set()
    while pending := uow.notes(session, _KEY, set) - done:
        for subject in sorted(pending):
            service.refresh(*subject)
            done.add(subject)
        session.flush()
    uow.take_notes(session, _KEY)
