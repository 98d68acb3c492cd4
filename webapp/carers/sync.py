"""Carers' field-mode record types: the child placed with them, and the episodes they report.

"child" (one per child placed with the carer, kept in the child's profile row): who the child
is, the standing profile and its photo, the risk plan's summary and which episode is open, so
that the carer can report, follow the plan and hand the police what they need with no signal.
The phone may change the profile and the photo.

"episode": made on the phone with the phone's own id when the carer reports the child missing
(so a report typed with no signal is the same record when it arrives, sent exactly once), then
changed as the carer learns more, reports the child back and adds what they noticed.

Both go through the same services as the web pages (episodes.service, carers.profiles): the
rules, the audit and the reminders cannot differ between a form and a phone. Registered by
webapp.carers.init_app.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from sync.store import PayloadError, RecordState, StaleWrite
from webapp import access
from webapp.accounts.models import Role, User
from webapp.carers import photos, plan_rules, plans, profiles
from webapp.carers.models import ChildProfile, RiskPlan
from webapp.children.models import Child
from webapp.db_types import utcnow
from webapp.episodes import service as episodes
from webapp.episodes.models import (
    FOUND_PLACE_LABELS,
    HOW_RETURNED_LABELS,
    REPORT_FIELDS,
    RETURN_FIELDS,
    Episode,
    EpisodeStatus,
)
from webapp.extensions import db
from webapp.fieldsync import shapes, store
from webapp.fieldsync.registry import RecordType
from webapp.interviews import workflow
from webapp.interviews.models import Interview

# A returned episode stays on the carer's phone this long, for adding what they noticed.
KEEP_RETURNED = timedelta(days=14)


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


# The handlers check a payload's shape (types, known keys, times with offsets: shapes.py); what a
# text may hold (its length, trimming) is the services' rule (episodes.service, carers.profiles),
# answered as a PayloadError naming the field: one set of limits for the web form and the phone.
def _texts(payload: Any, names: tuple[str, ...], field: str) -> dict[str, str]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise PayloadError(field, "must be an object")
    extra = set(payload) - set(names)
    if extra:
        raise PayloadError(field, f"unknown field {sorted(extra)[0]}")
    texts = {name: shapes.text(payload, name, f"{field}.{name}") for name in names}
    return {name: text for name, text in texts.items() if text}


def _errors_as_payload(fn, *args, **kwargs):
    """A service's refusal, in the terms the sync engine answers a phone with (422, the field)."""
    return shapes.as_payload_errors(fn, *args, fields={photos.PhotoError: "photo"}, **kwargs)


# ------------------------------------------------------------------ the child


def _plan_summary(child_id: str) -> dict | None:
    """The plan as the phone keeps it (plans.plan_summary), with its sections' labels so the
    phone shows them in the plan's own words; None when no plan has been agreed."""
    plan = db.session.get(RiskPlan, child_id)
    if plan is None:
        return None
    summary = plans.plan_summary(plan)
    summary["sections"] = [
        {"label": plan_rules.TEXT_LABELS[name], "value": summary.get(name)}
        for name in plan_rules.TEXT_FIELDS
    ]
    for address in summary.get("addresses") or []:
        address["risk_label"] = plan_rules.RISK_LABELS.get(address.get("risk"))
    return summary


def child_payload(profile: ChildProfile, actor: User) -> dict[str, Any]:
    # Which report is open is not here: the phone keeps the episodes themselves.
    child = profile.child
    return {
        "child": {
            "id": child.id,
            "first_name": child.first_name,
            "last_name": child.last_name,
            "date_of_birth": child.date_of_birth.isoformat(),
            "sex": child.sex,
            "legal_status": child.legal_status_label,
            "looked_after": child.looked_after,
            "flags": child.flags,
            "responsible_authority": child.responsible_authority.name,
            "placement": child.placement_provider.name if child.placement_provider else None,
            "social_worker": child.social_worker.name if child.social_worker else None,
        },
        "profile": {name: (profile.content or {}).get(name) for name in profiles.PROFILE_FIELDS},
        "review_due": _iso(profile.review_due),
        "photo": profiles.photo_b64(profile),
        "plan": _plan_summary(child.id),
        # When and where the return interview is (not its content): the carer brings the child.
        "appointments": [
            {"at": _iso(i.appointment_at), "place": i.appointment_place}
            for i in db.session.scalars(
                select(Interview)
                .where(
                    Interview.child_id == child.id,
                    Interview.status.in_(workflow.OPEN_STATUSES),
                    Interview.appointment_at.is_not(None),
                )
                .order_by(Interview.appointment_at)
            )
        ],
        "editable": access.can_keep_profile(actor, child),
    }


