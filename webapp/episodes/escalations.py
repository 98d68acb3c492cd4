"""Escalations acted on: each escalation an episode raises is a task with an owner, and
recording what was done (the notification sent, the meeting held, the referral made, the visit
or the agreed exception) closes it and its reminders. The rules of done, closed by itself and
open are pure (webapp/episodes/tasks.py); this reads and writes the actions.

Who was told, who attended and the outcome are sealed on the action; the audit keeps the ids,
the code and the kind, never the words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import access, audit, deadlines, uow
from webapp.accounts.models import User
from webapp.children import service as children
from webapp.db_types import new_id, utcnow
from webapp.episodes import tasks
from webapp.episodes.models import Episode, EpisodeStatus, EscalationAction
from webapp.errors import NotAllowed, NotFound, RuleError
from webapp.extensions import db

# Telling someone needs no more than who and when; a meeting, a referral or a visit an outcome.
NOTIFICATIONS = frozenset({"sent", "told"})
# A device or a browser whose clock runs a little fast is not "in the future".
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Owner:
    """Who a task is for: the role's words, and the person where the child's record names one."""

    role: str
    name: str | None = None


def owner_of(episode: Episode, code: str) -> Owner:
    child = episode.child
    code = deadlines.base_code(code)
    who = deadlines.WHO[code].split(":")[0]
    if code == "lac_visit" and child.social_worker is not None:
        return Owner(who, child.social_worker.name)
    if code in ("lac_second_stage_intervention", "care_plan_review") and child.iro is not None:
        return Owner(who, child.iro.name)
    return Owner(who)


def actions_of(episode_ids: Iterable[str]) -> dict[str, dict[str, EscalationAction]]:
    """episode id -> code -> its action, for many episodes in one query."""
    ids = list(episode_ids)
    out: dict[str, dict[str, EscalationAction]] = {}
    if not ids:
        return out
    for action in db.session.scalars(
        select(EscalationAction).where(EscalationAction.episode_id.in_(ids))
    ):
        out.setdefault(action.episode_id, {})[action.code] = action
    return out


def _facts(action: EscalationAction) -> tasks.Action:
    return tasks.Action(kind=action.kind, done_at=action.done_at, recorded_by=action.recorded_by_id)


def episode_tasks(
    episode: Episode,
    now: datetime,
    actions: Mapping[str, EscalationAction] | None = None,
) -> list[tasks.Task]:
    """The episode's escalations as tasks, as of `now`."""
    from webapp.templating import local_time  # the page's words for the return time

    if episode.status == EpisodeStatus.WITHDRAWN:
        return []  # recorded by mistake: nothing to act on
    if actions is None:
        actions = actions_of([episode.id]).get(episode.id, {})
    t = children.thresholds()
    history = children.history(episode.child)
    escalations = deadlines.episode_escalations(children.facts(episode), history, now, t)
    returned = f"on {local_time(episode.returned_at)}" if episode.returned_at else None
    return tasks.tasks(
        escalations,
        {code: _facts(a) for code, a in actions.items()},
        episode.returned_at,
        now,
        timedelta(hours=t.due_soon_hours),
        returned,
        _carried(episode, history, now, t),
    )


def _carried(episode: Episode, history, now: datetime, t) -> dict[str, str]:
    """The pattern tasks (repeat episodes, intervention, second stage) the child's latest
    episode raises again: this older episode's are carried to it, so a child who goes missing
    often has one of each to act on, not one per episode."""
    from webapp.templating import local_time

    later = [f for f in history if f.last_seen_at > episode.last_seen_at and f.id != episode.id]
    if not later:
        return {}
    latest = max(later, key=lambda f: f.last_seen_at)
    again = {e.code for e in deadlines.episode_escalations(latest, history, now, t)}
    why = f"Carried to the child's latest episode (last seen {local_time(latest.last_seen_at)})"
    return {code: why for code in tasks.PATTERN_CODES & again}


def _task_or_404(episode: Episode, code: str, now: datetime) -> tasks.Task:
    """The episode's task `code` (one its facts raise and with a form), or NotFound."""
    task = next((t for t in episode_tasks(episode, now) if t.code == code), None)
    if task is None or deadlines.base_code(code) not in tasks.FORMS:
        raise NotFound
    return task


def action_form(user: User, episode_id: str, code: str) -> tuple[Episode, tasks.Task]:
    """The episode and its task `code`, for the Record action page (the person may act on it)."""
    episode = access.get_episode_or_404(user, episode_id)
    task = _task_or_404(episode, code, utcnow())
    if not access.can_act_on_escalation(user, episode.child, code):
        raise NotAllowed("Only the task's owner records what was done")
    return episode, task


