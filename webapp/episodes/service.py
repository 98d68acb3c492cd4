"""Missing episodes: report, update police details, record the return (which starts the clock)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from webapp import access, audit, deadlines, sealed, uow
from webapp.accounts.models import User
from webapp.carers import plan_rules
from webapp.carers.models import RiskPlan
from webapp.children import service as children
from webapp.children.models import Child
from webapp.db_types import new_id, utcnow
from webapp.episodes.models import (
    CARER_REPORTED_TYPES,
    FOUND_PLACE_LABELS,
    HOW_RETURNED_LABELS,
    MISSING_FROM_LABELS,
    POLICE_CATEGORY_LABELS,
    REPORT_FIELDS,
    RETURN_FIELDS,
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
# Each detail police ask for, and what the carer noticed: enough for a paragraph, not a file.
MAX_DETAIL = 2000
MAX_TEXT = 10_000


def _not_future(field: str, value: datetime | None, label: str) -> None:
    if value is not None and value > utcnow() + CLOCK_SKEW:
        raise RuleError(field, f"{label} must be in the past")


def _text(field: str, value, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RuleError(field, "Enter text")
    value = value.strip()
    if len(value) > limit:
        raise RuleError(field, f"Enter {limit:,} characters or fewer")
    return value or None


def _details(value, fields: tuple[str, ...]) -> dict[str, str]:
    """A sealed dict of free-text details: only the known keys, each trimmed, empty ones left
    out (so an empty answer clears it)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RuleError(None, "The details are not in the expected shape")
    unknown = set(value) - set(fields)
    if unknown:
        raise RuleError(None, "Some details are not ones this form asks for")
    out = {}
    for key in fields:
        text = _text(key, value.get(key), MAX_DETAIL)
        if text:
            out[key] = text
    return out


def _reported_type(user: User, child: Child, value) -> str:
    try:
        kind = ReportedType(value)
    except ValueError:
        raise RuleError("reported_type", "Choose what was reported") from None
    if not access.can_manage(user) and kind not in CARER_REPORTED_TYPES:
        raise RuleError("reported_type", "Choose what was reported")
    if kind == ReportedType.AWAY and not child.looked_after:
        raise RuleError(
            "reported_type",
            "Away from placement is only for a looked-after child: choose missing or not back",
        )
    return kind.value


def _police_category(user: User, value) -> str | None:
    category = value or None
    if category is None:
        return None
    if not access.can_manage(user):
        raise RuleError("police_category", "The police category is recorded by a manager")
    if category not in POLICE_CATEGORY_LABELS:
        raise RuleError("police_category", "Choose the police category")
    return category


def found_place(value) -> str | None:
    """Where the child was found, as its code; None when not given (a carer may not know: "Not
    known" is a code of its own, for when they were asked and nobody knows)."""
    if value is None or value == "":
        return None
    if value not in FOUND_PLACE_LABELS:
        raise RuleError("found_place", "Choose where the child was found from the list")
    return value


def _check_times(reported_type: str, last_seen: datetime, due_back, reported) -> None:
    _not_future("last_seen_at", last_seen, "The time last seen")
    # Not back when expected: the time has passed (or is now), so it cannot be in the future.
    _not_future("due_back_at", due_back, "The time due back")
    if reported_type == ReportedType.NOT_BACK and due_back is None:
        raise RuleError("due_back_at", "Enter when the child was due back")
    _not_future("reported_to_police_at", reported, "The time reported")
    if reported and reported < last_seen:
        raise RuleError(
            "reported_to_police_at", "The time reported to police must be after the time last seen"
        )


def _new_episode_id(value) -> str | None:
    """An id made on a phone (field mode creates the episode offline with its own UUID): a
    canonical UUID not already used, so a sync creates the row under the id the phone knows."""
    if value is None or value == "":
        return None
    try:
        canonical = str(uuid.UUID(str(value)))
    except ValueError:
        raise RuleError("episode_id", "The episode id is not a valid id") from None
    if canonical != value:
        raise RuleError("episode_id", "The episode id is not a valid id")
    if db.session.get(Episode, canonical) is not None:
        raise RuleError("episode_id", "An episode with this id already exists")
    return canonical


