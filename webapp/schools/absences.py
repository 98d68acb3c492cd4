"""The DSL's absence work: absences and the register follow-up, enquiries, the always-refer
checklist and its referral, the school's notifications, a pupil missing during the school day,
and the pupil's timeline counted in school days.

Only the designated safeguarding lead of the pupil's own school acts here (access.
can_record_absence); anything else is answered as if it did not exist. Every read and change is
audited (ids and field names, never values); what a person writes is sealed on the models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from webapp import access, audit, deadlines, uow
from webapp.accounts.models import Organisation, User
from webapp.children.models import Child, LegalStatus
from webapp.db_types import new_id, utcnow
from webapp.episodes import service as episodes
from webapp.episodes.models import Episode, ReportedType
from webapp.errors import NotFound, RuleError
from webapp.extensions import db
from webapp.schools import days
from webapp.schools.absence_models import (
    ATTENDANCE_CODES,
    CLOSED_REASON_LABELS,
    ENQUIRY_KIND_LABELS,
    NO_REASON_YET,
    PRESENT,
    REFERRED_TO_LABELS,
    UNAUTHORISED,
    Absence,
    Enquiry,
    FollowUp,
    FollowUpStatus,
    Referral,
    SchoolNotification,
    Session,
)

CLOCK_SKEW = timedelta(minutes=5)
MAX_OUTCOME = 2000
MAX_REFERENCE = 60
MAX_NOTES = 2000
# An absence recorded late is normal (the register is followed up in the morning); one from
# before this is a typing slip, not a follow-up.
OLDEST_ABSENCE = timedelta(days=366)

# The always-refer conditions (Kent; ../shared/DOMAIN.md): any yes means refer today.
ALWAYS_REFER = {
    "victim_of_crime": "May they be the victim of a crime?",
    "cp_plan": "Are they on a child protection plan?",
    "s47": "Are they the subject of section 47 enquiries?",
    "looked_after": "Are they looked after?",
    "risk_in_household": "Is a person posing a risk to children in, or in contact with, "
    "the household?",
    "moves_frequently": "Does the family move frequently?",
    "serious_attendance": "Are there serious attendance issues?",
}
# Further questions that help the judgement: optional prompts, not triggers on their own.
FURTHER_QUESTIONS = {
    "age_range": "Is their age a concern (very young, or older and vulnerable)?",
    "sudden_behaviour": "Has their behaviour changed suddenly?",
    "older_associates": "Do they have older associates?",
    "incident_before": "Was there an incident before the absence?",
    "bullying": "Have they been bullied?",
    "health_medication": "Do they have health needs or take medication?",
    "depression": "Have they shown signs of depression?",
    "forced_marriage": "Is there a risk of forced marriage or rites of passage?",
    "disability_sen": "Do they have a disability or special educational needs?",
    "past_concerns": "Have there been concerns in the past?",
    "drugs_alcohol_domestic_abuse": "Is there a history of drug or alcohol misuse or "
    "domestic abuse?",
    "parents_protect": "Is there doubt about the parents' ability to protect them?",
}
ANSWERS = ("yes", "no")

# What the school records telling the authority from the timeline's buttons (the other two kinds
# are recorded by the referral and the missing report).
TIMELINE_KINDS = ("ews_day3", "notify_day10", "illness_day15", "joint_enquiries_day20")
# On the child's record: looked after or on a plan, so the social worker is told at once.
SOCIAL_WORKER_TOLD = frozenset(
    {LegalStatus.LOOKED_AFTER, LegalStatus.CP_PLAN, LegalStatus.CHILD_IN_NEED, LegalStatus.S47}
)


def today() -> date:
    """The UK date now: school days are UK days."""
    return deadlines.to_local(utcnow()).date()


# The 2024 codes that count as attending (present) for the session: in school (/ \ L) or at an
# approved educational activity away from the school (K V P W B). D (dual registered, at another
# school) is not a session of this school, so it does not say the pupil is back here.
ATTENDING = PRESENT | {"K", "V", "P", "W", "B"}


def opens_followup(code: str) -> bool:
    """Unauthorised absence, or no reason yet: the safeguarding follow-up starts."""
    return code == NO_REASON_YET or code in UNAUTHORISED


# ---------------------------------------------------------------- access


def read_pupil(user: User, child_id: str) -> Child:
    """The pupil, for their own school's DSL only (NotFound for everyone else), audited."""
    child = access.get_child_or_404(user, child_id)
    if not access.can_record_absence(user, child):
        raise NotFound
    audit.record("view", "child", child.id, child_id=child.id, detail="school")
    uow.commit()
    return child


