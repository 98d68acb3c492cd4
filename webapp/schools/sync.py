"""The school DSL's tablet in field mode: three record types.

"school" (one, the DSL's own school): the calendar school days are counted in (terms, closure
days and England's bank holidays from the server's maintained library), and the school's words
for codes, contacts and the always-refer questions, so the tablet counts a pupil's timeline and
asks the checklist exactly as the web pages do, with no signal. Read only on the tablet.

"pupil" (one per pupil on the school's roll, kept in the child's profile row, which every child
has): who the pupil is, recent absences and the current follow-up with its enquiries, checklist
answers, referrals and what the school has told the authority. Read only on the tablet: the
tablet changes a pupil through entries.

"school_entry": one piece of work done on the tablet (an absence, a register row, an enquiry, the
checklist, a referral, a milestone done, the follow-up's facts or its end, a pupil missing during
the school day, a pupil new to the school), made with the tablet's own id and applied once by the
same services as the web pages (webapp/schools/absences.py, pupils.py), so the rules, the audit,
the reminders and the authority's view cannot differ. An entry is never sent back: its effect comes
back in the pupil's record, and the tablet drops the entry once the server has it. A second copy of
an entry is refused (its id is taken), so work typed in a car park is applied exactly once.
Registered by webapp.schools.init_app.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from sync.store import PayloadError, RecordState
from webapp import access, deadlines
from webapp.accounts.models import Organisation, OrgKind, Role, User
from webapp.carers.models import ChildProfile
from webapp.children.models import Child
from webapp.episodes.models import REPORT_FIELDS, Episode, EpisodeStatus
from webapp.extensions import db
from webapp.fieldsync import shapes
from webapp.fieldsync.registry import RecordType
from webapp.schools import absences, calendar, pupils
from webapp.schools.absence_models import (
    ATTENDANCE_CODES,
    CLOSED_REASON_LABELS,
    ENQUIRY_KIND_LABELS,
    NO_REASON_YET,
    NO_REASON_YET_LABEL,
    NOTIFICATION_KIND_LABELS,
    REFERRED_TO_LABELS,
    Absence,
    Enquiry,
    FollowUp,
    FollowUpStatus,
    Referral,
    SchoolEntry,
    SchoolNotification,
)

# How many of a pupil's latest absent sessions the tablet keeps (the register screen shows what
# was recorded for the day; the pupil's screen the recent pattern).
RECENT_ABSENCES = 20


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


def _refusal(fn, *args, **kwargs):
    """A service's refusal, in the sync engine's terms (422 naming the field)."""
    return shapes.as_payload_errors(
        fn, *args, not_allowed="This pupil is not on your school's roll", **kwargs
    )


# ------------------------------------------------------------------ the school


def school_payload(school: Organisation) -> dict[str, Any]:
    facts = calendar.calendar_facts(school)
    return {
        "name": school.name,
        "urn": school.urn,
        "calendar": {
            "terms": [
                [t.starts_on.isoformat(), t.ends_on.isoformat(), t.name] for t in facts.terms
            ],
            "closures": [[c.on.isoformat(), c.reason] for c in facts.closures],
            "bank_holidays": [[d.isoformat(), name] for d, name in facts.bank_holidays],
        },
        # The school's words, the web form's: the tablet never has its own copy to drift.
        "codes": [{"code": NO_REASON_YET, "label": NO_REASON_YET_LABEL}]
        + [{"code": c, "label": label} for c, label in ATTENDANCE_CODES.items()],
        "opens_followup": sorted(c for c in ATTENDANCE_CODES if absences.opens_followup(c)),
        "attending": sorted(absences.ATTENDING),
        "contacts": [{"value": k, "label": v} for k, v in ENQUIRY_KIND_LABELS.items()],
        "closed_reasons": [{"value": k, "label": v} for k, v in CLOSED_REASON_LABELS.items()],
        "referred_to": [{"value": k, "label": v} for k, v in REFERRED_TO_LABELS.items()],
        "always_refer": [{"key": k, "question": q} for k, q in absences.ALWAYS_REFER.items()],
        "further_questions": [
            {"key": k, "question": q} for k, q in absences.FURTHER_QUESTIONS.items()
        ],
        "notifications": {k: v for k, v in NOTIFICATION_KIND_LABELS.items()},
        "timeline_kinds": list(absences.TIMELINE_KINDS),
    }


class SchoolHandler:
    record_type = "school"

    def __init__(self, device_id: str):
        self.device_id = device_id

    def _get(self, actor: User, record_id) -> Organisation | None:
        if actor.role != Role.DSL or str(record_id) != actor.organisation_id:
            return None
        school = db.session.get(Organisation, actor.organisation_id)
        return school if school is not None and school.kind == OrgKind.SCHOOL else None

    def validate(self, payload: dict) -> dict:
        raise PayloadError(None, "The school's calendar is kept on the web pages")

    def visible_ids(self, actor: User, after: str | None, limit: int) -> list[str]:
        # A DSL's tablet keeps their own school, and only it.
        school = self._get(actor, actor.organisation_id) if actor.organisation_id else None
        if school is None or (after is not None and school.id <= after) or limit < 1:
            return []
        return [school.id]

    def load(self, actor: User, record_id) -> RecordState | None:
        school = self._get(actor, record_id)
        if school is None:
            return None
        return RecordState(
            record_id=uuid.UUID(school.id), version=school.version, payload=school_payload(school)
        )

    def can_create(self, actor, record_id, payload) -> bool:
        return False

    def can_write(self, actor, state) -> bool:
        return False

    def write(self, actor, record_id, payload, new_version: int, *, create: bool):
        raise PayloadError(None, "The school's calendar is kept on the web pages")

    def delete(self, actor, state, new_version: int) -> None:
        raise PayloadError(None, "The school's calendar is kept on the web pages")

    def save_conflict(self, *args, **kwargs) -> None:  # never reached: nothing is written
        raise PayloadError(None, "The school's calendar is kept on the web pages")


# ------------------------------------------------------------------ the pupil


def _current_followups(children: list[Child]) -> dict[str, FollowUp]:
    """Each child's open follow-up at their school, else the latest (as the pupil's timeline
    page shows), with its enquiries and referrals: one query for them all, and one each for
    the enquiries and the referrals."""
    ids = [c.id for c in children]
    if not ids:
        return {}
    ranked = (
        select(
            FollowUp.id.label("id"),
            func.row_number()
            .over(
                partition_by=FollowUp.child_id,
                order_by=(
                    (FollowUp.status == FollowUpStatus.OPEN).desc(),
                    FollowUp.opened_on.desc(),
                    FollowUp.created_at.desc(),
                ),
            )
            .label("rank"),
        )
        .join(Child, Child.id == FollowUp.child_id)
        .where(FollowUp.child_id.in_(ids), FollowUp.school_id == Child.school_id)
        .subquery()
    )
    followups = db.session.scalars(
        select(FollowUp)
        .join(ranked, ranked.c.id == FollowUp.id)
        .where(ranked.c.rank == 1)
        .options(selectinload(FollowUp.enquiries), selectinload(FollowUp.referrals))
    ).all()
    return {f.child_id: f for f in followups}


def _notifications(followups: list[FollowUp]) -> dict[str, list[SchoolNotification]]:
    ids = [f.id for f in followups]
    found: dict[str, list[SchoolNotification]] = {i: [] for i in ids}
    if ids:
        for note in db.session.scalars(
            select(SchoolNotification)
            .where(SchoolNotification.followup_id.in_(ids))
            .order_by(SchoolNotification.sent_at)
        ):
            found[note.followup_id].append(note)
    return found


def followup_payload(
    followup: FollowUp, notes: list[SchoolNotification] | None = None
) -> dict[str, Any]:
    if notes is None:
        notes = _notifications([followup])[followup.id]
    return {
        "id": followup.id,
        "opened_on": followup.opened_on.isoformat(),
        "status": followup.status,
        "closed_reason": followup.closed_reason,
        "closed_on": _iso(deadlines.to_local(followup.closed_at).date())
        if followup.closed_at
        else None,
        "illness": followup.illness,
        "whereabouts_unknown": followup.whereabouts_unknown,
        "enquiries": [
            {
                "id": e.id,
                "at": _iso(e.at),
                "kind": e.kind,
                "outcome": e.outcome,
                "seen_safe": e.seen_safe,
            }
            for e in followup.enquiries
        ],
        "referrals": [
            {
                "id": r.id,
                "checked_at": _iso(r.checked_at),
                "any_yes": r.any_yes,
                "answers": r.answers,
                "referred_to": r.referred_to,
                "referred_at": _iso(r.referred_at),
                "reference": r.reference,
            }
            for r in followup.referrals
        ],
        # What the school has told the authority: kind -> when (the timeline's "done").
        "sent": {n.kind: _iso(n.sent_at) for n in notes},
    }


def pupil_payloads(children: list[Child]) -> dict[str, dict[str, Any]]:
    """The pupil records of these children, each as the tablet keeps it, in a fixed handful of
    queries however many children (a full pull's page of a school's pupils, not ~7 queries a
    pupil)."""
    ids = [c.id for c in children]
    if not ids:
        return {}
    # Each child's latest absent sessions at their school: numbered per child, newest first.
    ranked = (
        select(
            Absence.child_id,
            Absence.on,
            Absence.session,
            Absence.code,
            Absence.followup_id,
            func.row_number()
            .over(
                partition_by=Absence.child_id,
                order_by=(Absence.on.desc(), Absence.session.desc()),
            )
            .label("rank"),
        )
        .join(Child, Child.id == Absence.child_id)
        .where(Absence.child_id.in_(ids), Absence.school_id == Child.school_id)
        .subquery()
    )
    recent: dict[str, list] = {i: [] for i in ids}
    for child_id, on, session, code, followup_id, _rank in db.session.execute(
        select(ranked)
        .where(ranked.c.rank <= RECENT_ABSENCES)
        .order_by(ranked.c.child_id, ranked.c.rank)
    ):
        recent[child_id].append((on, session, code, followup_id))
    followups = _current_followups(children)
    notes = _notifications(list(followups.values()))
    missing = {
        e.child_id: e
        for e in db.session.scalars(
            select(Episode)
            .where(
                Episode.child_id.in_(ids),
                Episode.status == EpisodeStatus.MISSING,
                Episode.missing_from == "school",
            )
            .order_by(Episode.last_seen_at)
        )
    }
    return {
        c.id: _pupil_payload(c, recent[c.id], followups.get(c.id), notes, missing.get(c.id))
        for c in children
    }


def pupil_payload(child: Child) -> dict[str, Any]:
    return pupil_payloads([child])[child.id]


def _pupil_payload(
    child: Child,
    recent: list,
    followup: FollowUp | None,
    notes: dict[str, list[SchoolNotification]],
    missing: Episode | None,
) -> dict[str, Any]:
    return {
        "child": {
            "id": child.id,
            "first_name": child.first_name,
            "last_name": child.last_name,
            "date_of_birth": child.date_of_birth.isoformat(),
            "upn": child.upn,
            "year_group": child.year_group,
            "looked_after": child.looked_after,
            "legal_status": child.legal_status_label,
            "social_worker_told": absences.social_worker_told(child),
        },
        "checklist_defaults": absences.checklist_defaults(child),
        # Which follow-up each absent session belongs to: the tablet closes a follow-up on a
        # present code after that follow-up's last absence, as absences._back_after does.
        "absences": [
            {"on": on.isoformat(), "session": session, "code": code, "followup_id": followup_id}
            for on, session, code, followup_id in recent
        ],
        "followup": followup_payload(followup, notes[followup.id]) if followup else None,
        "missing": {"id": missing.id, "last_seen_at": _iso(missing.last_seen_at)}
        if missing
        else None,
    }


class PupilHandler:
    record_type = "pupil"

    def __init__(self, device_id: str):
        self.device_id = device_id
        self._prepared: dict[str, RecordState | None] = {}

    def validate(self, payload: dict) -> dict:
        raise PayloadError(None, "A pupil is changed through entries (an absence, an enquiry...)")

    def visible_ids(self, actor: User, after: str | None, limit: int) -> list[str]:
        """The school's pupils, in id order after `after` (a full pull's page)."""
        if actor.role != Role.DSL or not actor.organisation_id:
            return []
        query = (
            select(Child.id)
            .join(ChildProfile, ChildProfile.id == Child.id)
            .where(Child.school_id == actor.organisation_id)
        )
        if after is not None:
            query = query.where(Child.id > after)
        return list(db.session.scalars(query.order_by(Child.id).limit(limit)))

    def _states(self, actor: User, ids: list[str]) -> dict[str, RecordState]:
        if actor.role != Role.DSL or not ids:
            return {}
        rows = [
            (child, version)
            for child, version in db.session.execute(
                select(Child, ChildProfile.version)
                .join(ChildProfile, ChildProfile.id == Child.id)
                .where(Child.id.in_(ids), Child.school_id == actor.organisation_id)
            )
            if access.can_record_absence(actor, child)
        ]
        payloads = pupil_payloads([child for child, _ in rows])
        return {
            child.id: RecordState(
                record_id=uuid.UUID(child.id), version=version, payload=payloads[child.id]
            )
            for child, version in rows
        }

    def prepare(self, actor: User, record_ids, *, payloads: bool = True) -> None:
        """A page of pupils made at once (SqlStore calls this just before it loads them); each
        prepared state is given once, by the load that follows, so nothing stale outlives it.
        Made whole whatever `payloads` says: a push never writes a pupil (can_write)."""
        wanted = [str(i) for i in record_ids]
        self._prepared = {rid: None for rid in wanted} | self._states(actor, wanted)

    def load(self, actor: User, record_id) -> RecordState | None:
        key = str(record_id)
        if key in self._prepared:
            return self._prepared.pop(key)
        return self._states(actor, [key]).get(key)

    def can_create(self, actor, record_id, payload) -> bool:
        return False  # pupils are added on the web pages or imported from the MIS

    def can_write(self, actor, state) -> bool:
        return False

    def write(self, actor, record_id, payload, new_version: int, *, create: bool):
        raise PayloadError(None, "A pupil is changed through entries")

    def delete(self, actor, state, new_version: int) -> None:
        raise PayloadError(None, "A pupil is removed from the roll on the web pages")

    def save_conflict(self, *args, **kwargs) -> None:  # never reached: nothing is written
        raise PayloadError(None, "A pupil is changed through entries")


# ------------------------------------------------------------------ the tablet's entries

_TIME_KEYS = {"at", "referred_at", "last_seen_at", "reported_to_police_at"}
# What each action carries besides "action" and "child_id" (all optional at this layer: the
# services say what is missing, in the web form's words).
ACTIONS: dict[str, frozenset[str]] = {
    "absence": frozenset({"on", "sessions", "code"}),
    "enquiry": frozenset({"followup_id", "kind", "at", "outcome", "seen_safe"}),
    "checklist": frozenset({"followup_id", "answers"}),
    "referral": frozenset({"referral_id", "referred_to", "referred_at", "reference"}),
    "notify": frozenset({"followup_id", "milestone"}),
    "facts": frozenset({"followup_id", "illness", "whereabouts_unknown"}),
    "close": frozenset({"followup_id", "reason"}),
    "missing": frozenset(
        {"last_seen_at", "reported_to_police_at", "police_log_number", "circumstances", "report"}
    ),
    # A pupil added on the tablet: child_id is the tablet's id for the new pupil (the entry's).
    "pupil": frozenset({"first_name", "last_name", "date_of_birth", "sex", "upn", "year_group"}),
}
_PUPIL_FIELDS = ACTIONS["pupil"]


def _id(payload: dict, key: str, *, required: bool = True) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise PayloadError(key, "must be an id") from None


def _bool(payload: dict, key: str, *, required: bool = False) -> bool:
    if required and key not in payload:
        # The follow-up's facts are both sent: one left out must not quietly become "no".
        raise PayloadError(key, "must be sent, true or false")
    value = payload.get(key, False)
    if not isinstance(value, bool):
        raise PayloadError(key, "must be true or false")
    return value


def _strings(payload: dict, key: str, allowed: tuple[str, ...] | None = None) -> dict[str, str]:
    value = payload.get(key) or {}
    if not isinstance(value, dict):
        raise PayloadError(key, "must be an object")
    for name, text in value.items():
        if allowed is not None and name not in allowed:
            raise PayloadError(f"{key}.{name}", "cannot be sent")
        if not isinstance(text, str):
            raise PayloadError(f"{key}.{name}", "must be text")
    return dict(value)


def _check_entry(payload: dict) -> dict[str, Any]:
    """The entry's shape (types, known keys, ids, dates, times with offsets); what its values
    may be is the services' rule, answered in the web form's words."""
    action = payload.get("action")
    if action not in ACTIONS:
        raise PayloadError("action", f"must be one of {', '.join(ACTIONS)}")
    extra = set(payload) - ACTIONS[action] - {"action", "child_id"}
    if extra:
        raise PayloadError(sorted(extra)[0], f"cannot be sent with {action}")
    out: dict[str, Any] = {"action": action, "child_id": _id(payload, "child_id")}
    for key in ACTIONS[action]:
        if key.endswith("_id"):
            out[key] = _id(payload, key, required=key == "referral_id")
        elif key in _TIME_KEYS:
            out[key] = shapes.time(payload, key)
        elif key in {"seen_safe", "illness", "whereabouts_unknown"}:
            out[key] = _bool(payload, key, required=action == "facts")
        elif key == "answers":
            out[key] = _strings(payload, key)
        elif key == "report":
            out[key] = _strings(payload, key, REPORT_FIELDS)
        elif key == "sessions":
            sessions = payload.get("sessions")
            if not isinstance(sessions, list) or not all(isinstance(s, str) for s in sessions):
                raise PayloadError("sessions", "must be a list of sessions (am, pm)")
            out[key] = sessions
        elif key in _PUPIL_FIELDS:
            out[key] = shapes.text(payload, key) or ""
        elif key == "on":
            try:
                out[key] = date.fromisoformat(payload["on"]) if payload.get("on") else None
            except (TypeError, ValueError):
                raise PayloadError("on", "must be a date (YYYY-MM-DD)") from None
        else:
            out[key] = shapes.text(payload, key)
    return out


class EntryHandler:
    record_type = "school_entry"

    def __init__(self, device_id: str):
        self.device_id = device_id

    def validate(self, payload: dict) -> dict:
        return _check_entry(payload)

    def visible_ids(self, actor, after, limit) -> list[str]:
        return []  # never sent back (see load)

    def load(self, actor, record_id) -> RecordState | None:
        # Never sent back: the entry's effect is in the pupil's record. A resend of the same
        # change is answered from the mutation log; a second copy is refused by can_create.
        return None

    def _pupil(self, actor: User, child_id: str) -> Child | None:
        child = db.session.scalar(access.children_query(actor).where(Child.id == child_id))
        if child is None:
            # A pupil added on the tablet who turned out to be a child already known here (no
            # UPN yet): the tablet's id for them still finds them.
            added = db.session.scalar(
                select(SchoolEntry.child_id).where(
                    SchoolEntry.id == child_id,
                    SchoolEntry.action == "pupil",
                    SchoolEntry.school_id == actor.organisation_id,
                )
            )
            if added is not None:
                child = db.session.scalar(access.children_query(actor).where(Child.id == added))
        return child if child is not None and access.can_record_absence(actor, child) else None

    def can_create(self, actor: User, record_id, payload) -> bool:
        if db.session.get(SchoolEntry, str(record_id)) is not None:
            return False
        if payload.get("action") == "pupil":
            # A new pupil of the DSL's own school, under an id nobody has.
            return (
                actor.role == Role.DSL
                and payload.get("child_id") == str(record_id)
                and db.session.get(Child, str(record_id)) is None
            )
        return self._pupil(actor, payload.get("child_id")) is not None

    def can_write(self, actor, state) -> bool:
        return False  # an entry is made once; a correction is a new entry

    def write(self, actor: User, record_id, payload, new_version: int, *, create: bool):
        entry_id = str(record_id)
        if create and payload["action"] == "pupil":
            data = {key: payload[key] for key in _PUPIL_FIELDS}
            child = _refusal(pupils.add_pupil, actor, data, child_id=entry_id)
        else:
            child = self._pupil(actor, payload["child_id"])
            if not create or child is None:
                raise PayloadError("child_id", "This pupil is not on your school's roll")
            _APPLY[payload["action"]](actor, child, payload, entry_id)
        db.session.add(
            SchoolEntry(
                id=entry_id,
                action=payload["action"],
                child_id=child.id,
                school_id=child.school_id,
                user_id=actor.id,
                device_id=str(self.device_id) if self.device_id else None,
            )
        )
        _refusal(db.session.flush)
        return 1

    def delete(self, actor, state, new_version: int) -> None:
        raise PayloadError(None, "An entry cannot be deleted: record a correction instead")

    def save_conflict(self, *args, **kwargs) -> None:  # never reached: entries are created once
        raise PayloadError(None, "An entry is made once")


def _followup(actor: User, child: Child, followup_id: str | None) -> FollowUp:
    """The follow-up an entry is about: the one named (made on the server, seen on the tablet)
    or, when the tablet opened it itself with no signal, the pupil's open one."""
    if followup_id is not None:
        followup = db.session.get(FollowUp, followup_id)
        if followup is None or followup.child_id != child.id:
            raise PayloadError("followup_id", "This follow-up is not this pupil's")
        return followup
    followup = absences._open_followup(child)
    if followup is None:
        raise PayloadError(
            None, "This pupil has no open follow-up: record the absence first, or it has closed"
        )
    return followup


