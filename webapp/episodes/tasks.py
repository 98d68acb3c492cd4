"""Escalations as tasks that close (pure: no database, no clock of its own).

webapp/deadlines.py says which escalations an episode raises and when each falls due. This says
what became of each: done (someone recorded the action: the notification sent, the meeting
held, the referral made, the visit done or the team manager's agreed exception), closed by
itself (no longer needed because the child came back, said in words), or still open, and then
how urgent: overdue, due soon, or upcoming. It also holds the words of each task's "Record
action" form, so the form, the page and the history say the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from webapp import deadlines
from webapp.deadlines import Escalation, ensure_utc

OPEN, DONE, CLOSED = "open", "done", "closed"
OVERDUE, DUE_SOON, UPCOMING = "overdue", "due_soon", "upcoming"

# Needed only while the child is missing: once the child is back, an open one closes itself.
# (The intervention meeting, the repeat-episode steps, the looked-after second stage and the
# visit after a return are about the pattern and the return, so they stay open.)
CLOSE_ON_RETURN = deadlines.MISSING_TIME_CODES
# About the child's pattern of going missing, not one episode: when the child's later episode
# raises the same one, the task is carried to it (one task per child, not one per episode).
PATTERN_CODES = frozenset(
    {
        "intervention_meeting",
        "repeat_episodes",
        "lac_second_stage_intervention",
        "nrm_referral",
        "care_plan_review",
    }
)


@dataclass(frozen=True)
class ActionKind:
    value: str
    label: str
    # The note must then say why (an agreed exception, a referral considered and not made).
    reason_needed: bool = False


@dataclass(frozen=True)
class ActionForm:
    """The words of one task's "Record action" form."""

    kinds: tuple[ActionKind, ...]
    when_label: str
    who_label: str
    who_hint: str
    note_label: str


_MEETING = ActionForm(
    kinds=(ActionKind("held", "Meeting held"),),
    when_label="When was it held?",
    who_label="Who attended",
    who_hint="Names and roles, for example: police, social worker, IRO, school",
    note_label="Outcome and actions agreed",
)

FORMS: dict[str, ActionForm] = {
    "need_to_know": ActionForm(
        kinds=(ActionKind("sent", "Need to Know notification sent"),),
        when_label="When was it sent?",
        who_label="Sent to",
        who_hint="For example: Assistant Director, service manager",
        note_label="Anything to add",
    ),
    "urgent_strategy_meeting": _MEETING,
    "strategy_meeting": _MEETING,
    "intervention_meeting": _MEETING,
    "lac_second_stage_intervention": _MEETING,
    "repeat_episodes": ActionForm(
        kinds=(
            ActionKind("interview_offered", "Independent return interview offered"),
            ActionKind("panel_referral", "Referred to the SEARCH or exploitation panel"),
            ActionKind("not_referred", "Considered: no referral", reason_needed=True),
        ),
        when_label="When?",
        who_label="Offered by, or referred to",
        who_hint="A person or panel",
        note_label="Outcome, or why there is no referral",
    ),
    "lac_missing_meeting": _MEETING,
    "lac_ad_told": ActionForm(
        kinds=(ActionKind("told", "Assistant Director told"),),
        when_label="When were they told?",
        who_label="Told by, and how",
        who_hint="For example: the team manager, by email",
        note_label="Anything to add",
    ),
    "lac_lead_member_told": ActionForm(
        kinds=(ActionKind("told", "Lead Member told"),),
        when_label="When were they told?",
        who_label="Told by, and how",
        who_hint="For example: the Assistant Director, at the weekly briefing",
        note_label="Anything to add",
    ),
    "nrm_referral": ActionForm(
        kinds=(
            ActionKind("referred", "National Referral Mechanism referral made"),
            ActionKind("already", "Already referred before this episode"),
        ),
        when_label="When was it made?",
        who_label="Made by (the first responder)",
        who_hint="The person or organisation that referred the child",
        note_label="Reference and outcome so far",
    ),
    "lac_monthly_meeting": _MEETING,
    "care_plan_review": ActionForm(
        kinds=(
            ActionKind("reviewed", "Care plan reviewed"),
            ActionKind("not_changed", "Considered: the plan stands", reason_needed=True),
        ),
        when_label="When?",
        who_label="Reviewed by, and who took part",
        who_hint="The IRO, and the social worker, carer or child where they took part",
        note_label="What changed in the plan, or why it stands",
    ),
    "lac_visit": ActionForm(
        kinds=(
            ActionKind("visited", "Seen alone by the social worker"),
            ActionKind("exception", "Team manager agreed an exception", reason_needed=True),
        ),
        when_label="When?",
        who_label="Seen by, or agreed by",
        who_hint="The social worker, or the team manager who agreed the exception",
        note_label="What happened, or the reason for the exception",
    ),
}
NOTE_MAX = 4000
WHO_MAX = 300


def kind_label(code: str, kind: str) -> str:
    form = FORMS.get(deadlines.base_code(code))
    found = next((k for k in form.kinds if k.value == kind), None) if form else None
    return found.label if found else kind


@dataclass(frozen=True)
class Action:
    """What was recorded against an escalation (the clear facts; the words are sealed)."""

    kind: str
    done_at: datetime
    recorded_by: str | None = None


@dataclass(frozen=True)
class Task:
    escalation: Escalation
    state: str  # OPEN, DONE, CLOSED
    urgency: str | None  # OVERDUE, DUE_SOON, UPCOMING while open
    action: Action | None = None
    closed_because: str | None = None

    @property
    def code(self) -> str:
        return self.escalation.code

    @property
    def due_at(self) -> datetime:
        return self.escalation.due_at

    @property
    def is_open(self) -> bool:
        return self.state == OPEN


def _urgency(due_at: datetime, now: datetime, due_soon: timedelta) -> str:
    if now >= due_at:
        return OVERDUE
    if due_at - now <= due_soon:
        return DUE_SOON
    return UPCOMING


def tasks(
    escalations: Iterable[Escalation],
    actions: Mapping[str, Action],
    returned_at: datetime | None,
    now: datetime,
    due_soon: timedelta,
    returned_label: str | None = None,
    carried: Mapping[str, str] | None = None,
) -> list[Task]:
    """Each escalation as a task: done when an action is recorded for its code; closed by itself
    when it is needed only while the child is missing and the child is back, or (`carried`,
    code -> why) when a later episode of the child carries it; otherwise open."""
    now = ensure_utc(now)
    carried = carried or {}
    out = []
    for esc in escalations:
        action = actions.get(esc.code)
        if action is not None:
            out.append(Task(esc, DONE, None, action=action))
        elif esc.code in carried:
            out.append(Task(esc, CLOSED, None, closed_because=carried[esc.code]))
        elif deadlines.base_code(esc.code) in CLOSE_ON_RETURN and returned_at is not None:
            back = returned_label or ensure_utc(returned_at).isoformat()
            out.append(
                Task(
                    esc,
                    CLOSED,
                    None,
                    closed_because=f"No longer needed: the child came back {back}",
                )
            )
        else:
            out.append(Task(esc, OPEN, _urgency(esc.due_at, now, due_soon)))
    return out


_URGENCY_ORDER = {OVERDUE: 0, DUE_SOON: 1, UPCOMING: 2}


def worklist_order(task: Task) -> tuple:
    """Overdue first (longest overdue first), then due soon, then upcoming, each by due time."""
    return (
        _URGENCY_ORDER.get(task.urgency or "", 3),
        task.due_at,
        deadlines.CODES.index(deadlines.base_code(task.code)),
    )
