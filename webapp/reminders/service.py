"""Reminders kept in step with the facts, and the notification centre that shows them.

The schedule itself (who, when, what words) is the pure module `schedule.py`. This module turns
the database's facts into its inputs, and writes its answer: pending reminders that are no longer
wanted are cancelled, changed ones re-timed, new ones queued; one already sent is never queued
again. `hooks.py` calls `refresh` for every interview and episode a transaction touched, so a web
form, a sync push and the demo loader all keep reminders right the same way.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import func, or_, select

from webapp import access, audit, uow
from webapp.accounts.models import Organisation, Role, User
from webapp.carers import plans
from webapp.carers.models import RiskPlan
from webapp.children import service as children
from webapp.children.models import Child
from webapp.db_types import new_id, utcnow
from webapp.episodes.models import Episode, EpisodeStatus, EscalationAction
from webapp.errors import NotAllowed, NotFound
from webapp.extensions import db
from webapp.interviews import workflow
from webapp.interviews.models import Interview, interview_episodes
from webapp.reminders import schedule
from webapp.reminders.models import Reminder, ReminderStatus
from webapp.schools import calendar as school_calendar
from webapp.schools import cme, days
from webapp.schools.absence_models import (
    FollowUp,
    FollowUpStatus,
    Referral,
    SchoolNotification,
)
from webapp.schools.absences import social_worker_told

# Submitted or authorised: nothing more for the worker to do. Sent back is open again.
TEST_KIND = "test"
APPOINTMENT_KINDS = ("rhi_arranged", "rhi_appointment")


def settings() -> schedule.ReminderSettings:
    if has_app_context():
        return current_app.config["HOMEWARD_REMINDERS"]
    return schedule.DEFAULT_SETTINGS


def _managers(authority_ids: set[str], role: str = Role.MANAGER) -> tuple[str, ...]:
    """Active managers (or, with `role`, senior managers) of these local authorities, directly
    or through a team."""
    if not authority_ids:
        return ()
    rows = db.session.scalars(
        select(User.id)
        .join(Organisation, User.organisation_id == Organisation.id)
        .where(
            User.role == role,
            User.active.is_(True),
            or_(
                Organisation.id.in_(authority_ids),
                Organisation.parent_id.in_(authority_ids),
            ),
        )
        .order_by(User.id)
    )
    return tuple(rows)


def interview_facts(interview: Interview) -> schedule.InterviewFacts | None:
    returns = [e.returned_at for e in interview.episodes if e.returned_at]
    if not returns:
        return None
    child = interview.child
    return schedule.InterviewFacts(
        id=interview.id,
        returned_at=min(returns),
        due_at=interview.due_at,
        allocated_to=interview.allocated_to_id,
        allocated_at=interview.allocated_at if interview.allocated_to_id else None,
        manager_ids=_managers({child.responsible_authority_id}),
        done=interview.status in workflow.DONE_STATUSES,
        appointment_at=interview.appointment_at,
        # An appointment written without its arrangement time (an old row, a loader) counts as
        # arranged when the interview last changed.
        appointment_arranged_at=(interview.appointment_arranged_at or interview.updated_at)
        if interview.appointment_at
        else None,
        carer_id=child.carer_id,
    )


def _covering_interview(episode: Episode) -> Interview | None:
    return db.session.scalar(
        select(Interview)
        .join(interview_episodes, interview_episodes.c.interview_id == Interview.id)
        .where(interview_episodes.c.episode_id == episode.id)
    )


def episode_facts(episode: Episode) -> schedule.EpisodeReminderFacts:
    child = episode.child
    # Both authorities must know about a child placed out of area going missing, and that a
    # return interview needs allocating when the child is back.
    authorities = {child.responsible_authority_id} | (
        {child.host_authority_id} if child.host_authority_id else set()
    )
    plan = db.session.get(RiskPlan, child.id)
    interview = _covering_interview(episode) if episode.returned_at else None
    return schedule.EpisodeReminderFacts(
        episode=children.facts(episode, child),
        history=tuple(children.history(child)),
        manager_ids=_managers(authorities),
        # The Assistant Director and service managers: told of Need to Know.
        senior_manager_ids=_managers(authorities, Role.SENIOR_MANAGER),
        carer_id=child.carer_id,
        social_worker_id=child.social_worker_id,
        # The schedule tells the IRO only while the child is looked after (episode facts).
        iro_id=child.iro_id,
        date_of_birth=child.date_of_birth,
        # No plan: None, which plan_rules reads as no agreed wait (at once).
        report_after_hours=plan.report_after_hours if plan is not None else None,
        due_back_at=episode.due_back_at,
        reported_to_police_at=episode.reported_to_police_at,
        reported_at=episode.created_at,
        rhi_due_at=interview.due_at if interview is not None else None,
        rhi_allocated=interview is not None
        and (interview.allocated_to_id is not None or interview.status in workflow.DONE_STATUSES),
        actioned=frozenset(
            db.session.scalars(
                select(EscalationAction.code).where(EscalationAction.episode_id == episode.id)
            )
        ),
    )


def plan_facts(plan: RiskPlan) -> schedule.PlanReminderFacts:
    child = plan.child
    # The review date follows the returns since the last review (plan_rules.review_due_at).
    plans.refresh_review_due(plan)
    return schedule.PlanReminderFacts(
        child_id=plan.id,
        review_due_at=plan.review_due_at,
        recipient_ids=tuple(i for i in (child.carer_id, child.social_worker_id) if i),
    )


# ---------------------------------------------------------------- schools (issue 11)


def _dsls(school_id: str) -> tuple[str, ...]:
    """Active designated safeguarding leads of the school."""
    return tuple(
        db.session.scalars(
            select(User.id)
            .where(
                User.role == Role.DSL,
                User.active.is_(True),
                User.organisation_id == school_id,
            )
            .order_by(User.id)
        )
    )


def _cme_officers(authority_id: str | None) -> tuple[str, ...]:
    """Active children missing education officers of the local authority."""
    if authority_id is None:
        return ()
    return tuple(
        db.session.scalars(
            select(User.id)
            .where(
                User.role == Role.CME,
                User.active.is_(True),
                User.organisation_id == authority_id,
            )
            .order_by(User.id)
        )
    )


def followup_facts(followup: FollowUp) -> schedule.FollowUpFacts:
    """The follow-up's steps as dates, counted in the school's own days (its terms and closures,
    England's bank holidays: webapp.schools.days), and what the school has already done."""
    school = db.session.get(Organisation, followup.school_id)
    cal = school_calendar.calendar_for(school)
    first = followup.opened_on

    def step(code: str, day: int) -> date | None:
        applies = days.applies(
            code, illness=followup.illness, whereabouts_unknown=followup.whereabouts_unknown
        )
        return cal.add_school_days(first, day) if applies else None

    done = db.session.scalars(
        select(SchoolNotification.kind).where(SchoolNotification.followup_id == followup.id)
    )
    return schedule.FollowUpFacts(
        id=followup.id,
        is_open=followup.status == FollowUpStatus.OPEN,
        recorded_at=followup.created_at,
        day3_on=step("ews_day3", 3),
        day10_on=step("notify_day10", 10),
        day15_on=step("illness_day15", 15),
        day20_on=step("joint_enquiries_day20", 20),
        done=frozenset(done),
        dsl_ids=_dsls(followup.school_id),
    )


def referral_facts(referral: Referral) -> schedule.ReferralFacts:
    return schedule.ReferralFacts(
        id=referral.id,
        checked_at=referral.checked_at,
        any_yes=referral.any_yes,
        referred=referral.referred_at is not None,
        dsl_ids=_dsls(referral.followup.school_id),
    )


def notice_facts(notice: SchoolNotification) -> schedule.NoticeFacts:
    school = db.session.get(Organisation, notice.school_id)
    child = db.session.get(Child, notice.child_id)
    # The school's rule, one home: looked after or on a plan (absences.social_worker_told).
    on_a_plan = child is not None and social_worker_told(child)
    return schedule.NoticeFacts(
        id=notice.id,
        kind=notice.kind,
        sent_at=notice.sent_at,
        officer_ids=_cme_officers(school.parent_id if school else None),
        social_worker_id=child.social_worker_id if on_a_plan else None,
    )


def _school_wanted(subject_type: str, subject_id: str, now: datetime, cfg):
    if subject_type == schedule.FOLLOWUP:
        followup = db.session.get(FollowUp, subject_id)
        return (
            schedule.followup_reminders(followup_facts(followup), cfg, now=now) if followup else []
        )
    if subject_type == schedule.REFERRAL:
        referral = db.session.get(Referral, subject_id)
        return (
            schedule.referral_reminders(referral_facts(referral), cfg, now=now) if referral else []
        )
    notice = db.session.get(SchoolNotification, subject_id)
    return schedule.notice_reminders(notice_facts(notice), cfg, now=now) if notice else []


SCHOOL_SUBJECTS = (schedule.FOLLOWUP, schedule.REFERRAL, schedule.NOTICE)


def wanted(subject_type: str, subject_id: str, now: datetime) -> list[schedule.DueReminder]:
    cfg = settings()
    if subject_type in SCHOOL_SUBJECTS:
        return _school_wanted(subject_type, subject_id, now, cfg)
    if subject_type == schedule.INTERVIEW:
        interview = db.session.get(Interview, subject_id)
        facts = interview_facts(interview) if interview else None
        return schedule.interview_reminders(facts, cfg, now=now) if facts else []
    if subject_type == schedule.PLAN:
        plan = db.session.get(RiskPlan, subject_id)
        return schedule.plan_reminders(plan_facts(plan), cfg, now=now) if plan else []
    episode = db.session.get(Episode, subject_id)
    if episode is None or episode.status == EpisodeStatus.WITHDRAWN:
        return []  # withdrawn: recorded by mistake, so nobody is reminded of it
    return schedule.episode_reminders(episode_facts(episode), now, cfg)


def refresh(subject_type: str, subject_id: str, now: datetime | None = None) -> None:
    """Bring this subject's reminders in line with its facts (in the caller's transaction)."""
    now = now or utcnow()
    rows = {
        r.key: r
        for r in db.session.scalars(
            select(Reminder).where(
                Reminder.subject_type == subject_type, Reminder.subject_id == subject_id
            )
        )
    }
    pending = {k for k, r in rows.items() if r.status == ReminderStatus.PENDING}
    to_upsert, to_cancel = schedule.plan(pending, wanted(subject_type, subject_id, now))
    for key in to_cancel:
        rows[key].status = ReminderStatus.CANCELLED
    for due in to_upsert:
        row = rows.get(due.key)
        if row is None:
            row = Reminder(id=new_id(), key=due.key, status=ReminderStatus.PENDING)
            db.session.add(row)
        elif row.status not in (ReminderStatus.PENDING, ReminderStatus.CANCELLED):
            continue  # sent, being sent or missed: never queued a second time
        _copy(due, row)


# What a reminder row takes from the schedule's DueReminder, field for field.
_FROM_SCHEDULE = (
    "kind",
    "subject_type",
    "subject_id",
    "recipient_id",
    "due_at",
    "stale_at",
    "urgency",
    "topic",
    "ttl_seconds",
    "title",
    "body",
)


def _copy(due: schedule.DueReminder, row: Reminder) -> None:
    for name in _FROM_SCHEDULE:
        setattr(row, name, getattr(due, name))
    row.status = ReminderStatus.PENDING
    row.next_attempt_at = due.due_at


def queue_test(user: User, now: datetime | None = None) -> Reminder:
    """A test notification for every device of the user, sent by the dispatcher straight away."""
    now = now or utcnow()
    due = schedule.DueReminder(
        key=f"{TEST_KIND}:{new_id()}:{user.id}",
        kind=TEST_KIND,
        subject_type="user",
        subject_id=user.id,
        recipient_id=user.id,
        due_at=now,
        urgency="normal",
        topic=schedule.topic_for(TEST_KIND, user.id),
        ttl_seconds=3600,
        stale_at=now + timedelta(hours=1),
        title="Homeward test",
        body="Reminders are working on this device.",
    )
    row = Reminder(id=new_id(), key=due.key)
    _copy(due, row)
    db.session.add(row)
    audit.record("test", "reminder", row.id)
    uow.commit()
    return row


# ---------------------------------------------------------------------- notification centre


def _fallen_due(user: User, now: datetime):
    """The centre's rows: this person's reminders that have fallen due and still stand."""
    return (
        Reminder.recipient_id == user.id,
        Reminder.due_at <= now,
        Reminder.status != ReminderStatus.CANCELLED,
    )


def centre(user: User, now: datetime | None = None, limit: int = 100) -> list[Reminder]:
    """Every reminder that has fallen due for this person, newest first, sent by push or not."""
    rows = db.session.scalars(
        select(Reminder)
        .where(*_fallen_due(user, now or utcnow()))
        .order_by(Reminder.due_at.desc())
        .limit(limit)
    ).all()
    audit.record("list", "reminder", None, detail=f"{len(rows)} reminders")
    uow.commit()
    return list(rows)


def unread_count(user: User, now: datetime | None = None) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Reminder)
        .where(*_fallen_due(user, now or utcnow()), Reminder.read_at.is_(None))
    )