def _absence(actor, child, p, entry_id) -> None:
    _refusal(absences.record_absence, actor, child, p["on"], p["sessions"], p["code"])


def _enquiry(actor, child, p, entry_id) -> None:
    followup = _followup(actor, child, p["followup_id"])
    data = {k: p[k] for k in ("kind", "at", "outcome", "seen_safe")}
    _refusal(absences.log_enquiry, actor, followup, data, enquiry_id=entry_id)


def _checklist(actor, child, p, entry_id) -> None:
    followup = _followup(actor, child, p["followup_id"])
    _refusal(absences.answer_checklist, actor, followup, p["answers"], referral_id=entry_id)


def _referral(actor, child, p, entry_id) -> None:
    referral = db.session.get(Referral, p["referral_id"])
    if referral is None or referral.followup.child_id != child.id:
        raise PayloadError("referral_id", "This checklist is not this pupil's")
    data = {k: p[k] for k in ("referred_to", "referred_at", "reference")}
    _refusal(absences.record_referral, actor, referral, data)


def _notify(actor, child, p, entry_id) -> None:
    followup = _followup(actor, child, p["followup_id"])
    _refusal(absences.notify, actor, followup, p["milestone"])


def _facts(actor, child, p, entry_id) -> None:
    followup = _followup(actor, child, p["followup_id"])
    _refusal(
        absences.set_followup_facts,
        actor,
        followup,
        illness=p["illness"],
        whereabouts_unknown=p["whereabouts_unknown"],
    )