class ChildHandler:
    record_type = "child"

    def __init__(self, device_id: str):
        self.device_id = device_id

    def visible_ids(self, actor: User, after: str | None, limit: int) -> list[str]:
        """The children placed with this carer, in id order after `after` (a full pull's page;
        load() checks each as it does for one)."""
        query = (
            select(ChildProfile.id)
            .join(Child, ChildProfile.id == Child.id)
            .where(access.child_clause(actor), Child.carer_id == actor.id)
        )
        if after is not None:
            query = query.where(ChildProfile.id > after)
        return list(db.session.scalars(query.order_by(ChildProfile.id).limit(limit)))

    def _get(self, actor: User, record_id, *, fresh: bool = False) -> ChildProfile | None:
        # A phone keeps the children placed with this carer: never every child a manager or
        # social worker may see on the web pages (as field_interviews_query for interviews).
        query = (
            select(ChildProfile)
            .join(Child, ChildProfile.id == Child.id)
            .where(
                ChildProfile.id == str(record_id),
                access.child_clause(actor),
                Child.carer_id == actor.id,
            )
        )
        if fresh:
            query = query.execution_options(populate_existing=True)
        profile = db.session.scalar(query)
        if profile is None or not access.can_keep_profile(actor, profile.child):
            return None
        return profile

    def validate(self, payload: dict) -> dict:
        extra = set(payload) - {"profile", "review_due", "photo"}
        if extra:
            raise PayloadError("payload", "Only profile, review_due and photo can be sent")
        out: dict[str, Any] = {
            "profile": _texts(payload.get("profile"), profiles.PROFILE_FIELDS, "profile")
        }
        review = payload.get("review_due")
        try:
            out["review_due"] = date.fromisoformat(review) if review else None
        except (TypeError, ValueError):
            raise PayloadError("review_due", "must be a date (YYYY-MM-DD)") from None
        photo = payload.get("photo", "keep")
        if photo in (None, "keep"):
            out["photo"] = "keep"
        elif photo == "remove":
            out["photo"] = "remove"
        elif isinstance(photo, dict) and set(photo) == {"jpeg"} and isinstance(photo["jpeg"], str):
            try:
                out["photo"] = base64.b64decode(photo["jpeg"], validate=True)
            except (binascii.Error, ValueError):
                raise PayloadError(
                    "photo", "The photo could not be read: choose it again"
                ) from None
        else:
            raise PayloadError("photo", 'must be "keep", "remove" or {"jpeg": base64}')
        return out

    def load(self, actor: User, record_id) -> RecordState | None:
        profile = self._get(actor, record_id)
        if profile is None:
            return None
        return RecordState(
            record_id=uuid.UUID(profile.id),
            version=profile.version,
            payload=child_payload(profile, actor),
        )

    def can_create(self, actor, record_id, payload) -> bool:
        return False  # a child is recorded by a manager; the profile comes with the child

    def can_write(self, actor: User, state: RecordState) -> bool:
        return self._get(actor, state.record_id) is not None

    def write(self, actor: User, record_id, payload, new_version: int, *, create: bool):
        # Compare-and-set as the interview's: the row as it is now, and the version column's
        # WHERE clause refuses the UPDATE if another transaction moved it since.
        profile = self._get(actor, record_id, fresh=True)
        if profile is None or profile.version != new_version - 1:
            raise StaleWrite(f"profile is no longer at version {new_version - 1}")
        photo = payload["photo"]
        data = dict(payload["profile"], review_due=payload["review_due"])
        _errors_as_payload(
            profiles.save_profile,
            actor,
            profile.child,
            data,
            photo=photo if isinstance(photo, bytes) else None,
            remove_photo=photo == "remove",
        )
        _errors_as_payload(db.session.flush)
        return profile.version

    def delete(self, actor, state, new_version: int) -> None:
        raise PayloadError(None, "A child's profile cannot be deleted from a device")

    def save_conflict(self, actor, record_id, base_version, payload, server, conflict_id):
        # The phone's own shape, photo included (sealed with the rest): nothing chosen is lost.
        photo = payload["photo"]
        if isinstance(photo, bytes):
            photo = {"jpeg": base64.b64encode(photo).decode()}
        mine = {**payload, "photo": photo, "review_due": _iso(payload["review_due"])}
        store.save_conflict(
            actor,
            self.device_id,
            self.record_type,
            record_id,
            base_version,
            mine,
            server,
            conflict_id,
        )


# ------------------------------------------------------------------ the episode

# What a phone may set on an episode, by key (the rest is the server's: status, labels).
_EPISODE_KEYS = {
    "child_id",
    "reported_type",
    "last_seen_at",
    "due_back_at",
    "reported_to_police_at",
    "police_log_number",
    "circumstances",
    "report",
    "returned",
    "carer_notes",
}
# The report's keys that update_report takes (what police ask for while the child is away).
_REPORT_KEYS = (
    "reported_type",
    "due_back_at",
    "reported_to_police_at",
    "police_log_number",
    "circumstances",
    "report",
)