def _followup_or_404(user: User, followup_id: str) -> FollowUp:
    followup = db.session.get(FollowUp, followup_id)
    if (
        followup is None
        or followup.school_id != user.organisation_id
        or not access.can_record_absence(user, followup.child)
    ):
        raise NotFound
    return followup


def read_followup(user: User, followup_id: str) -> FollowUp:
    followup = _followup_or_404(user, followup_id)
    audit.record("view", "school_followup", followup.id, child_id=followup.child_id)
    uow.commit()
    return followup


def read_referral(user: User, referral_id: str) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        raise NotFound
    _followup_or_404(user, referral.followup_id)
    audit.record("view", "school_referral", referral.id, child_id=referral.followup.child_id)
    uow.commit()
    return referral


def school_pupils(user: User) -> list[Child]:
    """The DSL's school's pupils, for the register screen (audited as a list)."""
    pupils = db.session.scalars(
        access.children_query(user)
        .where(Child.school_id == user.organisation_id)
        .order_by(Child.last_name, Child.first_name)
    ).all()
    audit.record("list", "child", None, detail=f"register: {len(pupils)} pupils")
    uow.commit()
    return list(pupils)


# ---------------------------------------------------------------- absences


def _check_absence(on, sessions: Iterable[str], code) -> tuple[date, list[str], str]:
    if not isinstance(on, date):
        raise RuleError("on", "Enter the date of the absence")
    if on > today():
        raise RuleError("on", "The date of the absence must be today or in the past")
    if on < today() - OLDEST_ABSENCE:
        raise RuleError("on", "The date of the absence must be within the last year")
    sessions = sorted(set(sessions or ()))
    if not sessions or any(s not in (Session.AM, Session.PM) for s in sessions):
        raise RuleError("sessions", "Choose the morning, the afternoon or both")
    code = code or NO_REASON_YET
    if code != NO_REASON_YET and code not in ATTENDANCE_CODES:
        raise RuleError("code", "Choose an attendance code")
    return on, sessions, code


def _open_followup(child: Child) -> FollowUp | None:
    return db.session.scalar(
        select(FollowUp).where(
            FollowUp.child_id == child.id,
            FollowUp.school_id == child.school_id,
            FollowUp.status == FollowUpStatus.OPEN,
        )
    )


def _record(user: User, child: Child, on: date, sessions: list[str], code: str) -> list[Absence]:
    """Save the sessions (over what was recorded for them before); join or open a follow-up."""
    followup = _open_followup(child)
    if opens_followup(code):
        if followup is None:
            followup = FollowUp(
                id=new_id(), child_id=child.id, school_id=child.school_id, opened_on=on
            )
            db.session.add(followup)
            db.session.flush()
            audit.record("create", "school_followup", followup.id, child_id=child.id)
        elif on < followup.opened_on:
            # Recorded late: the school days count from the first day absent.
            followup.opened_on = on
    saved = []
    for session in sessions:
        absence = db.session.scalar(
            select(Absence).where(
                Absence.child_id == child.id, Absence.on == on, Absence.session == session
            )
        )
        action = "update"
        if absence is None:
            absence = Absence(id=new_id(), child_id=child.id, on=on, session=session)
            db.session.add(absence)
            action = "create"
        absence.school_id = child.school_id
        absence.code = code
        absence.recorded_by_id = user.id
        absence.recorded_at = utcnow()
        if opens_followup(code):
            absence.followup_id = followup.id
        elif followup is not None and absence.followup_id == followup.id:
            absence.followup_id = None  # now explained: no longer part of the follow-up
        db.session.flush()
        audit.record(action, "school_absence", absence.id, child_id=child.id, detail="code")
        saved.append(absence)
    if code in ATTENDING and followup is not None and _back_after(followup, on, sessions):
        _close(followup, "returned")
        audit.record("close", "school_followup", followup.id, child_id=child.id, detail="returned")
    return saved


