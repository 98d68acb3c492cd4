"""Correcting an episode's facts after they were typed: what was reported (missing, absent,
away, not back), when the child was last seen, when they came back; or withdrawing an episode
recorded by mistake. Never a silent edit: each
correction keeps its author, its reason and what each fact said before and after (sealed).
Everything that follows from the facts follows the correction: the escalations are worked out
from them, the reminders are recomputed by their hooks, and the 72-hour deadline of the return
interview covering the episode moves with the return time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from webapp import access, audit, deadlines, uow
from webapp.accounts.models import User
from webapp.children import service as children
from webapp.db_types import new_id
from webapp.episodes import service
from webapp.episodes.models import (
    FOUND_PLACE_LABELS,
    REPORTED_TYPE_LABELS,
    Episode,
    EpisodeChange,
    EpisodeStatus,
    ReportedType,
)
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db
from webapp.interviews import workflow
from webapp.interviews.models import Interview

FIELDS = ("reported_type", "last_seen_at", "returned_at", "found_place")
FIELD_LABELS = {
    "status": "Status",
    "reported_type": "What was reported",
    "last_seen_at": "Last seen",
    "returned_at": "Came back or found",
    "found_place": "Where they were found",
}
MAX_REASON = 2000


def _shown(episode: Episode) -> dict[str, str]:
    from webapp.templating import local_time

    return {
        "reported_type": REPORTED_TYPE_LABELS[ReportedType(episode.reported_type)],
        "last_seen_at": local_time(episode.last_seen_at),
        "returned_at": local_time(episode.returned_at) or "Not back",
        "found_place": FOUND_PLACE_LABELS.get(episode.found_place or "", "Not recorded"),
    }


def correct_episode(
    user: User, episode: Episode, data: dict, *, seen: datetime | None
) -> EpisodeChange | None:
    """A manager corrects the episode's type and times, and where a returned child was found
    (`found_place`, a code; left as it is when the key is absent), giving the reason. `seen`:
    the episode's updated_at when the form was drawn (another's change meanwhile is not lost)."""
    if not access.can_manage(user):
        raise NotAllowed("Only managers correct an episode")
    if episode.status == EpisodeStatus.WITHDRAWN:
        raise RuleError(None, "This episode is withdrawn: it is kept as it was, and not corrected")
    if seen is not None and deadlines.ensure_utc(episode.updated_at) != deadlines.ensure_utc(seen):
        raise RuleError(
            None,
            "Someone else changed this episode while you were correcting it: check what it "
            "says now and make your correction again",
        )
    reason = service._text("reason", data.get("reason"), MAX_REASON)
    if not reason:
        raise RuleError("reason", "Enter why the episode is corrected")
    reported_type = service._reported_type(user, episode.child, data.get("reported_type"))
    last_seen = data.get("last_seen_at")
    if not isinstance(last_seen, datetime):
        raise RuleError("last_seen_at", "Enter when the child was last seen")
    service._not_future("last_seen_at", last_seen, "The time last seen")
    returned = data.get("returned_at") if episode.status == EpisodeStatus.RETURNED else None
    if episode.status == EpisodeStatus.RETURNED:
        if not isinstance(returned, datetime):
            raise RuleError("returned_at", "Enter when the child came back or was found")
        service._not_future("returned_at", returned, "The return time")
    place = episode.found_place
    if episode.status == EpisodeStatus.RETURNED and "found_place" in data:
        place = service.found_place(data["found_place"])
    # Born before, ending after starting, overlapping nothing: what the SSDA903 table needs.
    service.check_period(episode.child, last_seen, returned, episode_id=episode.id, correcting=True)
    before = _shown(episode)
    episode.reported_type = reported_type
    episode.last_seen_at = last_seen
    if returned is not None:
        episode.returned_at = returned
    episode.found_place = place
    after = _shown(episode)
    changed = [f for f in FIELDS if before[f] != after[f]]
    if not changed:
        return None
    if "returned_at" in changed:
        _move_deadlines(episode)
    change = EpisodeChange(
        id=new_id(), episode_id=episode.id, changed_by_id=user.id, fields=",".join(changed)
    )
    change.values = {
        "before": {f: before[f] for f in changed},
        "after": {f: after[f] for f in changed},
        "reason": reason,
    }
    db.session.add(change)
    db.session.flush()
    audit.record(
        "correct", "episode", episode.id, child_id=episode.child_id, detail=",".join(changed)
    )
    uow.commit()
    return change


def _move_deadlines(episode: Episode) -> None:
    """The interview covering the episode, not yet held, is due 72 hours after the earliest
    return it covers (as when it was made)."""
    t = children.thresholds()
    for interview in db.session.scalars(
        select(Interview).where(
            Interview.episodes.any(Episode.id == episode.id),
            Interview.status.in_(workflow.OPEN_STATUSES),
        )
    ):
        returns = [e.returned_at for e in interview.episodes if e.returned_at is not None]
        if returns:
            interview.due_at = deadlines.rhi_due_at(min(returns), t)


def changes_of(episode: Episode) -> list[EpisodeChange]:
    return list(
        db.session.scalars(
            select(EpisodeChange)
            .where(EpisodeChange.episode_id == episode.id)
            .order_by(EpisodeChange.changed_at.desc())
        )
    )


def withdraw_episode(
    user: User, episode: Episode, reason: str | None, *, seen: datetime | None
) -> EpisodeChange:
    """A manager withdraws an episode recorded by mistake (a duplicate, the wrong child), with
    the reason: never deleted, it stays on the child's page marked withdrawn and counts for
    nothing. Its reminders are cancelled (the schedule wants none for it) and so are its
    escalations. A return interview not yet held that covers only this episode is no longer
    needed; one covering others goes on for them, due 72 hours after their earliest return. An
    interview already held (sent for authorisation or authorised) stays as it is."""
    if not access.can_manage(user):
        raise NotAllowed("Only managers withdraw an episode")
    if episode.status == EpisodeStatus.WITHDRAWN:
        raise RuleError(None, "This episode is already withdrawn")
    if seen is not None and deadlines.ensure_utc(episode.updated_at) != deadlines.ensure_utc(seen):
        raise RuleError(
            None,
            "Someone else changed this episode while you were looking at it: check what it "
            "says now and withdraw it again if you still mean to",
        )
    reason = service._text("withdraw_reason", reason, MAX_REASON)
    if not reason:
        raise RuleError("withdraw_reason", "Enter why the episode is withdrawn")
    before = REPORTED_TYPE_LABELS[ReportedType(episode.reported_type)]
    t = children.thresholds()
    for interview in db.session.scalars(
        select(Interview).where(
            Interview.episodes.any(Episode.id == episode.id),
            Interview.status.in_(workflow.OPEN_STATUSES),
        )
    ):
        others = [e for e in interview.episodes if e.id != episode.id]
        returns = [e.returned_at for e in others if e.returned_at is not None]
        if returns:
            interview.episodes.remove(episode)
            interview.due_at = deadlines.rhi_due_at(min(returns), t)
        else:
            # Nothing left to hold it for; it keeps its episode, so its page still says why.
            interview.status = workflow.Status.NOT_NEEDED
            audit.record(
                "not_needed",
                "interview",
                interview.id,
                child_id=episode.child_id,
                detail="episode withdrawn",
            )
    episode.status = EpisodeStatus.WITHDRAWN
    change = EpisodeChange(
        id=new_id(), episode_id=episode.id, changed_by_id=user.id, fields="status"
    )
    change.values = {
        "before": {"status": before},
        "after": {"status": "Withdrawn"},
        "reason": reason,
    }
    db.session.add(change)
    db.session.flush()
    audit.record("withdraw", "episode", episode.id, child_id=episode.child_id)
    uow.commit()
    return change