def _text(field: str, value, limit: int, label: str, required: bool) -> str | None:
    value = (value or "").strip() if isinstance(value, str | None) else None
    if value is None:
        raise RuleError(field, "Enter text")
    if required and not value:
        raise RuleError(field, f"Enter {label}")
    if len(value) > limit:
        raise RuleError(field, f"Enter {limit:,} characters or fewer")
    return value or None


def record_action(user: User, episode: Episode, code: str, data: Mapping) -> EscalationAction:
    """What was done about the task `code`: its kind, when, who (sent to, attended, seen by or
    agreed by) and the outcome or reason. Closes the task and cancels its reminders (the
    reminder schedule leaves actioned escalations out). One per escalation."""
    now = utcnow()
    _task_or_404(episode, code, now)
    form = tasks.FORMS[deadlines.base_code(code)]
    if not access.can_act_on_escalation(user, episode.child, code):
        raise NotAllowed("Only the task's owner records what was done")
    kind = next((k for k in form.kinds if k.value == data.get("kind")), None)
    if kind is None:
        raise RuleError("kind", "Choose what was done")
    done_at = data.get("done_at")
    if not isinstance(done_at, datetime):
        raise RuleError("done_at", "Enter when it was done")
    done_at = deadlines.ensure_utc(done_at)
    if done_at > now + CLOCK_SKEW:
        raise RuleError("done_at", "When it was done must be in the past")
    if done_at < episode.last_seen_at:
        raise RuleError("done_at", "When it was done must be after the child went missing")
    who = _text("who", data.get("who"), tasks.WHO_MAX, form.who_label.lower(), required=True)
    note_needed = kind.reason_needed or form.kinds[0].value not in NOTIFICATIONS
    note = _text("note", data.get("note"), tasks.NOTE_MAX, form.note_label.lower(), note_needed)
    if db.session.scalar(
        select(EscalationAction.id).where(
            EscalationAction.episode_id == episode.id, EscalationAction.code == code
        )
    ):
        raise RuleError(None, "What was done is already recorded")
    action = EscalationAction(
        id=new_id(),
        episode_id=episode.id,
        code=code,
        kind=kind.value,
        done_at=done_at,
        recorded_by_id=user.id,
        recorded_at=now,
    )
    action.details = {"who": who, "note": note}
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending before it starts,
        # so a row added before it would hit the unique constraint outside the savepoint.
        with db.session.begin_nested():
            db.session.add(action)
            db.session.flush()
    except IntegrityError:
        # Recorded by someone else at the same instant: theirs stands.
        raise RuleError(None, "What was done is already recorded") from None
    audit.record(
        "create",
        "escalation_action",
        action.id,
        child_id=episode.child_id,
        detail=f"{code}:{kind.value}",
    )
    uow.commit()
    return action


@dataclass(frozen=True)
class WorkItem:
    episode: Episode
    task: tasks.Task
    owner: Owner


def worklist(
    episodes: Iterable[Episode], now: datetime, *, open_only: bool = True
) -> list[WorkItem]:
    """The open tasks of these episodes (a missing child's upcoming ones too), overdue first,
    then due soon, then upcoming."""
    episodes = list(episodes)
    actions = actions_of(e.id for e in episodes)
    items = []
    for episode in episodes:
        for task in episode_tasks(episode, now, actions.get(episode.id, {})):
            if not task.is_open:
                continue
            if task.urgency == tasks.UPCOMING and episode.returned_at is not None:
                continue  # a returned child's tasks are listed once they are near
            items.append(WorkItem(episode, task, owner_of(episode, task.code)))
    items.sort(key=lambda item: tasks.worklist_order(item.task))
    return items


def read_action(user: User, episode: Episode, code: str) -> dict | None:
    """What was recorded for the task (who, the outcome or reason, who recorded it), for its
    owner (the caller has checked they may act on it); audited."""
    action = db.session.scalar(
        select(EscalationAction).where(
            EscalationAction.episode_id == episode.id, EscalationAction.code == code
        )
    )
    if action is None:
        return None
    recorder = db.session.get(User, action.recorded_by_id) if action.recorded_by_id else None
    audit.record("view", "escalation_action", action.id, child_id=episode.child_id)
    uow.commit()
    details = action.details or {}
    return {
        "who": details.get("who"),
        "note": details.get("note"),
        "recorded_by": recorder.name if recorder else None,
        "recorded_at": action.recorded_at,
    }