def _back_after(followup: FollowUp, on: date, sessions: list[str]) -> bool:
    """Present after the follow-up's last absent session: the pupil is back in school. Present
    at an earlier session (the register corrected, a late entry for before the absence) says
    nothing about now, so the follow-up stays open."""
    last = db.session.execute(
        select(Absence.on, Absence.session)
        .where(Absence.followup_id == followup.id)
        .order_by(Absence.on.desc(), Absence.session.desc())
        .limit(1)
    ).first()
    # "am" sorts before "pm": a session is (date, session) in register order.
    if on < followup.opened_on:
        return False
    return last is None or (on, max(sessions)) > (last.on, last.session)


def record_absence(
    user: User, child: Child, on, sessions: Iterable[str], code: str | None
) -> list[Absence]:
    """The DSL records a pupil absent for a date's morning, afternoon or both, with its 2024
    code ("" for no reason yet). Unauthorised codes and no reason yet open a follow-up (or join
    the pupil's open one)."""
    if not access.can_record_absence(user, child):
        raise NotFound
    on, sessions, code = _check_absence(on, sessions, code)
    saved = _record(user, child, on, sessions, code)
    uow.commit()
    return saved


class RegisterErrors(RuleError):
    """Some rows of the register could not be saved (nothing was): the message per pupil."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(None, "Some pupils' absences could not be saved")
        self.errors = errors


def register_codes(user: User, on: date, session: str) -> dict[str, str]:
    """What the register already says for each pupil on that date and session."""
    rows = db.session.execute(
        select(Absence.child_id, Absence.code).where(
            Absence.school_id == user.organisation_id, Absence.on == on, Absence.session == session
        )
    ).all()
    return {child_id: code for child_id, code in rows}


def record_register(user: User, on, sessions: Iterable[str], codes: Mapping[str, str | None]):
    """The morning register follow-up: several pupils' absences saved in one go. `codes` maps a
    pupil's id to their code ("" no reason yet; None: nothing to record). Every row is checked
    first; if any is refused nothing is saved (RegisterErrors names each row)."""
    on_checked, sessions_checked, _ = _check_absence(on, sessions, NO_REASON_YET)
    pupils = {c.id: c for c in db.session.scalars(access.children_query(user))}
    errors: dict[str, str] = {}
    wanted: list[tuple[Child, str]] = []
    for child_id, code in codes.items():
        if code is None:
            continue
        child = pupils.get(child_id)
        if child is None or not access.can_record_absence(user, child):
            raise NotFound  # not a pupil of this school: never says whose
        if code != NO_REASON_YET and code not in ATTENDANCE_CODES:
            errors[child_id] = "Choose an attendance code"
            continue
        wanted.append((child, code))
    if errors:
        raise RegisterErrors(errors)
    saved = []
    for child, code in wanted:
        saved += _record(user, child, on_checked, sessions_checked, code)
    uow.commit()
    return saved


# ---------------------------------------------------------------- follow-ups and enquiries


def _require_open(followup: FollowUp) -> None:
    if not followup.is_open:
        raise RuleError(None, "This follow-up is closed")


def _text(field_name: str, value, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RuleError(field_name, "Enter text")
    value = value.strip()
    if len(value) > limit:
        raise RuleError(field_name, f"Enter {limit:,} characters or fewer")
    return value or None


def _when(field_name: str, value, label: str, not_before: date | None = None) -> datetime:
    if not isinstance(value, datetime):
        raise RuleError(field_name, f"Enter {label}")
    value = deadlines.ensure_utc(value)
    if value > utcnow() + CLOCK_SKEW:
        raise RuleError(field_name, f"{label[0].upper()}{label[1:]} must be in the past")
    if not_before and deadlines.to_local(value).date() < not_before:
        raise RuleError(
            field_name, f"{label[0].upper()}{label[1:]} must be after the absence began"
        )
    return value


def _close(followup: FollowUp, reason: str) -> None:
    followup.status = FollowUpStatus.CLOSED
    followup.closed_reason = reason
    followup.closed_at = utcnow()


def log_enquiry(
    user: User, followup: FollowUp, data: Mapping, *, enquiry_id: str | None = None
) -> Enquiry:
    """One reasonable enquiry: the kind of contact, when, and what came of it (sealed). "Seen
    safe" closes the follow-up. `enquiry_id`: the tablet's own id (webapp/schools/sync.py)."""
    _followup_or_404(user, followup.id)
    _require_open(followup)
    kind = data.get("kind")
    if kind not in ENQUIRY_KIND_LABELS:
        raise RuleError("kind", "Choose the kind of contact")
    at = _when("at", data.get("at"), "when it was made", followup.opened_on)
    outcome = _text("outcome", data.get("outcome"), MAX_OUTCOME)
    if outcome is None:
        raise RuleError("outcome", "Enter what came of it")
    enquiry = Enquiry(id=enquiry_id or new_id(), followup_id=followup.id, at=at, kind=kind)
    enquiry.outcome = outcome
    enquiry.seen_safe = bool(data.get("seen_safe"))
    enquiry.recorded_by_id = user.id
    db.session.add(enquiry)
    if enquiry.seen_safe:
        _close(followup, "seen_safe")
    db.session.flush()
    audit.record("create", "school_enquiry", enquiry.id, child_id=followup.child_id)
    uow.commit()
    return enquiry