def report_missing(user: User, child: Child, data: dict) -> Episode:
    """A child reported missing, not back when expected, or (looked after) away from placement:
    by the child's carer or a manager. `data` is described in docs (the contract): missing_from
    defaults from the child's placement, report holds REPORT_FIELDS."""
    # A school's DSL reports their own pupil missing during the school day, and only that
    # (webapp.schools.absences): what they saw is a pupil missing from school.
    by_school = not access.can_report(user, child) and access.can_record_absence(user, child)
    if not access.can_report(user, child) and not by_school:
        raise NotAllowed("Only the child's carer or a manager reports the child missing")
    if by_school and (
        data.get("reported_type") != ReportedType.MISSING or data.get("missing_from") != "school"
    ):
        raise RuleError("reported_type", "A school reports a pupil missing from school")
    reported_type = _reported_type(user, child, data.get("reported_type"))
    missing_from = data.get("missing_from") or ("placement" if child.looked_after else "home")
    if missing_from not in MISSING_FROM_LABELS:
        raise RuleError("missing_from", "Choose where the child was missing from")
    last_seen = data.get("last_seen_at")
    if last_seen is None:
        raise RuleError("last_seen_at", "Enter when the child was last seen")
    due_back = data.get("due_back_at")
    reported = data.get("reported_to_police_at")
    _check_times(reported_type, last_seen, due_back, reported)
    category = _police_category(user, data.get("police_category"))
    log_number = _text("police_log_number", data.get("police_log_number"), 40)
    circumstances_text = _text("circumstances", data.get("circumstances"), MAX_TEXT)
    report = _details(data.get("report"), REPORT_FIELDS)
    episode_id = _new_episode_id(data.get("episode_id"))
    check_period(child, last_seen, None)
    # The id first: sealed values are bound to it.
    episode = Episode(id=episode_id or new_id())
    episode.child_id = child.id
    episode.reported_type = reported_type
    episode.missing_from = missing_from
    episode.last_seen_at = last_seen
    episode.due_back_at = due_back
    episode.reported_to_police_at = reported
    episode.police_log_number = log_number
    episode.police_category = category
    episode.reported_by_id = user.id
    episode.status = EpisodeStatus.MISSING
    if report:
        episode.report = report
    if circumstances_text:
        episode.circumstances_enc = sealed.seal(
            circumstances_text, "episode", episode.id, "circumstances"
        )
    db.session.add(episode)
    db.session.flush()
    audit.record("create", "episode", episode.id, child_id=child.id)
    uow.commit()
    return episode


def check_period(
    child: Child,
    last_seen_at: datetime,
    returned_at: datetime | None,
    *,
    episode_id: str | None = None,
    correcting: bool = False,
) -> None:
    """Refuse at entry what the SSDA903 Missing table would refuse (webapp/oversight/ssda903.py):
    an episode starting before the child was born (rule 586), ending before it started (567), or
    sharing a moment with another of the child's episodes (574). One place for every path that
    records or corrects an episode's times: the web forms, the carers' and schools' pages and
    their sync pushes all come through report_missing, record_return or correct_episode.

    `returned_at` None is an open episode: it runs on, so it overlaps every later episode.
    Episodes may touch (one ends at the instant the next begins); withdrawn ones count for
    nothing. `episode_id`: the episode being changed, not compared with itself."""
    if deadlines.to_local(last_seen_at).date() < child.date_of_birth:
        raise RuleError(
            "last_seen_at",
            "The time last seen must be on or after the child's date of birth "
            f"({child.date_of_birth.strftime('%-d %B %Y')})",
        )
    if returned_at is not None and returned_at < last_seen_at:
        raise RuleError("returned_at", "The return must be after the time last seen")
    others = db.session.scalars(
        select(Episode)
        .where(
            Episode.child_id == child.id,
            Episode.status != EpisodeStatus.WITHDRAWN,
            Episode.id != (episode_id or ""),
        )
        .order_by(Episode.last_seen_at)
    )
    for other in others:
        other_end = other.returned_at
        starts_before_end = returned_at is None or other.last_seen_at < returned_at
        ends_after_start = other_end is None or last_seen_at < other_end
        if not (starts_before_end and ends_after_start):
            continue
        if correcting:
            raise RuleError("last_seen_at", "These times overlap another episode of this child")
        if returned_at is not None:
            # A return recorded on an open episode that runs past the start of a later one.
            raise RuleError(
                "returned_at",
                "The child's next episode began at "
                f"{_shown_time(other.last_seen_at)}: the return must be no later than that",
            )
        if other_end is None:
            raise RuleError(
                "last_seen_at",
                "This child already has an open episode: record their return on it first",
            )
        if other.last_seen_at <= last_seen_at:
            raise RuleError("last_seen_at", "This time falls inside an earlier episode")
        raise RuleError(
            "last_seen_at",
            "This child has a later episode (last seen "
            f"{_shown_time(other.last_seen_at)}): an episode reported now stays open until the "
            "return is recorded, so it would overlap that one. Check the time last seen",
        )