def episode_payload(episode: Episode) -> dict[str, Any]:
    details = episodes.report_details(episode)
    returned = None
    if episode.returned_at is not None:
        returned = {
            "returned_at": _iso(episode.returned_at),
            "how_returned": episode.how_returned,
            "found_place": episode.found_place,
            **details["return"],
        }
    return {
        "child_id": episode.child_id,
        "reported_type": episode.reported_type,
        "reported_type_label": episode.reported_type_label,
        "status": episode.status,
        "missing_from": episode.missing_from,
        "last_seen_at": _iso(episode.last_seen_at),
        "due_back_at": _iso(episode.due_back_at),
        "reported_to_police_at": _iso(episode.reported_to_police_at),
        "police_log_number": episode.police_log_number,
        "police_category": episode.police_category,
        "circumstances": details["circumstances"],
        "report": details["report"],
        "returned": returned,
        "carer_notes": episode.carer_notes,
    }


class EpisodeHandler:
    record_type = "episode"

    def __init__(self, device_id: str):
        self.device_id = device_id

    def _query(self, actor: User):
        # A carer's phone keeps their children's open episodes and those back in the last two
        # weeks (to add what they noticed); older ones are history, online.
        return access.episodes_query(actor).where(
            Child.carer_id == actor.id,
            or_(
                Episode.status == EpisodeStatus.MISSING,
                (Episode.status == EpisodeStatus.RETURNED)
                & (Episode.returned_at >= utcnow() - KEEP_RETURNED),
            ),
        )

    def visible_ids(self, actor: User, after: str | None, limit: int) -> list[str]:
        query = self._query(actor).with_only_columns(Episode.id)
        if after is not None:
            query = query.where(Episode.id > after)
        return list(db.session.scalars(query.order_by(Episode.id).limit(limit)))

    def _get(self, actor: User, record_id, *, fresh: bool = False) -> Episode | None:
        query = self._query(actor).where(Episode.id == str(record_id))
        if fresh:
            query = query.execution_options(populate_existing=True)
        return db.session.scalar(query)

    def validate(self, payload: dict) -> dict:
        extra = set(payload) - _EPISODE_KEYS
        if extra:
            raise PayloadError(sorted(extra)[0], "cannot be sent for an episode")
        child_id = payload.get("child_id")
        try:
            child_id = str(uuid.UUID(child_id)) if isinstance(child_id, str) else None
        except ValueError:
            child_id = None
        if child_id is None:
            raise PayloadError("child_id", "must be the child's id")
        reported_type = payload.get("reported_type")
        if not isinstance(reported_type, str):
            raise PayloadError("reported_type", "Choose what happened")
        out: dict[str, Any] = {
            "child_id": child_id,
            "reported_type": reported_type,
            "last_seen_at": shapes.time(payload, "last_seen_at"),
            "due_back_at": shapes.time(payload, "due_back_at"),
            "reported_to_police_at": shapes.time(payload, "reported_to_police_at"),
            "police_log_number": shapes.text(payload, "police_log_number"),
            "circumstances": shapes.text(payload, "circumstances"),
            "report": _texts(payload.get("report"), REPORT_FIELDS, "report"),
            "carer_notes": shapes.text(payload, "carer_notes"),
            "returned": None,
        }
        if out["last_seen_at"] is None:
            raise PayloadError("last_seen_at", "Enter when the child was last seen")
        returned = payload.get("returned")
        if returned is not None:
            if not isinstance(returned, dict):
                raise PayloadError("returned", "must be an object")
            extra = set(returned) - {"returned_at", "how_returned", "found_place", *RETURN_FIELDS}
            if extra:
                raise PayloadError(f"returned.{sorted(extra)[0]}", "cannot be sent")
            at = shapes.time(returned, "returned_at")
            if at is None:
                raise PayloadError("returned_at", "Enter when the child came back")
            how = returned.get("how_returned")
            # A list or an object is not a code (and would not even hash for the lookup).
            if not isinstance(how, str) or how not in HOW_RETURNED_LABELS:
                raise PayloadError("how_returned", "Choose how the child came back or was found")
            # Optional (a carer may not know), but only a code from the list.
            place = returned.get("found_place") or None
            if place is not None and (
                not isinstance(place, str) or place not in FOUND_PLACE_LABELS
            ):
                raise PayloadError("found_place", "Choose where the child was found from the list")
            details = {k: v for k, v in returned.items() if k in RETURN_FIELDS}
            out["returned"] = {
                "returned_at": at,
                "how_returned": how,
                "found_place": place,
                "details": _texts(details, RETURN_FIELDS, "returned"),
            }
        return out

    def load(self, actor: User, record_id) -> RecordState | None:
        episode = self._get(actor, record_id)
        if episode is None:
            return None
        return RecordState(
            record_id=uuid.UUID(episode.id),
            version=episode.version,
            payload=episode_payload(episode),
        )

    def can_create(self, actor: User, record_id, payload) -> bool:
        # Never over an id that exists, visible or not (ids come from devices).
        if db.session.get(Episode, str(record_id)) is not None:
            return False
        child = db.session.scalar(
            access.children_query(actor).where(Child.id == payload.get("child_id"))
        )
        return child is not None and actor.role == Role.CARER and access.can_report(actor, child)

    def can_write(self, actor: User, state: RecordState) -> bool:
        episode = self._get(actor, state.record_id)
        return episode is not None and access.can_report(actor, episode.child)

    def write(self, actor: User, record_id, payload, new_version: int, *, create: bool):
        if create:
            child = db.session.scalar(
                access.children_query(actor).where(Child.id == payload["child_id"])
            )
            if child is None:
                raise PayloadError("child_id", "This child is not placed with you")
            data = {k: payload[k] for k in ("reported_type", "last_seen_at", *_REPORT_KEYS)}
            episode = _errors_as_payload(
                episodes.report_missing, actor, child, {**data, "episode_id": str(record_id)}
            )
        else:
            episode = self._get(actor, record_id, fresh=True)
            if episode is None or episode.version != new_version - 1:
                raise StaleWrite(f"episode is no longer at version {new_version - 1}")
            if payload["child_id"] != episode.child_id:
                raise PayloadError("child_id", "An episode cannot move to another child")
            current = episode_payload(episode)
            changed = {
                k: payload[k]
                for k in _REPORT_KEYS
                if _comparable(payload[k]) != _comparable(current.get(k))
            }
            if changed and episode.status == EpisodeStatus.MISSING:
                _errors_as_payload(episodes.update_report, actor, episode, changed)
        returned = payload["returned"]
        if returned is not None and episode.status == EpisodeStatus.MISSING:
            _errors_as_payload(
                episodes.record_return,
                actor,
                episode,
                returned["returned_at"],
                returned["how_returned"],
                returned["details"],
                returned["found_place"],
            )
        if (payload["carer_notes"] or None) != (episode.carer_notes or None):
            _errors_as_payload(episodes.save_carer_notes, actor, episode, payload["carer_notes"])
        _errors_as_payload(db.session.flush)
        return episode.version

    def delete(self, actor, state, new_version: int) -> None:
        raise PayloadError(None, "An episode is never deleted: ask a manager to withdraw it")

    def save_conflict(self, actor, record_id, base_version, payload, server, conflict_id):
        mine = dict(payload)
        if payload["returned"] is not None:
            returned = payload["returned"]
            mine["returned"] = {
                "returned_at": returned["returned_at"],
                "how_returned": returned["how_returned"],
                "found_place": returned["found_place"],
                **returned["details"],
            }
        store.save_conflict(
            actor,
            self.device_id,
            self.record_type,
            record_id,
            base_version,
            _jsonable(mine),
            server,
            conflict_id,
        )