def close_followup(user: User, followup: FollowUp, reason: str) -> FollowUp:
    """Back in school, removed from roll (after the joint enquiries), or another reason."""
    _followup_or_404(user, followup.id)
    _require_open(followup)
    if reason not in CLOSED_REASON_LABELS:
        raise RuleError("reason", "Choose why the follow-up ends")
    _close(followup, reason)
    audit.record("close", "school_followup", followup.id, child_id=followup.child_id)
    uow.commit()
    return followup


def set_followup_facts(
    user: User, followup: FollowUp, *, illness: bool, whereabouts_unknown: bool
) -> FollowUp:
    """Which milestones apply: illness expected to reach 15 days (the sickness return instead of
    the 10-day notification), and whether the pupil's whereabouts are known."""
    _followup_or_404(user, followup.id)
    _require_open(followup)
    followup.illness = bool(illness)
    followup.whereabouts_unknown = bool(whereabouts_unknown)
    audit.record(
        "update",
        "school_followup",
        followup.id,
        child_id=followup.child_id,
        detail="illness,whereabouts_unknown",
    )
    uow.commit()
    return followup


# ---------------------------------------------------------------- the always-refer checklist


def checklist_defaults(child: Child) -> dict[str, str]:
    """What the child's record already says (looked after, a plan, s47): answered yes."""
    answers = {}
    if child.looked_after or child.legal_status == LegalStatus.LOOKED_AFTER:
        answers["looked_after"] = "yes"
    if child.legal_status == LegalStatus.CP_PLAN:
        answers["cp_plan"] = "yes"
    if child.legal_status == LegalStatus.S47:
        answers["s47"] = "yes"
    return answers


