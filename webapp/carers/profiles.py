"""The child's standing profile (Philomena Protocol part 1), its photo, and the police handover.

The carer keeps the profile up to date so that, the moment the child is not back, police get
it at once with the episode's own details (part 2: last seen, clothing, with whom). The web
pages (views.py) and field mode's sync handler (sync.py) call the same functions, so the rules,
the audit and the sealing cannot differ between a form and a phone.

Who: the child's carer, social worker, or a manager (access.can_keep_profile); anyone else gets
NotAllowed, answered as "not found". Every read, change, photo view and handover is audited
(ids and field names only). Everything typed, and the photo, is sealed to the row.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date

from sqlalchemy import select

from webapp import access, audit, deadlines, uow
from webapp.accounts.models import User
from webapp.carers import photos
from webapp.carers.models import ChildProfile, RiskPlan
from webapp.children.models import SEX_LABELS, Child
from webapp.db_types import utcnow
from webapp.episodes import service as episodes
from webapp.episodes.models import (
    HOW_RETURNED_LABELS,
    MISSING_FROM_LABELS,
    POLICE_CATEGORY_LABELS,
    Episode,
    EpisodeStatus,
)
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db

PROFILE_FIELDS = (
    "description",
    "phones",
    "social_media",
    "associates",
    "places",
    "medical",
    "medication",
    "money",
    "transport",
)
PROFILE_LABELS = {
    "description": "Description",
    "phones": "Phones",
    "social_media": "Social media and apps",
    "associates": "Family, friends and associates",
    "places": "Places the child goes",
    "medical": "Medical needs",
    "medication": "Medication",
    "money": "Money and bank cards",
    "transport": "Transport",
}
MAX_TEXT = 2000

# The episode's details as the police ask for them (Philomena Protocol part 2). Keys are part
# A's REPORT_FIELDS and RETURN_FIELDS (webapp/episodes/models.py); the words are the handover's.
REPORT_LABELS = {
    "where_last_seen": "Where last seen",
    "with_whom": "With whom",
    "clothing": "Clothing",
    "belongings": "Belongings (bag, phone)",
    "money": "Money they have",
    "phone": "Phone they have",
    "checks_made": "Checks already made",
}
RETURN_LABELS = {
    "where_found": "More about where they were",
    "who_with": "Who they were with",
    "welfare": "First welfare observations",
}
# What the plan adds to the handover (the police ask for the updated risk assessment). Keys of
# RiskPlan.content (webapp/carers/plan_rules.py); any may be missing.
PLAN_TEXT_LABELS = {
    "vulnerabilities": "Concerns and vulnerabilities",
    "pattern": "Pattern and history",
}
RISK_LABELS = {"low": "Low", "medium": "Medium", "high": "High"}


def _check(user: User, child: Child) -> None:
    if not access.can_keep_profile(user, child):
        raise NotAllowed("Only the child's carer, social worker or a manager keeps the profile")


def _profile_of(child: Child) -> ChildProfile:
    profile = db.session.get(ChildProfile, child.id)
    if profile is None:
        # Every child gets its row when it is recorded (hooks.py) and migration 0007 gave the
        # children before it theirs; this is only a belt to those braces.
        profile = ChildProfile(id=child.id)
        db.session.add(profile)
        db.session.flush()
    return profile


def read_profile(user: User, child: Child) -> ChildProfile:
    _check(user, child)
    profile = _profile_of(child)
    audit.record("view", "child_profile", profile.id, child_id=child.id)
    uow.commit()
    return profile


def texts(profile: ChildProfile) -> dict[str, str]:
    """Every profile field as text ("" where nothing was written)."""
    content = profile.content or {}
    return {name: content.get(name) or "" for name in PROFILE_FIELDS}


def _clean_text(name: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RuleError(name, f"{PROFILE_LABELS[name]} must be text")
    text = value.replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise RuleError(name, f"{PROFILE_LABELS[name]} must be {MAX_TEXT} characters or fewer")
    return text


def today() -> date:
    return deadlines.to_local(utcnow()).date()


def save_profile(
    user: User,
    child: Child,
    data: dict,
    *,
    photo: bytes | None = None,
    remove_photo: bool = False,
) -> ChildProfile:
    """Change the profile: the PROFILE_FIELDS and "review_due" in `data` (a key left out stays
    as it is), a new photo (any JPEG, PNG or HEIC: it is cleaned and resized here, whatever made
    it), or the photo removed.

    Everything is checked before anything changes: a photo refused (photos.PhotoError) or a
    rule broken (RuleError) leaves the profile as it was.
    """
    _check(user, child)
    profile = _profile_of(child)
    changes = {name: _clean_text(name, data[name]) for name in PROFILE_FIELDS if name in data}
    cleaned_photo = photos.process(photo) if photo is not None else None

    content = texts(profile)
    changed = [name for name, text in changes.items() if content[name] != text]
    content.update(changes)

    if "review_due" in data:
        review_due = data["review_due"]
        if review_due is not None and not isinstance(review_due, date):
            raise RuleError("review_due", "Enter the review date as a date")
        # A date already past is refused when it is typed, not when an older one simply stays
        # (a phone sending back the date it was given must not fail the day after).
        if review_due != profile.review_due:
            if review_due is not None and review_due < today():
                raise RuleError("review_due", "The review date must be today or in the future")
            changed.append("review_due")
            profile.review_due = review_due

    profile.content = content
    if cleaned_photo is not None:
        profile.photo = base64.b64encode(cleaned_photo).decode("ascii")
        profile.photo_updated_at = utcnow()
        changed.append("photo")
    elif remove_photo and profile.photo_enc is not None:
        profile.photo = None
        profile.photo_updated_at = None
        changed.append("photo_removed")
    profile.updated_by_id = user.id
    # Every save is a new version, even one that changes no words: the phone's sync counts on
    # it, and the audit says which fields (if any) moved.
    profile.updated_at = utcnow()
    audit.record(
        "update",
        "child_profile",
        profile.id,
        child_id=child.id,
        detail=",".join(changed)[:200] or "no change",
    )
    uow.commit()
    return profile


def photo_b64(profile: ChildProfile) -> str | None:
    """The stored JPEG as base64 (what a phone's payload carries), or None."""
    return profile.photo


def photo_jpeg(profile: ChildProfile) -> bytes | None:
    value = profile.photo
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def read_photo(user: User, child: Child) -> bytes | None:
    """The photo's JPEG bytes for the photo endpoint (audited), or None if there is none."""
    _check(user, child)
    profile = _profile_of(child)
    jpeg = photo_jpeg(profile)
    audit.record("view", "child_photo", profile.id, child_id=child.id)
    uow.commit()
    return jpeg


def _handover_episode(user: User, child: Child) -> Episode | None:
    """The open episode, or else the latest one, of those this person may see."""
    query = access.episodes_query(user).where(Episode.child_id == child.id)
    open_episode = db.session.scalar(
        query.where(Episode.status == EpisodeStatus.MISSING).order_by(Episode.last_seen_at.desc())
    )
    if open_episode is not None:
        return open_episode
    return db.session.scalar(query.order_by(Episode.last_seen_at.desc()))


def _episode_part(episode: Episode) -> dict:
    report = episode.report or {}
    returned = episode.return_details or {}
    return {
        "episode": episode,
        "is_open": episode.status == EpisodeStatus.MISSING,
        "reported_type": episode.reported_type_label,
        "missing_from": MISSING_FROM_LABELS.get(episode.missing_from, episode.missing_from),
        "last_seen_at": episode.last_seen_at,
        "due_back_at": episode.due_back_at,
        "reported_to_police_at": episode.reported_to_police_at,
        "police_log_number": episode.police_log_number,
        "police_category": POLICE_CATEGORY_LABELS.get(episode.police_category or ""),
        "circumstances": episodes.circumstances(episode),
        "report": [
            (label, report.get(key)) for key, label in REPORT_LABELS.items() if report.get(key)
        ],
        "returned_at": episode.returned_at,
        "how_returned": HOW_RETURNED_LABELS.get(episode.how_returned or ""),
        "found_place": episode.found_place_label,
        "return": [
            (label, returned.get(key)) for key, label in RETURN_LABELS.items() if returned.get(key)
        ],
    }


def _rows(value) -> list[dict]:
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []


def _plan_part(plan: RiskPlan) -> dict:
    # The plan's shape is part B's (plan_rules): read what is there, never assume a key.
    content = plan.content if isinstance(plan.content, dict) else {}
    contacts = [
        {
            "name": str(row.get("name") or ""),
            "relationship": str(row.get("relationship") or ""),
            "phone": str(row.get("phone") or ""),
        }
        for row in _rows(content.get("contacts"))
        if any(row.get(k) for k in ("name", "relationship", "phone"))
    ]
    addresses = [
        {
            "address": str(row.get("address") or ""),
            "risk": RISK_LABELS.get(str(row.get("risk") or ""), ""),
            "action": str(row.get("action") or ""),
            "max_wait_hours": row.get("max_wait_hours"),
        }
        for row in _rows(content.get("addresses"))
        if row.get("address")
    ]
    texts_ = [
        (label, content[key])
        for key, label in PLAN_TEXT_LABELS.items()
        if isinstance(content.get(key), str) and content[key].strip()
    ]
    return {
        "report_after_hours": plan.report_after_hours,
        "reviewed_at": plan.reviewed_at,
        "contacts": contacts,
        "addresses": addresses,
        "texts": texts_,
    }


def identity(child: Child) -> dict:
    """Who the child is, as police ask first: names, date of birth and age, legal status, the
    responsible authority and the placement."""
    return {
        "first_name": child.first_name,
        "last_name": child.last_name,
        "date_of_birth": child.date_of_birth,
        "age": child.age_on(today()),
        "sex": SEX_LABELS.get(child.sex, child.sex),
        "legal_status": child.legal_status_label,
        "looked_after": child.looked_after,
        "responsible_authority": child.responsible_authority.name,
        "host_authority": child.host_authority.name if child.host_authority else None,
        "placement": child.placement_provider.name if child.placement_provider else None,
        "social_worker": child.social_worker.name if child.social_worker else None,
        "carer": child.carer.name if child.carer else None,
        "flags": child.flags,
    }


def handover(user: User, child: Child) -> dict:
    """What the police handover page shows: the child, the standing profile and photo, the open
    (or else latest) episode's details, and the plan's contacts and addresses. Audited once,
    naming the parts it showed."""
    _check(user, child)
    profile = _profile_of(child)
    episode = _handover_episode(user, child)
    plan = db.session.scalar(select(RiskPlan).where(RiskPlan.id == child.id))
    content = texts(profile)
    shown = ["profile"]
    if profile.photo_enc:
        shown.append("photo")
    if episode is not None:
        shown.append("episode")
    if plan is not None:
        shown.append("plan")
    audit.record("view", "police_handover", child.id, child_id=child.id, detail=",".join(shown))
    result = {
        "child": child,
        "identity": identity(child),
        "profile": [(PROFILE_LABELS[name], content[name]) for name in PROFILE_FIELDS],
        "review_due": profile.review_due,
        "profile_updated_at": profile.updated_at,
        "photo_b64": photo_b64(profile),
        "photo_updated_at": profile.photo_updated_at,
        "episode": _episode_part(episode) if episode is not None else None,
        "plan": _plan_part(plan) if plan is not None else None,
        "generated_at": utcnow(),
    }
    uow.commit()
    return result