def _comparable(value: Any) -> Any:
    """One form for a value from the phone and the same value as the server's payload has it."""
    if isinstance(value, str) and "T" in value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return value or None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value


# ------------------------------------------------------------------ what a change shows


def _same_ids(conn, ids: set[str]) -> set[str]:
    # A child, a profile and a plan share the child's id.
    return set(ids)


def _children_of_interviews(conn, ids: set[str]) -> set[str]:
    return set(conn.scalars(select(Interview.child_id).where(Interview.id.in_(ids))))


def _episodes_of_children(conn, ids: set[str]) -> set[str]:
    return set(conn.scalars(select(Episode.id).where(Episode.child_id.in_(ids))))


CHILD_RECORD = RecordType(
    name="child",
    handler=ChildHandler,
    model=ChildProfile,
    # The payload shows the child, the plan and when the interview is.
    shows={
        Child: _same_ids,
        RiskPlan: _same_ids,
        Interview: _children_of_interviews,
    },
    # Of an interview only its appointment (and whether it is still open): a worker's autosave
    # must not send the child's record (and its photo) to the carer's phone again.
    shows_only={
        Interview: ("status", "appointment_at", "appointment_place_enc"),
    },
    roles=frozenset({Role.CARER}),
)

EPISODE_RECORD = RecordType(
    name="episode",
    handler=EpisodeHandler,
    model=Episode,
    # A child moving to another carer moves its episodes with it.
    shows={Child: _episodes_of_children},
    roles=frozenset({Role.CARER}),
)