def answer_checklist(
    user: User, followup: FollowUp, answers: Mapping, *, referral_id: str | None = None
) -> Referral:
    """The always-refer checklist, answered: each condition yes or no, the further questions
    optional, a note (all sealed). Any yes: a referral is due today (record_referral).
    `referral_id`: the tablet's own id, so its referral can be recorded before a sync."""
    _followup_or_404(user, followup.id)
    _require_open(followup)
    clean: dict[str, str] = {}
    for key in ALWAYS_REFER:
        value = answers.get(key)
        if value not in ANSWERS:
            raise RuleError(key, "Answer yes or no")
        clean[key] = value
    for key in FURTHER_QUESTIONS:
        value = answers.get(key) or ""
        if value not in (*ANSWERS, ""):
            raise RuleError(key, "Answer yes or no, or leave it")
        if value:
            clean[key] = value
    notes = _text("notes", answers.get("notes"), MAX_NOTES)
    if notes:
        clean["notes"] = notes
    referral = Referral(id=referral_id or new_id(), followup_id=followup.id, recorded_by_id=user.id)
    referral.answers = clean
    referral.any_yes = any(clean[key] == "yes" for key in ALWAYS_REFER)
    referral.checked_at = utcnow()
    db.session.add(referral)
    db.session.flush()
    audit.record(
        "create", "school_referral", referral.id, child_id=followup.child_id, detail="answers"
    )
    uow.commit()
    return referral


def social_worker_told(child: Child) -> bool:
    """Looked after or on a plan: the child's social worker is told of the referral at once."""
    return bool(child.looked_after or child.legal_status in SOCIAL_WORKER_TOLD)


def record_referral(user: User, referral: Referral, data: Mapping) -> Referral:
    """To whom (children's social care or the police), when, and their reference (sealed). The
    authority is told through a "referral" notification (part J's worklist, which reminds the
    child's social worker when the child is looked after or on a plan)."""
    followup = _followup_or_404(user, referral.followup_id)
    if not referral.any_yes:
        raise RuleError(None, "No answer on the checklist calls for a referral")
    if referral.referred_at is not None:
        raise RuleError(None, "This referral is already recorded")
    referred_to = data.get("referred_to")
    if referred_to not in REFERRED_TO_LABELS:
        raise RuleError("referred_to", "Choose children's social care or the police")
    referred_at = _when("referred_at", data.get("referred_at"), "when you referred")
    reference = _text("reference", data.get("reference"), MAX_REFERENCE)
    referral.referred_to = referred_to
    referral.referred_at = referred_at
    referral.reference = reference
    referral.recorded_by_id = user.id
    _notify(user, followup.child, followup, "referral", sent_at=referred_at)
    audit.record(
        "update",
        "school_referral",
        referral.id,
        child_id=followup.child_id,
        detail="referred_to,referred_at,reference",
    )
    uow.commit()
    return referral


# ---------------------------------------------------------------- notifications


def _notify(
    user: User,
    child: Child,
    followup: FollowUp | None,
    kind: str,
    *,
    sent_at: datetime | None = None,
    episode: Episode | None = None,
) -> SchoolNotification:
    note = SchoolNotification(
        id=new_id(),
        child_id=child.id,
        school_id=child.school_id,
        followup_id=followup.id if followup else None,
        kind=kind,
        episode_id=episode.id if episode else None,
        sent_at=sent_at or utcnow(),
        sent_by_id=user.id,
    )
    db.session.add(note)
    db.session.flush()
    audit.record("create", "school_notification", note.id, child_id=child.id, detail=kind)
    return note


def notify(user: User, followup: FollowUp, kind: str) -> SchoolNotification:
    """What the school has told (or done for) the authority at a milestone: the Education
    Welfare Service contacted, the 10-day notification, the sickness return, the 20-day
    notification for joint enquiries. Each once per follow-up."""
    _followup_or_404(user, followup.id)
    if kind not in TIMELINE_KINDS:
        raise RuleError("kind", "Choose what was sent")
    if db.session.scalar(
        select(SchoolNotification.id).where(
            SchoolNotification.followup_id == followup.id, SchoolNotification.kind == kind
        )
    ):
        raise RuleError("kind", "This is already recorded")
    if kind == "illness_day15" and not followup.illness:
        followup.illness = True  # a sickness return says the illness is expected to last
    note = _notify(user, followup.child, followup, kind)
    uow.commit()
    return note


# ---------------------------------------------------------------- missing in the school day