def _shown_time(instant: datetime) -> str:
    return deadlines.to_local(instant).strftime("%-d %B %Y %H:%M")


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
    checked = data.get("safe_and_well_at")
    if checked is not None:
        if episode.returned_at is None:
            raise RuleError("safe_and_well_at", "A safe-and-well check follows the return")
        _not_future("safe_and_well_at", checked, "The safe-and-well check")
        if checked < episode.returned_at:
            raise RuleError("safe_and_well_at", "The safe-and-well check must be after the return")
    by = _text("safe_and_well_by", data.get("safe_and_well_by"), 100)
    episode.police_category = category
    episode.police_log_number = (data.get("police_log_number") or "").strip() or None
    episode.reported_to_police_at = reported
    episode.safe_and_well_at = checked
    episode.safe_and_well_by = by
    audit.record("update", "episode", episode.id, child_id=episode.child_id, detail="police")
    uow.commit()
    return episode


def update_report(user: User, episode: Episode, data: dict) -> Episode:
    """While the child is away, the carer (or a manager) keeps the details police ask for up to
    date. Keys absent from `data` are left as they are; `report` is merged key by key (an empty
    answer clears that detail). A manager may also correct a closed episode's report.

    Everything is checked before anything changes, so a refused update leaves the episode as it
    was."""
    child = episode.child
    if not access.can_report(user, child):
        raise NotAllowed("Only the child's carer or a manager updates the report")
    manager = access.can_manage(user)
    if episode.status != EpisodeStatus.MISSING and not manager:
        raise RuleError(None, "The child is back: this report can no longer be changed")
    # The facts the episode was opened with stay: a sync may send them back unchanged, but a
    # different time last seen would move the episode under the overlap rule and the clocks.
    if data.get("last_seen_at") is not None and data["last_seen_at"] != episode.last_seen_at:
        raise RuleError("last_seen_at", "The time last seen cannot be changed here")
    new: dict = {}
    missing_from = data.get("missing_from") or episode.missing_from
    if missing_from != episode.missing_from:
        if not manager or missing_from not in MISSING_FROM_LABELS:
            raise RuleError("missing_from", "Where the child was missing from cannot be changed")
        new["missing_from"] = missing_from
    if "reported_type" in data and data["reported_type"] != episode.reported_type:
        new["reported_type"] = _reported_type(user, child, data["reported_type"])
    for key in ("due_back_at", "reported_to_police_at"):
        if key in data:
            new[key] = data[key]
    due_back = new.get("due_back_at", episode.due_back_at)
    reported = new.get("reported_to_police_at", episode.reported_to_police_at)
    reported_type = new.get("reported_type", episode.reported_type)
    _not_future("due_back_at", due_back, "The time due back")
    if reported_type == ReportedType.NOT_BACK and due_back is None:
        raise RuleError("due_back_at", "Enter when the child was due back")
    _not_future("reported_to_police_at", reported, "The time reported")
    if reported and reported < episode.last_seen_at:
        raise RuleError(
            "reported_to_police_at", "The time reported to police must be after the time last seen"
        )
    if "police_category" in data and (data["police_category"] or None) != episode.police_category:
        new["police_category"] = _police_category(user, data["police_category"])
    if "police_log_number" in data:
        new["police_log_number"] = _text("police_log_number", data["police_log_number"], 40)
    if "circumstances" in data:
        new["circumstances"] = _text("circumstances", data["circumstances"], MAX_TEXT)
    if "report" in data:
        given = data["report"] or {}
        _details(given, REPORT_FIELDS)  # the shape and the lengths
        merged = dict(episode.report or {})
        for key in REPORT_FIELDS:
            if key in given:
                text = _text(key, given[key], MAX_DETAIL)
                if text:
                    merged[key] = text
                else:
                    merged.pop(key, None)
        new["report"] = merged

    changed = []
    current_circumstances = circumstances(episode)
    for key, value in new.items():
        if key == "circumstances":
            if value != current_circumstances:
                episode.circumstances_enc = sealed.seal(
                    value, "episode", episode.id, "circumstances"
                )
                changed.append(key)
        elif getattr(episode, key) != value:
            setattr(episode, key, value)
            changed.append(key)
    # Field names only: the audit row never holds what was written.
    audit.record(
        "update", "episode", episode.id, child_id=episode.child_id, detail=",".join(changed)
    )
    uow.commit()
    return episode


# The interviews a new return may join: not yet held (a sent-back one was held).
NOT_YET_HELD = (workflow.Status.AWAITING_ALLOCATION, workflow.Status.ALLOCATED)


