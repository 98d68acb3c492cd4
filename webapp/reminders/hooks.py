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
from webapp.children.models import Child
from webapp.episodes.models import Episode
from webapp.interviews.models import Interview, interview_ids_for
from webapp.reminders import schedule, service

_KEY = "homeward_reminder_subjects"


# The facts the schedule reads. An interview's answers change on every autosave and every sync
# push; they move no reminder, so they trigger no recomputation.
INTERVIEW_FACTS = ("status", "due_at", "allocated_to_id", "allocated_at", "episodes")
EPISODE_FACTS = ("last_seen_at", "returned_at", "child_id")
# A child's legal status changes which escalations apply; its authorities, who hears of them.
CHILD_FACTS = ("looked_after", "legal_status", "responsible_authority_id", "host_authority_id")


def _changed(session: Session, obj, names: tuple[str, ...]) -> bool:
    if obj in session.new or obj in session.deleted:
        return True
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def note_subjects(session: Session) -> None:
    subjects: set[tuple[str, str]] = uow.notes(session, _KEY, set)
    episodes: set[str] = set()
    children: set[str] = set()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Interview) and _changed(session, obj, INTERVIEW_FACTS):
            subjects.add((schedule.INTERVIEW, obj.id))
        elif isinstance(obj, Episode) and _changed(session, obj, EPISODE_FACTS):
            subjects.add((schedule.EPISODE, obj.id))
            episodes.add(obj.id)
        elif (
            isinstance(obj, Child)
            and obj not in session.new
            and _changed(session, obj, CHILD_FACTS)
        ):
            children.add(obj.id)
    if children:
        conn = session.connection()
        for episode_id in conn.scalars(select(Episode.id).where(Episode.child_id.in_(children))):
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