def report_missing_in_school_day(user: User, child: Child, data: Mapping) -> Episode:
    """The pupil went missing during the school day: an episode missing from school (the same
    deadlines and reminders as any other, and the authority sees it at once) with the details
    police ask for, and a "missing_in_school_day" notification. One transaction."""
    if not access.can_record_absence(user, child):
        raise NotFound
    given = dict(data)
    given["reported_type"] = ReportedType.MISSING.value
    given["missing_from"] = "school"
    with uow.batch():
        episode = episodes.report_missing(user, child, given)
        _notify(user, child, _open_followup(child), "missing_in_school_day", episode=episode)
    return episode


# ---------------------------------------------------------------- the pupil's timeline


def calendar_for(school: Organisation | None) -> days.SchoolCalendar:
    """The school's calendar (part G's service), or England's weekdays without bank holidays
    while the school has none: a deadline then falls earlier, never later."""
    try:
        from webapp.schools.calendar import calendar_for as school_calendar
    except ImportError:  # part G's service not there yet
        school_calendar = None
    if school is not None and school_calendar is not None:
        return school_calendar(school)
    year = today().year
    return days.SchoolCalendar(
        terms=(), bank_holidays=days.england_bank_holidays(range(year - 1, year + 2))
    )


@dataclass
class Timeline:
    child: Child
    followup: FollowUp | None
    milestones: list[days.Milestone] = field(default_factory=list)
    day_number: int = 0
    absences: list[Absence] = field(default_factory=list)
    enquiries: list[Enquiry] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    notifications: list[SchoolNotification] = field(default_factory=list)
    earlier: list[FollowUp] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)


def done_codes(followup: FollowUp, notes: Iterable[SchoolNotification]) -> set[str]:
    """Which milestones are done: day 1 by any enquiry, the others by their notification."""
    done = {n.kind for n in notes if n.kind in days.MILESTONES}
    if followup.enquiries:
        done.add("contact_day1")
    return done


def pupil_timeline(user: User, child: Child, followup_id: str | None = None) -> Timeline:
    """The pupil's follow-up (the open one, else the latest, or the one asked for) with its
    milestones counted in the school's days, each due date and whether done; audited."""
    if not access.can_record_absence(user, child):
        raise NotFound
    followups = list(
        db.session.scalars(
            select(FollowUp)
            .where(FollowUp.child_id == child.id, FollowUp.school_id == user.organisation_id)
            .order_by(FollowUp.opened_on.desc(), FollowUp.created_at.desc())
        )
    )
    current = next((f for f in followups if f.id == followup_id), None) if followup_id else None
    if followup_id and current is None:
        raise NotFound
    current = (
        current
        or next((f for f in followups if f.is_open), None)
        or (followups[0] if followups else None)
    )
    result = Timeline(
        child=child, followup=current, earlier=[f for f in followups if f is not current]
    )
    if current is not None:
        result.notifications = list(
            db.session.scalars(
                select(SchoolNotification)
                .where(SchoolNotification.followup_id == current.id)
                .order_by(SchoolNotification.sent_at)
            )
        )
        result.sent = {n.kind for n in result.notifications}
        cal = calendar_for(child.school)
        end = deadlines.to_local(current.closed_at).date() if current.closed_at else today()
        result.milestones = days.timeline(
            current.opened_on,
            cal,
            end,
            illness=current.illness,
            whereabouts_unknown=current.whereabouts_unknown,
            done=done_codes(current, result.notifications),
        )
        result.day_number = days.school_day_number(current.opened_on, cal, end)
        result.absences = list(
            db.session.scalars(
                select(Absence)
                .where(Absence.followup_id == current.id)
                .order_by(Absence.on, Absence.session)
            )
        )
        result.enquiries = list(current.enquiries)
        result.referrals = list(current.referrals)
        audit.record("view", "school_followup", current.id, child_id=child.id, detail="timeline")
    else:
        audit.record("view", "child", child.id, child_id=child.id, detail="school timeline")
    uow.commit()
    return result


def recent_absences(child: Child, limit: int = 20) -> list[Absence]:
    return list(
        db.session.scalars(
            select(Absence)
            .where(Absence.child_id == child.id, Absence.school_id == child.school_id)
            .order_by(Absence.on.desc(), Absence.session.desc())
            .limit(limit)
        )
    )