def mark_all_read(user: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    for row in db.session.scalars(
        select(Reminder).where(*_fallen_due(user, now), Reminder.read_at.is_(None))
    ):
        row.read_at = now
    uow.commit()


def appointment_child_id(user: User, row: Reminder) -> str | None:
    """Where a carer's appointment reminder lands: the child's page, which shows the time and
    place (a carer never opens the interview itself). None for anyone and anything else."""
    if row.kind not in APPOINTMENT_KINDS or user.role != Role.CARER:
        return None
    return db.session.scalar(select(Interview.child_id).where(Interview.id == row.subject_id))


def school_landing(user: User, row: Reminder) -> tuple[str, dict[str, str]] | None:
    """Where a school reminder lands (an endpoint and its values), for someone who may go there
    today: the DSL's follow-up and referral reminders on the pupil's timeline (that follow-up),
    a CME officer's on the notification's case or, with none yet, the worklist, a social worker's
    on the child's page. None (the centre) for anything else, or once access has gone (a DSL who
    moved school, a child allocated to another social worker)."""
    if row.subject_type in (schedule.FOLLOWUP, schedule.REFERRAL):
        if row.subject_type == schedule.REFERRAL:
            referral = db.session.get(Referral, row.subject_id)
            followup = referral.followup if referral is not None else None
        else:
            followup = db.session.get(FollowUp, row.subject_id)
        if (
            followup is None
            or followup.school_id != user.organisation_id
            or not access.can_record_absence(user, followup.child)
        ):
            return None
        return "school_absences.timeline", {"child_id": followup.child_id, "followup": followup.id}
    if row.subject_type != schedule.NOTICE:
        return None
    if row.kind == "cme_day20" and user.role == Role.CME:
        try:
            case = cme.case_of(user, row.subject_id)
        except NotFound:
            return None
        if case is None:
            return "cme.worklist", {}
        return "cme.case", {"case_id": case.id}
    if row.kind == "sw_school_referral" and user.role == Role.SOCIAL_WORKER:
        notice = db.session.get(SchoolNotification, row.subject_id)
        child_id = notice.child_id if notice is not None else None
        if child_id and db.session.scalar(
            access.children_query(user).where(Child.id == child_id).with_only_columns(Child.id)
        ):
            return "children.show", {"child_id": child_id}
    return None


def open_reminder(user: User, reminder_id: str) -> Reminder:
    """The reminder a notification points at (its opaque ref), for its own recipient only."""
    row = db.session.get(Reminder, reminder_id)
    if row is None or row.recipient_id != user.id:
        raise NotAllowed("No such reminder")
    if row.read_at is None:
        row.read_at = utcnow()
    audit.record("open", "reminder", row.id)
    uow.commit()
    return row