def _close(actor, child, p, entry_id) -> None:
    followup = _followup(actor, child, p["followup_id"])
    _refusal(absences.close_followup, actor, followup, p["reason"])


def _missing(actor, child, p, entry_id) -> None:
    data = {
        "last_seen_at": p["last_seen_at"],
        "reported_to_police_at": p["reported_to_police_at"],
        "police_log_number": p["police_log_number"],
        "circumstances": p["circumstances"],
        "report": p["report"],
        # The tablet's id: the episode is the same record however often it is sent.
        "episode_id": entry_id,
    }
    _refusal(absences.report_missing_in_school_day, actor, child, data)


_APPLY = {
    "absence": _absence,
    "enquiry": _enquiry,
    "checklist": _checklist,
    "referral": _referral,
    "notify": _notify,
    "facts": _facts,
    "close": _close,
    "missing": _missing,
}


# ------------------------------------------------------------------ what a change shows


def _same_ids(conn, ids: set[str]) -> set[str]:
    return set(ids)


def _by_child(model):
    def find(conn, ids: set[str]) -> set[str]:
        return set(conn.scalars(select(model.child_id).where(model.id.in_(ids))))

    return find


def _by_followup(model):
    def find(conn, ids: set[str]) -> set[str]:
        return set(
            conn.scalars(
                select(FollowUp.child_id)
                .join(model, model.followup_id == FollowUp.id)
                .where(model.id.in_(ids))
            )
        )

    return find


SCHOOL_RECORD = RecordType(
    name="school",
    handler=SchoolHandler,
    model=Organisation,
    roles=frozenset({Role.DSL}),
)

PUPIL_RECORD = RecordType(
    name="pupil",
    handler=PupilHandler,
    model=ChildProfile,
    shows={
        Child: _same_ids,
        Absence: _by_child(Absence),
        FollowUp: _by_child(FollowUp),
        SchoolNotification: _by_child(SchoolNotification),
        Enquiry: _by_followup(Enquiry),
        Referral: _by_followup(Referral),
        Episode: _by_child(Episode),
    },
    # Of an episode only whether it is open: the police details a manager types are not the
    # school's, and must not send every pupil record again.
    shows_only={Episode: ("status",)},
    roles=frozenset({Role.DSL}),
)

ENTRY_RECORD = RecordType(
    name="school_entry",
    handler=EntryHandler,
    model=SchoolEntry,
    roles=frozenset({Role.DSL}),
)