def record_return(
    user: User,
    episode: Episode,
    returned_at: datetime,
    how: str,
    details: dict | None = None,
    place: str | None = None,
) -> Interview:
    """Close the episode and start (or extend) the 72-hour return interview clock: by the
    child's carer or a manager. `details` holds RETURN_FIELDS (where found, who with, first
    welfare observations), sealed; `place` is where they were found as a FOUND_PLACE_LABELS
    code (optional), in clear for the figures.

    Each return starts its own 72-hour clock. One interview may still cover several episodes:
    a return joins the child's interview not yet held (awaiting allocation or allocated) while
    that interview is not overdue, and its due time stays at the earliest return. An overdue
    interview, or one already held and sent back for changes, is not joined: the new return gets
    an interview of its own with its own deadline.
    """
    if not access.can_report(user, episode.child):
        raise NotAllowed("Only the child's carer or a manager records the return")
    if episode.status != EpisodeStatus.MISSING:
        raise RuleError("returned_at", "This episode already has a return recorded")
    if how not in HOW_RETURNED_LABELS:
        raise RuleError("how_returned", "Choose how the child returned or was found")
    if returned_at is None:
        raise RuleError("returned_at", "Enter when the child returned or was found")
    _not_future("returned_at", returned_at, "The return time")
    place = found_place(place)
    check_period(episode.child, episode.last_seen_at, returned_at, episode_id=episode.id)
    return_details = _details(details, RETURN_FIELDS)
    episode.returned_at = returned_at
    episode.how_returned = how
    episode.found_place = place
    episode.status = EpisodeStatus.RETURNED
    if return_details:
        episode.return_details = return_details

    due = deadlines.rhi_due_at(returned_at, children.thresholds())
    interview = db.session.scalar(
        select(Interview)
        .where(
            Interview.child_id == episode.child_id,
            Interview.status.in_(NOT_YET_HELD),
            Interview.due_at > utcnow(),
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


def save_carer_notes(user: User, episode: Episode, text: str | None) -> Episode:
    """What the carer noticed when the child came back, for the return interview worker (who
    reads it on the interview). Once the child is back; the carer or a manager."""
    if not access.can_report(user, episode.child):
        raise NotAllowed("Only the child's carer or a manager adds what the carer noticed")
    if episode.status != EpisodeStatus.RETURNED:
        raise RuleError("carer_notes", "Add what you noticed once the child is back")
    episode.carer_notes = _text("carer_notes", text, MAX_TEXT)
    audit.record("update", "episode", episode.id, child_id=episode.child_id, detail="carer_notes")
    uow.commit()
    return episode


def circumstances(episode: Episode) -> str | None:
    return sealed.unseal(episode.circumstances_enc, "episode", episode.id, "circumstances")


def report_details(episode: Episode) -> dict:
    """The sealed details, opened: what police were told and how the child came back. The
    caller has read the episode through read_episode (audited) and checked who may see them."""
    return {
        "report": dict(episode.report or {}),
        "return": dict(episode.return_details or {}),
        "circumstances": circumstances(episode),
    }


def carer_notes_for(user: User, interview: Interview) -> list[tuple[Episode, str]]:
    """What the carer noticed on each episode the interview covers, for those who read the
    interview (its worker, a manager; never the carer, who never reads the interview). Each
    note read is audited."""
    if not access.can_read_interview_content(user, interview):
        raise NotAllowed("Only those who read the interview read what the carer noticed")
    notes = [(e, e.carer_notes) for e in interview.episodes if e.carer_notes_enc is not None]
    notes = [(e, text) for e, text in notes if text]
    for episode, _ in notes:
        audit.record("view", "episode", episode.id, child_id=episode.child_id, detail="carer_notes")
    if notes:
        uow.commit()
    return notes


def open_episode(child: Child) -> Episode | None:
    """The child's episode still open (at most one: the overlap rule), or None."""
    return db.session.scalar(
        select(Episode).where(Episode.child_id == child.id, Episode.status == EpisodeStatus.MISSING)
    )


def report_at_once(child: Child, now: datetime | None = None) -> bool:
    """Should a carer reporting this child call the police now, from the first screen? The
    plan's rule (plan_rules.police_report_due) with no wait allowed: 12 or under on the UK date,
    a plan of 0 hours, or no plan at all."""
    now = now or utcnow()
    plan = db.session.get(RiskPlan, child.id)
    due = plan_rules.police_report_due(
        reported_type=ReportedType.NOT_BACK.value,
        last_seen_at=now,
        due_back_at=now,
        date_of_birth=child.date_of_birth,
        report_after_hours=plan.report_after_hours if plan is not None else None,
    )
    return due is not None and due <= now


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
