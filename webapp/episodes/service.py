"""Missing episodes: report, update police details, record the return (which starts the clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from webapp import access, audit, deadlines, sealed, uow
from webapp.accounts.models import User
from webapp.children import service as children
from webapp.children.models import Child
from webapp.db_types import utcnow
from webapp.episodes.models import (
    HOW_RETURNED_LABELS,
    MISSING_FROM_LABELS,
    POLICE_CATEGORY_LABELS,
    Episode,
    EpisodeStatus,
    ReportedType,
)
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db
from webapp.interviews import workflow
from webapp.interviews.models import Interview

# A few minutes of slack for a phone whose clock runs fast.
CLOCK_SKEW = timedelta(minutes=5)


def _not_future(field: str, value: datetime | None, label: str) -> None:
    if value is not None and value > utcnow() + CLOCK_SKEW:
        raise RuleError(field, f"{label} must be in the past")


def report_missing(user: User, child: Child, data: dict) -> Episode:
    if not access.can_manage(user):
        raise NotAllowed("Only managers record episodes here")
    ReportedType(data["reported_type"])
    if data["missing_from"] not in MISSING_FROM_LABELS:
        raise RuleError("missing_from", "Choose where the child was missing from")
    _not_future("last_seen_at", data["last_seen_at"], "The time last seen")
    _not_future("reported_to_police_at", data.get("reported_to_police_at"), "The time reported")
    if data.get("reported_to_police_at") and data["reported_to_police_at"] < data["last_seen_at"]:
        raise RuleError(
            "reported_to_police_at", "The time reported to police must be after the time last seen"
        )
    _no_overlap(child, data["last_seen_at"])
    episode = Episode(
        child_id=child.id,
        reported_type=data["reported_type"],
        missing_from=data["missing_from"],
        last_seen_at=data["last_seen_at"],
        reported_to_police_at=data.get("reported_to_police_at"),
        police_log_number=(data.get("police_log_number") or "").strip() or None,
        police_category=data.get("police_category") or None,
        reported_by_id=user.id,
        status=EpisodeStatus.MISSING,
    )
    db.session.add(episode)
    db.session.flush()
    if data.get("circumstances"):
        episode.circumstances_enc = sealed.seal(
            data["circumstances"], "episode", episode.id, "circumstances"
        )
    audit.record("create", "episode", episode.id, child_id=child.id)
    uow.commit()
    return episode


def _no_overlap(child: Child, last_seen_at: datetime) -> None:
    """A child cannot go missing again while still missing (SSDA903 rule 574)."""
    open_episode = db.session.scalar(
        select(Episode).where(Episode.child_id == child.id, Episode.status == EpisodeStatus.MISSING)
    )
    if open_episode is not None:
        raise RuleError(
            "last_seen_at",
            "This child already has an open episode: record their return on it first",
        )
    overlapping = db.session.scalar(
        select(Episode.id).where(
            Episode.child_id == child.id,
            Episode.last_seen_at <= last_seen_at,
            Episode.returned_at > last_seen_at,
        )
    )
    if overlapping:
        raise RuleError("last_seen_at", "This time falls inside an earlier episode")


def update_police(user: User, episode: Episode, data: dict) -> Episode:
    if not access.can_manage(user):
        raise NotAllowed("Only managers update episodes here")
    category = data.get("police_category") or None
    if category is not None and category not in POLICE_CATEGORY_LABELS:
        raise RuleError("police_category", "Choose the police category")
    reported = data.get("reported_to_police_at")
    _not_future("reported_to_police_at", reported, "The time reported")
    if reported and reported < episode.last_seen_at:
        raise RuleError(
            "reported_to_police_at", "The time reported to police must be after the time last seen"
        )
    episode.police_category = category
    episode.police_log_number = (data.get("police_log_number") or "").strip() or None
    episode.reported_to_police_at = reported
    audit.record("update", "episode", episode.id, child_id=episode.child_id, detail="police")
    uow.commit()
    return episode


def record_return(user: User, episode: Episode, returned_at: datetime, how: str) -> Interview:
    """Close the episode and start (or extend) the 72-hour return interview clock.

    One interview can cover several episodes: if the child already has an interview that has not
    been submitted, this episode joins it and its due time stays at the earliest return.
    """
    if not access.can_manage(user):
        raise NotAllowed("Only managers record returns here")
    if episode.status != EpisodeStatus.MISSING:
        raise RuleError("returned_at", "This episode already has a return recorded")
    if how not in HOW_RETURNED_LABELS:
        raise RuleError("how_returned", "Choose how the child returned or was found")
    _not_future("returned_at", returned_at, "The return time")
    if returned_at < episode.last_seen_at:
        raise RuleError("returned_at", "The return must be after the time last seen")
    episode.returned_at = returned_at
    episode.how_returned = how
    episode.status = EpisodeStatus.RETURNED

    due = deadlines.rhi_due_at(returned_at, children.thresholds())
    interview = db.session.scalar(
        select(Interview)
        .where(
            Interview.child_id == episode.child_id,
            Interview.status.in_(workflow.OPEN_STATUSES),
        )
        .order_by(Interview.created_at)
    )
    if interview is None:
        interview = Interview(child_id=episode.child_id, due_at=due)
        db.session.add(interview)
        db.session.flush()
        audit.record("create", "interview", interview.id, child_id=episode.child_id)
    else:
        interview.due_at = min(interview.due_at, due)
    interview.episodes.append(episode)
    audit.record("return", "episode", episode.id, child_id=episode.child_id)
    uow.commit()
    return interview


def circumstances(episode: Episode) -> str | None:
    return sealed.unseal(episode.circumstances_enc, "episode", episode.id, "circumstances")


def escalations(episode: Episode, now: datetime | None = None) -> list[deadlines.Escalation]:
    child = episode.child
    return deadlines.episode_escalations(
        children.facts(episode, child),
        children.history(child),
        now or utcnow(),
        children.thresholds(),
    )


def read_episode(user: User, episode_id: str) -> Episode:
    episode = access.get_episode_or_404(user, episode_id)
    audit.record("view", "episode", episode.id, child_id=episode.child_id)
    uow.commit()
    return episode
