"""The one reminder schedule: which push reminders are due, to whom, and when. Pure, no I/O.

Facts in (frozen dataclasses), reminders out. The same facts always give the same reminders with
the same keys, so when facts change (return time corrected, interview completed or reallocated,
child missing again) the caller recomputes and :func:`plan` says exactly which pending reminders
to cancel and which to upsert.

The table (urgency as in RFC 8030: "high" is for time-critical alerts and is delivered even to a
phone saving battery):

====================================  ==========  ====================================  =======
kind                                  when        to                                    urgency
====================================  ==========  ====================================  =======
rhi_allocated                         allocation  allocated worker                      normal
rhi_24h / rhi_48h / rhi_66h           return+24/  allocated worker (not once done)      normal,
                                      48/66 h                                           66h high
rhi_overdue                           due (72 h)  allocated worker and managers         high
need_to_know                          last seen   managers and senior managers          high
                                      +24 h
urgent_strategy_meeting               +72 h       managers                              high
strategy_meeting                      +7 days     managers                              high
intervention_meeting                  3 in 30     managers                              normal
                                      days, or
                                      +24 h
lac_second_stage_intervention         >9 in 90    managers                              normal
                                      days (LAC)
lac_missing_meeting, lac_ad_told      +3 days     managers (LAC still missing)          high
lac_lead_member_told                  +7 days     managers (LAC still missing)          normal
lac_monthly_meeting                   each +30    managers, one a month while missing   normal
                                      days
nrm_referral                          reported    managers (trafficked or UASC)         high
care_plan_review                      3rd in 90   the child's IRO (managers if none)    normal
                                      days (LAC)
police_report_due                     the plan's  the child's carer, while not back     high
                                      threshold   and police not yet told
sw_missing                            reported    the child's social worker             high
sw_returned                           returned    the child's social worker             normal
iro_missing                           reported    the child's IRO (looked after only)   high
iro_returned                          returned    the child's IRO (looked after only)   normal
rhi_to_allocate                       returned    managers (responsible and host        normal
                                                  authorities), until allocated
plan_review_due                       review due  the child's carer and social worker   normal
rhi_arranged                          arranged    the child's carer                     normal
rhi_appointment                       appointment the child's carer and the allocated     high
                                      -2 h        worker
school_ews_day3                       school day  the school's DSLs, while the follow-up  normal
                                      3, 09:00    is open and EWS not yet contacted
school_notify_day10                   school day  the school's DSLs, until the 10-day     normal
                                      10, 09:00   notification is sent (not for illness)
school_illness_day15                  school day  the school's DSLs, until the sickness   normal
                                      15, 09:00   return is sent (illness only)
school_joint_day20                    school day  the school's DSLs, until the authority  high
                                      20, 09:00   is notified (whereabouts unknown only)
school_referral_due                   checklist   the school's DSLs, until the referral   high
                                      yes +1 h    is recorded
cme_day20                             notified    the authority's CME officers            normal
sw_school_referral                    referral    the child's social worker (looked       high
                                      recorded    after or on a plan)
====================================  ==========  ====================================  =======

The schools' kinds (issue 11): a follow-up's milestones fall at 09:00 (UK) on the school day the
service counted with the school's calendar (webapp.schools.days): the schedule is given the dates,
so it stays pure. A follow-up recorded late is reminded of what is still outstanding at once. Each
goes once the school has recorded doing it (its notification of that kind) and all go when the
follow-up closes.

The carers' kinds: ``police_report_due`` falls due at ``plan_rules.police_report_due`` (12 or
under, or a plan of 0 hours: at once; never more than 6 hours after due back; none for "away")
and stays worth sending for ``stale_after_hours``, so its TTL lets a phone out of signal get it
when it reconnects (the carer's screen counts down by itself meanwhile). ``plan_review_due`` is
keyed by its due time too: a plan is reviewed again and again, and a key is sent only once.
``rhi_arranged`` and ``rhi_appointment`` are keyed by the arrangement and the appointment time
for the same reason: a re-arranged interview is news again, and a second appointment needs its
own reminder even when the first one was sent. Both go when the appointment is cancelled or the
interview is done; neither says when or where (the carer opens Homeward for that).

Episode timings and whether each escalation applies come from :mod:`webapp.deadlines` (one source
of the rules); this module only decides who is reminded, when it stops being worth sending, and
the words. ``repeat_episodes`` (advice shown on the episode page) and ``lac_visit`` (the facts name
no social worker) are not push reminders.

Titles and bodies are fixed generic sentences: they pass through the browser vendor's push service
and appear on lock screens, so no field of the facts is ever put into them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from webapp import deadlines
from webapp.carers import plan_rules
from webapp.deadlines import EpisodeFacts, Escalation, Thresholds, ensure_utc
from webapp.push.client import topic_for as push_topic

INTERVIEW = "interview"
EPISODE = "episode"
PLAN = "plan"  # a child's risk plan; the subject id is the child's id
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
MAX_TTL_HOURS = 28 * 24  # push services cap TTL at about four weeks


@dataclass(frozen=True)
class KindSpec:
    kind: str
    subject_type: str
    recipients: str  # who, in words: documentation, not used to pick recipients
    urgency: str
    title: str


SCHEDULE: tuple[KindSpec, ...] = (
    KindSpec(
        "rhi_allocated", INTERVIEW, "allocated worker", "normal", "Return interview allocated"
    ),
    KindSpec("rhi_24h", INTERVIEW, "allocated worker", "normal", "Return interview due"),
    KindSpec("rhi_48h", INTERVIEW, "allocated worker", "normal", "Return interview due"),
    # Six hours left: time-critical, so it should reach a phone in battery saver too.
    KindSpec("rhi_66h", INTERVIEW, "allocated worker", "high", "Return interview due"),
    KindSpec(
        "rhi_overdue",
        INTERVIEW,
        "allocated worker and managers",
        "high",
        "Return interview overdue",
    ),
    KindSpec(
        "need_to_know",
        EPISODE,
        "managers and senior managers",
        "high",
        "Need to Know notification due",
    ),
    KindSpec("urgent_strategy_meeting", EPISODE, "managers", "high", "Urgent strategy meeting due"),
    KindSpec("strategy_meeting", EPISODE, "managers", "high", "Strategy meeting due"),
    KindSpec("intervention_meeting", EPISODE, "managers", "normal", "Intervention meeting due"),
    KindSpec(
        "lac_second_stage_intervention",
        EPISODE,
        "managers",
        "normal",
        "Second-stage intervention meeting due",
    ),
    # Kent and Medway, a looked-after child still missing at 3 and 7 days (issue 12).
    KindSpec("lac_missing_meeting", EPISODE, "managers", "high", "Missing-from-care meeting due"),
    KindSpec("lac_ad_told", EPISODE, "managers", "high", "Tell the Assistant Director"),
    KindSpec("lac_lead_member_told", EPISODE, "managers", "normal", "Tell the Lead Member"),
    # Then a meeting each month while the child stays missing: one reminder per month, keyed by
    # the month ("lac_monthly_meeting:<episode>.<n>:<recipient>"), so recording one month's
    # meeting cancels that month's reminder only.
    KindSpec(
        "lac_monthly_meeting",
        EPISODE,
        "managers",
        "normal",
        "Monthly missing-from-care meeting due",
    ),
    KindSpec(
        "care_plan_review",
        EPISODE,
        "the child's IRO (looked after only)",
        "normal",
        "Care plan review due",
    ),
    KindSpec("nrm_referral", EPISODE, "managers", "high", "NRM referral to make"),
)
# The missing-time chain whose reminders each go stale when the next falls due: Need to Know,
# then the urgent strategy meeting, then the strategy meeting. (Kent's looked-after steps fall
# due beside them, so they are not links of it.)
MISSING_CHAIN = ("need_to_know", "urgent_strategy_meeting", "strategy_meeting")
# The carers' kinds (issue 10): the people around one child rather than the authority's
# escalations. Kept as their own rows of the table so the escalation chain above reads alone.
CARERS_SCHEDULE: tuple[KindSpec, ...] = (
    KindSpec("police_report_due", EPISODE, "the child's carer", "high", "Report to police now"),
    KindSpec("sw_missing", EPISODE, "the child's social worker", "high", "Child reported missing"),
    KindSpec("sw_returned", EPISODE, "the child's social worker", "normal", "Child back"),
    # The independent reviewing officer is told of every episode of a looked-after child
    # (DOMAIN.md), at the same moments and in the same generic words as the social worker.
    KindSpec(
        "iro_missing",
        EPISODE,
        "the child's IRO (looked after only)",
        "high",
        "Child reported missing",
    ),
    KindSpec(
        "iro_returned", EPISODE, "the child's IRO (looked after only)", "normal", "Child back"
    ),
    KindSpec(
        "rhi_to_allocate",
        EPISODE,
        "managers of the responsible and host authorities",
        "normal",
        "Return interview to allocate",
    ),
    KindSpec(
        "plan_review_due", PLAN, "the child's carer and social worker", "normal", "Plan review due"
    ),
    KindSpec("rhi_arranged", INTERVIEW, "the child's carer", "normal", "Return interview arranged"),
    # Two hours' notice of a time fixed with the child: it should reach a phone in battery saver.
    KindSpec(
        "rhi_appointment",
        INTERVIEW,
        "the child's carer and the allocated worker",
        "high",
        "Return interview soon",
    ),
)
FOLLOWUP = "school_followup"  # a school's absence follow-up
REFERRAL = "school_referral"  # the always-refer checklist and its referral
NOTICE = "school_notice"  # what a school told the authority
# The schools' kinds (issue 11): the school's own steps to the DSLs, and the authority's officer
# told of a 20-day notification.
SCHOOLS_SCHEDULE: tuple[KindSpec, ...] = (
    KindSpec(
        "school_ews_day3",
        FOLLOWUP,
        "the school's DSLs",
        "normal",
        "Absence follow-up: day 3",
    ),
    KindSpec(
        "school_notify_day10",
        FOLLOWUP,
        "the school's DSLs",
        "normal",
        "Absence follow-up: 10 school days",
    ),
    # Illness expected to reach 15 school days: the sickness return replaces the 10-day one.
    KindSpec(
        "school_illness_day15",
        FOLLOWUP,
        "the school's DSLs",
        "normal",
        "Absence follow-up: 15 school days",
    ),
    # Whereabouts unknown for four school weeks: it should reach a tablet in battery saver too.
    KindSpec(
        "school_joint_day20",
        FOLLOWUP,
        "the school's DSLs",
        "high",
        "Absence follow-up: 20 school days",
    ),
    # "Refer today": time-critical.
    KindSpec("school_referral_due", REFERRAL, "the school's DSLs", "high", "Referral to make"),
    KindSpec(
        "cme_day20",
        NOTICE,
        "the authority's children missing education officers",
        "normal",
        "School notification: 20 school days",
    ),
    # A school referred a looked-after child or one on a plan: their social worker at once.
    KindSpec(
        "sw_school_referral",
        NOTICE,
        "the child's social worker (looked after or on a plan)",
        "high",
        "School referral made",
    ),
)
ALL_KINDS = SCHEDULE + CARERS_SCHEDULE + SCHOOLS_SCHEDULE
KINDS: dict[str, KindSpec] = {k.kind: k for k in SCHEDULE}
CARERS_KINDS: dict[str, KindSpec] = {k.kind: k for k in CARERS_SCHEDULE}
SCHOOLS_KINDS: dict[str, KindSpec] = {k.kind: k for k in SCHOOLS_SCHEDULE}
_SPECS = {**KINDS, **CARERS_KINDS, **SCHOOLS_KINDS}
_ORDER = {k.kind: i for i, k in enumerate(ALL_KINDS)}
# The kind names keep the default hours: they are part of idempotency keys, so they must not
# change when an area configures other hours.
RHI_CHAIN = ("rhi_24h", "rhi_48h", "rhi_66h")
EPISODE_KINDS = frozenset(k.kind for k in SCHEDULE if k.subject_type == EPISODE)
APPOINTMENT_NOTICE = timedelta(hours=2)
ARRANGED_BODY = (
    "A return interview has been arranged for a child placed with you: open Homeward for the time."
)
APPOINTMENT_BODY = "A return interview is in 2 hours."
APPOINTMENT_SOON_BODY = "A return interview is in less than 2 hours."


@dataclass(frozen=True)
class ReminderSettings:
    thresholds: Thresholds = deadlines.DEFAULT
    # Hours after the return for rhi_24h, rhi_48h, rhi_66h; each before the RHI deadline.
    rhi_reminder_hours: tuple[int, int, int] = (24, 48, 66)
    # A reminder not sent within this long of falling due is pointless (the dashboard shows it).
    stale_after_hours: int = 24
    # How long a push service keeps a message for a phone that is offline.
    max_ttl_hours: int = 24

    def __post_init__(self) -> None:
        hours = tuple(int(h) for h in self.rhi_reminder_hours)
        object.__setattr__(self, "rhi_reminder_hours", hours)
        if len(hours) != len(RHI_CHAIN):
            raise ValueError(f"rhi_reminder_hours needs {len(RHI_CHAIN)} values")
        if not all(a < b for a, b in zip((0, *hours), hours, strict=False)):
            raise ValueError("rhi_reminder_hours must be positive and increasing")
        if hours[-1] >= self.thresholds.rhi_hours:
            raise ValueError("rhi_reminder_hours must all fall before the RHI deadline")
        if self.stale_after_hours <= 0:
            raise ValueError("stale_after_hours must be positive")
        if not 0 < self.max_ttl_hours <= MAX_TTL_HOURS:
            raise ValueError(f"max_ttl_hours must be between 1 and {MAX_TTL_HOURS}")

    @classmethod
    def from_mapping(
        cls, m: Mapping[str, Any], *, thresholds: Thresholds | None = None
    ) -> ReminderSettings:
        """Settings from configuration: values may be strings, unknown keys are ignored.

        Threshold names (``rhi_hours``...) are read into the Thresholds too, unless the caller
        passes the app's Thresholds so reminders and screens can never disagree.
        """
        kwargs: dict[str, Any] = {
            "thresholds": thresholds if thresholds is not None else Thresholds.from_mapping(m)
        }
        names = {f.name for f in fields(cls)} - {"thresholds"}
        for name in names & set(m):
            value = m[name]
            if name == "rhi_reminder_hours":
                parts = value.split(",") if isinstance(value, str) else value
                kwargs[name] = tuple(int(p) for p in parts)
            else:
                kwargs[name] = int(value)
        return cls(**kwargs)


DEFAULT_SETTINGS = ReminderSettings()


def _ids(values: Iterable[str], what: str) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        _check_id(v, what)
        if v not in out:
            out.append(v)
    return tuple(out)


def _check_id(value: object, what: str) -> None:
    # Ids are joined with ":" into keys; one containing ":" could make two keys collide.
    if not isinstance(value, str) or not value or ":" in value or value != value.strip():
        raise ValueError(f"{what} must be a non-empty id without ':' or surrounding spaces")


@dataclass(frozen=True)
class InterviewFacts:
    id: str
    returned_at: datetime
    due_at: datetime
    allocated_to: str | None = None
    allocated_at: datetime | None = None
    manager_ids: tuple[str, ...] = ()
    done: bool = False  # completed, or declined and recorded: nothing more to remind about
    # The appointment arranged with the child (None: none), when it was arranged, and the
    # child's carer (told of it, and reminded with the worker).
    appointment_at: datetime | None = None
    appointment_arranged_at: datetime | None = None
    carer_id: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id, "interview id")
        if (self.appointment_at is None) != (self.appointment_arranged_at is None):
            raise ValueError(f"interview {self.id}: appointment_at and arranged_at go together")
        for name in ("appointment_at", "appointment_arranged_at"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, ensure_utc(getattr(self, name)))
        if self.carer_id is not None:
            _check_id(self.carer_id, "carer_id")
        object.__setattr__(self, "returned_at", ensure_utc(self.returned_at))
        object.__setattr__(self, "due_at", ensure_utc(self.due_at))
        if self.due_at < self.returned_at:
            raise ValueError(f"interview {self.id}: due before the return")
        if (self.allocated_to is None) != (self.allocated_at is None):
            raise ValueError(f"interview {self.id}: allocated_to and allocated_at go together")
        if self.allocated_to is not None:
            _check_id(self.allocated_to, "allocated_to")
            object.__setattr__(self, "allocated_at", ensure_utc(self.allocated_at))
        object.__setattr__(self, "manager_ids", _ids(self.manager_ids, "manager id"))


@dataclass(frozen=True)
class EpisodeReminderFacts:
    episode: EpisodeFacts
    history: tuple[EpisodeFacts, ...] = ()  # the child's episodes, for the counting rules
    manager_ids: tuple[str, ...] = ()
    # Assistant Director / service manager: told about a child missing over 24 hours.
    senior_manager_ids: tuple[str, ...] = ()
    # The people around the child, and what the carer's plan says (None: no plan).
    carer_id: str | None = None
    social_worker_id: str | None = None
    # The independent reviewing officer: told only while the child is looked after.
    iro_id: str | None = None
    date_of_birth: date | None = None
    report_after_hours: int | None = None
    due_back_at: datetime | None = None
    reported_to_police_at: datetime | None = None
    reported_at: datetime | None = None  # when the episode was recorded
    # The return interview covering this episode: managers hear it needs allocating until it is.
    rhi_due_at: datetime | None = None
    rhi_allocated: bool = False
    # The escalations someone has recorded acting on (webapp/episodes/tasks.py): their
    # reminders are no longer wanted.
    actioned: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _check_id(self.episode.id, "episode id")
        object.__setattr__(self, "actioned", frozenset(self.actioned))
        for name in ("carer_id", "social_worker_id", "iro_id"):
            if getattr(self, name) is not None:
                _check_id(getattr(self, name), name)
        for name in ("due_back_at", "reported_to_police_at", "reported_at", "rhi_due_at"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, ensure_utc(getattr(self, name)))
        object.__setattr__(self, "history", tuple(self.history))
        object.__setattr__(self, "manager_ids", _ids(self.manager_ids, "manager id"))
        object.__setattr__(
            self, "senior_manager_ids", _ids(self.senior_manager_ids, "senior manager id")
        )


@dataclass(frozen=True)
class DueReminder:
    key: str  # idempotency key: kind:subject_id:recipient_id
    kind: str
    subject_type: str
    subject_id: str
    recipient_id: str
    due_at: datetime  # aware UTC
    urgency: str
    topic: str  # Topic header: a resend of the same kind+subject replaces an undelivered one
    ttl_seconds: int
    stale_at: datetime  # from here sending is pointless
    title: str
    body: str

    def __post_init__(self) -> None:
        # A store may rebuild these from rows with another UTC tzinfo; compare like with like.
        object.__setattr__(self, "due_at", ensure_utc(self.due_at))
        object.__setattr__(self, "stale_at", ensure_utc(self.stale_at))
        if self.stale_at <= self.due_at:
            raise ValueError(f"{self.key}: stale before it is due")
        if len(self.topic) > 32 or self.urgency not in URGENCIES or self.ttl_seconds <= 0:
            raise ValueError(f"{self.key}: bad topic, urgency or ttl")

    def is_stale(self, now: datetime) -> bool:
        return ensure_utc(now) >= self.stale_at

    def ttl_at(self, now: datetime) -> int:
        """TTL for a send at `now`: the message must not outlive its usefulness (0: skip it)."""
        left = int((self.stale_at - ensure_utc(now)).total_seconds())
        return max(0, min(self.ttl_seconds, left))


def topic_for(kind: str, subject_id: str) -> str:
    # Hashed (push.client.topic_for): the push service reads the Topic header, and record ids
    # are not its business.
    return push_topic(f"{kind}:{subject_id}")


def _reminder(
    kind: str,
    subject_id: str,
    recipient_id: str,
    due_at: datetime,
    stale_at: datetime,
    body: str,
    settings: ReminderSettings,
) -> DueReminder:
    spec = _SPECS[kind]
    ttl = min(stale_at - due_at, timedelta(hours=settings.max_ttl_hours))
    return DueReminder(
        key=f"{kind}:{subject_id}:{recipient_id}",
        kind=kind,
        subject_type=spec.subject_type,
        subject_id=subject_id,
        recipient_id=recipient_id,
        due_at=due_at,
        urgency=spec.urgency,
        topic=topic_for(kind, subject_id),
        ttl_seconds=max(1, int(ttl.total_seconds())),
        stale_at=stale_at,
        title=spec.title,
        body=body,
    )


def _order(r: DueReminder) -> tuple[datetime, int, str]:
    return (r.due_at, _ORDER[r.kind], r.recipient_id)


def _count(n: int, unit: str) -> str:
    return f"1 {unit}" if n == 1 else f"{n} {unit}s"


def _time_left(left: timedelta) -> str:
    # Rounded down, like the clock on screen: time left is never overstated.
    minutes = int(left.total_seconds() // 60)
    if minutes >= 60:
        return _count(minutes // 60, "hour")
    return _count(max(minutes, 1), "minute")


def _chain(
    items: list[tuple[str, datetime]], stale_after: timedelta
) -> list[tuple[str, datetime, datetime]]:
    """(kind, due, stale): each is stale when the next one falls due, or stale_after later."""
    out = []
    for i, (kind, at) in enumerate(items):
        stale = at + stale_after
        if i + 1 < len(items) and items[i + 1][1] < stale:
            stale = items[i + 1][1]
        out.append((kind, at, stale))
    return out


def interview_reminders(
    f: InterviewFacts,
    settings: ReminderSettings = DEFAULT_SETTINGS,
    *,
    now: datetime | None = None,
) -> list[DueReminder]:
    """The reminders wanted for one return interview; none once it is done.

    With `now`, reminders already stale are left out (so :func:`plan` cancels any still pending).
    """
    if f.done:
        return []
    stale_after = timedelta(hours=settings.stale_after_hours)
    out: list[DueReminder] = []
    overdue_body = "A return interview is overdue."

    if f.allocated_to is not None and f.allocated_at is not None:
        worker, allocated_at = f.allocated_to, f.allocated_at
        if allocated_at >= f.due_at:
            body = "A return interview has been allocated to you. It is overdue."
        else:
            body = (
                "A return interview has been allocated to you. "
                f"It is due in {_time_left(f.due_at - allocated_at)}."
            )
        out.append(
            _reminder(
                "rhi_allocated",
                f.id,
                worker,
                allocated_at,
                allocated_at + stale_after,
                body,
                settings,
            )
        )
        steps = [
            (kind, f.returned_at + timedelta(hours=h))
            for kind, h in zip(RHI_CHAIN, settings.rhi_reminder_hours, strict=True)
        ]
        # A stored deadline earlier than the defaults would make "due in 0 hours" nonsense: the
        # overdue reminder covers it.
        steps = [(k, at) for k, at in steps if at < f.due_at]
        steps.append(("rhi_overdue", f.due_at))
        # What fell due before the allocation is said by the allocation reminder itself.
        steps = [(k, at) for k, at in steps if at > allocated_at]
        for kind, at, stale in _chain(steps, stale_after):
            if kind == "rhi_overdue":
                body = overdue_body
            else:
                body = f"A return interview is due in {_time_left(f.due_at - at)}."
            out.append(_reminder(kind, f.id, worker, at, stale, body, settings))

    # Managers hear only when it is late; an unallocated interview still reaches them then.
    for manager in f.manager_ids:
        if manager != f.allocated_to:
            out.append(
                _reminder(
                    "rhi_overdue",
                    f.id,
                    manager,
                    f.due_at,
                    f.due_at + stale_after,
                    overdue_body,
                    settings,
                )
            )
    out.extend(_appointment_reminders(f, settings))
    return _finish(out, now)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M")


def _appointment_reminders(f: InterviewFacts, settings: ReminderSettings) -> list[DueReminder]:
    """The carer told the interview is arranged, and the carer and the worker two hours before.

    Keys carry the arrangement's and the appointment's times (like a plan review's): each new
    arrangement is told, and each appointment reminded, even when an earlier one was sent.
    """
    at, arranged = f.appointment_at, f.appointment_arranged_at
    if at is None or arranged is None or at <= arranged:
        return []  # none, or arranged for a time already come: nothing left to remind of
    stale_after = timedelta(hours=settings.stale_after_hours)
    out: list[DueReminder] = []
    if f.carer_id:
        # Pointless once the appointment has come.
        stale = min(arranged + stale_after, at)
        r = _reminder("rhi_arranged", f.id, f.carer_id, arranged, stale, ARRANGED_BODY, settings)
        out.append(replace(r, key=f"rhi_arranged:{f.id}.{_stamp(arranged)}:{f.carer_id}"))
    due = at - APPOINTMENT_NOTICE
    recipients = []
    if f.carer_id and due > arranged:
        # Arranged at shorter notice, the carer has just been told by rhi_arranged.
        recipients.append(f.carer_id)
    if f.allocated_to and f.allocated_to != f.carer_id:
        recipients.append(f.allocated_to)
    body = APPOINTMENT_BODY
    if due <= arranged:
        due, body = arranged, APPOINTMENT_SOON_BODY
    for recipient in recipients:
        r = _reminder("rhi_appointment", f.id, recipient, due, at, body, settings)
        out.append(replace(r, key=f"rhi_appointment:{f.id}.{_stamp(at)}:{recipient}"))
    return out


def _episode_body(e: Escalation, episode: EpisodeFacts, t: Thresholds) -> str:
    code = e.code
    if code == "need_to_know":
        return (
            f"A child has been missing for {_count(t.need_to_know_hours, 'hour')}: "
            "Need to Know notification due."
        )
    if code == "urgent_strategy_meeting":
        return (
            f"A child has been missing for {_count(t.urgent_strategy_hours, 'hour')}: "
            "an urgent strategy meeting is due."
        )
    if code == "strategy_meeting":
        return (
            f"A child has been missing for {_count(t.strategy_meeting_days, 'day')}: "
            "a strategy meeting is due."
        )
    if code == "intervention_meeting":
        if e.due_at == episode.last_seen_at:
            # The counting limb falls due at the start of the episode; the long limb later.
            return (
                f"A child has gone missing {t.intervention_episodes} or more times in "
                f"{_count(t.intervention_window_days, 'day')}: an intervention meeting is due."
            )
        return (
            f"A child has been missing for more than {_count(t.intervention_long_hours, 'hour')}:"
            " an intervention meeting is due."
        )
    if code == "lac_second_stage_intervention":
        return (
            f"A child has gone missing more than {t.lac_repeat_episodes} times in "
            f"{_count(t.lac_repeat_window_days, 'day')}: "
            "a second-stage intervention meeting is due."
        )
    if code == "nrm_referral":
        return (
            "A child at risk of trafficking has been reported missing: make or record the "
            "National Referral Mechanism referral."
        )
    if code == "care_plan_review":
        return (
            f"A child in care has gone missing {t.care_plan_review_episodes} or more times in "
            f"{_count(t.lac_repeat_window_days, 'day')}: a care plan review is due."
        )
    if code == "lac_missing_meeting":
        return (
            f"A child in care has been missing for {_count(t.lac_meeting_days, 'day')}: "
            "a missing-from-care meeting is due."
        )
    if code == "lac_ad_told":
        return (
            f"A child in care has been missing for {_count(t.lac_ad_days, 'day')}: "
            "tell the Assistant Director."
        )
    if deadlines.base_code(code) == "lac_monthly_meeting":
        return (
            "A child in care is still missing after another month: "
            "a monthly missing-from-care meeting is due."
        )
    if code == "lac_lead_member_told":
        return (
            f"A child in care has been missing for {_count(t.lac_lead_member_days, 'day')}: "
            "tell the Lead Member."
        )
    raise ValueError(f"no reminder for escalation {code}")


def episode_reminders(
    f: EpisodeReminderFacts,
    now: datetime,
    settings: ReminderSettings = DEFAULT_SETTINGS,
) -> list[DueReminder]:
    """The reminders wanted for one missing episode, from the escalations that apply now.

    deadlines.episode_escalations decides what applies: a missing-time escalation only if the
    child was still missing when it fell due, so a child back before 24 hours gets no Need to Know
    and a returned child no future missing-time reminders. Reminders already stale at `now` are
    left out.
    """
    now = ensure_utc(now)
    t = settings.thresholds
    stale_after = timedelta(hours=settings.stale_after_hours)
    escalations = [
        e
        for e in deadlines.episode_escalations(f.episode, f.history, now, t)
        if deadlines.base_code(e.code) in EPISODE_KINDS and e.code not in f.actioned
    ]
    missing_chain = sorted(
        (e for e in escalations if e.code in MISSING_CHAIN), key=lambda e: e.due_at
    )
    stale_at = {
        kind: stale
        for kind, _, stale in _chain([(e.code, e.due_at) for e in missing_chain], stale_after)
    }
    out: list[DueReminder] = []
    for e in escalations:
        recipients = f.manager_ids
        if e.code == "care_plan_review":
            # The IRO reviews the care plan; with none allocated, the managers are told.
            recipients = (f.iro_id,) if f.iro_id else f.manager_ids
        if e.code == "need_to_know":
            recipients = _ids((*f.manager_ids, *f.senior_manager_ids), "manager id")
        body = _episode_body(e, f.episode, t)
        stale = stale_at.get(e.code, e.due_at + stale_after)
        kind = deadlines.base_code(e.code)
        for recipient in recipients:
            r = _reminder(kind, f.episode.id, recipient, e.due_at, stale, body, settings)
            if kind != e.code:
                # A repeating task: each occurrence is a reminder of its own.
                occurrence = e.code.split(":", 1)[1]
                r = replace(r, key=f"{kind}:{f.episode.id}.{occurrence}:{recipient}")
            out.append(r)
    out.extend(_carer_reminders(f, settings))
    return _finish(out, now)


def _police_body(f: EpisodeReminderFacts, due: datetime) -> str:
    # Generic words only: a number of hours says nothing about the child.
    episode = f.episode
    start = f.due_back_at if f.due_back_at is not None else episode.last_seen_at
    hours = int((due - start).total_seconds() // 3600)
    if hours <= 0:
        return "Not back when expected: the plan says report to police now."
    since = "past due back" if f.due_back_at is not None else "since last seen"
    return f"{_count(hours, 'hour')} {since}: the plan says report to police now."


def _told(
    f: EpisodeReminderFacts, prefix: str, recipient: str, who: str, settings: ReminderSettings
) -> list[DueReminder]:
    """`<prefix>_missing` when the episode is recorded and `<prefix>_returned` when the child is
    back, to one person around the child (the social worker, the IRO): fixed words, `who` the
    person's part ("the social worker"), never anything about the child."""
    episode = f.episode
    back = episode.returned_at
    stale_after = timedelta(hours=settings.stale_after_hours)
    out: list[DueReminder] = []
    told = f.reported_at if f.reported_at is not None else episode.last_seen_at
    told = max(told, episode.last_seen_at)
    if back is None or back > told:
        body = (
            f"A child you are {who} for is away from placement."
            if episode.away
            else f"A child you are {who} for has been reported missing."
        )
        out.append(
            _reminder(
                f"{prefix}_missing", episode.id, recipient, told, told + stale_after, body, settings
            )
        )
    if back is not None:
        body = f"A child you are {who} for is back."
        out.append(
            _reminder(
                f"{prefix}_returned",
                episode.id,
                recipient,
                back,
                back + stale_after,
                body,
                settings,
            )
        )
    return out


def _carer_reminders(f: EpisodeReminderFacts, settings: ReminderSettings) -> list[DueReminder]:
    """The carer's police threshold, the social worker's and IRO's news, the managers'
    allocation call."""
    episode = f.episode
    stale_after = timedelta(hours=settings.stale_after_hours)
    out: list[DueReminder] = []
    back = episode.returned_at
    if (
        f.carer_id
        and f.date_of_birth is not None
        and back is None
        and f.reported_to_police_at is None
    ):
        due = plan_rules.police_report_due(
            reported_type=episode.reported_type,
            last_seen_at=episode.last_seen_at,
            due_back_at=f.due_back_at,
            date_of_birth=f.date_of_birth,
            report_after_hours=f.report_after_hours,
        )
        if due is not None:
            # Useful until a day on (then the missing-time escalations have taken over): the
            # TTL lets a phone out of signal now get it when it reconnects.
            body = _police_body(f, due)
            out.append(
                _reminder(
                    "police_report_due",
                    episode.id,
                    f.carer_id,
                    due,
                    due + stale_after,
                    body,
                    settings,
                )
            )
    if f.social_worker_id:
        out.extend(_told(f, "sw", f.social_worker_id, "the social worker", settings))
    if f.iro_id and episode.looked_after:
        out.extend(_told(f, "iro", f.iro_id, "the independent reviewing officer", settings))
    if back is not None and f.rhi_due_at is not None and not f.rhi_allocated:
        # Worth saying until the interview is due; after that, rhi_overdue says it.
        stale = f.rhi_due_at if f.rhi_due_at > back else back + stale_after
        body = "A child is back: a return interview needs allocating."
        for manager in f.manager_ids:
            out.append(
                _reminder("rhi_to_allocate", episode.id, manager, back, stale, body, settings)
            )
    return out


@dataclass(frozen=True)
class PlanReminderFacts:
    child_id: str
    review_due_at: datetime | None
    recipient_ids: tuple[str, ...] = ()  # the child's carer and social worker

    def __post_init__(self) -> None:
        _check_id(self.child_id, "child id")
        if self.review_due_at is not None:
            object.__setattr__(self, "review_due_at", ensure_utc(self.review_due_at))
        object.__setattr__(self, "recipient_ids", _ids(self.recipient_ids, "recipient id"))


def plan_reminders(
    f: PlanReminderFacts,
    settings: ReminderSettings = DEFAULT_SETTINGS,
    *,
    now: datetime | None = None,
) -> list[DueReminder]:
    """A plan review falling due: the carer and the social worker. Keyed by the due time, so the
    next review (another due time) is a new reminder rather than one already sent."""
    if f.review_due_at is None:
        return []
    due = f.review_due_at
    stale = due + timedelta(hours=settings.stale_after_hours)
    stamp = due.strftime("%Y%m%dT%H%M")
    out = []
    for recipient in f.recipient_ids:
        r = _reminder(
            "plan_review_due",
            f.child_id,
            recipient,
            due,
            stale,
            "A child's risk assessment and action plan is due for review.",
            settings,
        )
        out.append(replace(r, key=f"plan_review_due:{f.child_id}.{stamp}:{recipient}"))
    return _finish(out, now)


# ---------------------------------------------------------------- schools (issue 11)

# The hour of the school day a milestone is reminded at (UK wall clock): after the morning
# register, when the DSL knows who is absent today.
SCHOOL_MORNING = time(9, 0)
REFERRAL_GRACE = timedelta(hours=1)
# kind: (the notification kind that says it is done, words). Fixed words: no name, no school.
FOLLOWUP_STEPS = {
    "school_ews_day3": (
        "ews_day3",
        "An absence follow-up has reached school day 3: contact the Education Welfare Service.",
    ),
    "school_notify_day10": (
        "notify_day10",
        "An absence follow-up has reached 10 school days: the attendance notification to the "
        "authority is due.",
    ),
    "school_illness_day15": (
        "illness_day15",
        "An absence follow-up has reached 15 school days: the sickness return to the authority "
        "is due.",
    ),
    "school_joint_day20": (
        "joint_enquiries_day20",
        "An absence follow-up has reached 20 school days with whereabouts unknown: notify the "
        "authority and make joint enquiries with the children missing education officer.",
    ),
}
REFERRAL_BODY = (
    "A yes on the always-refer checklist has no referral recorded: refer today to children's "
    "social care or the police."
)
SW_REFERRAL_BODY = (
    "A school has referred a child allocated to you to children's social care or the police."
)
CME_DAY20_BODY = (
    "A school has notified the authority of a pupil absent 20 school days, whereabouts unknown: "
    "joint enquiries are due."
)


def school_morning(d: date) -> datetime:
    """09:00 UK time on `d`, in UTC (GMT or BST as the day falls)."""
    return deadlines.local_to_utc(datetime.combine(d, SCHOOL_MORNING))


@dataclass(frozen=True)
class FollowUpFacts:
    id: str
    is_open: bool
    recorded_at: datetime  # when the follow-up was recorded: a late one is reminded at once
    # The dates each step falls on, counted in the school's days by the caller; None: the step
    # does not apply (no 10-day notification for illness, a sickness return for illness only,
    # no joint enquiries when whereabouts are known).
    day3_on: date | None = None
    day10_on: date | None = None
    day15_on: date | None = None
    day20_on: date | None = None
    done: frozenset[str] = frozenset()  # the notification kinds the school has recorded
    dsl_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_id(self.id, "follow-up id")
        object.__setattr__(self, "recorded_at", ensure_utc(self.recorded_at))
        object.__setattr__(self, "done", frozenset(self.done))
        object.__setattr__(self, "dsl_ids", _ids(self.dsl_ids, "DSL id"))


def followup_reminders(
    f: FollowUpFacts,
    settings: ReminderSettings = DEFAULT_SETTINGS,
    *,
    now: datetime | None = None,
) -> list[DueReminder]:
    """The school's day-3, day-10, day-15 (illness) and day-20 steps to its DSLs; none once the
    follow-up is closed, and none for a step the school has recorded doing."""
    if not f.is_open:
        return []
    stale_after = timedelta(hours=settings.stale_after_hours)
    out: list[DueReminder] = []
    steps = (
        ("school_ews_day3", f.day3_on),
        ("school_notify_day10", f.day10_on),
        ("school_illness_day15", f.day15_on),
        ("school_joint_day20", f.day20_on),
    )
    for kind, on in steps:
        done_by, body = FOLLOWUP_STEPS[kind]
        if on is None or done_by in f.done:
            continue
        due = max(school_morning(on), f.recorded_at)
        for dsl in f.dsl_ids:
            out.append(_reminder(kind, f.id, dsl, due, due + stale_after, body, settings))
    return _finish(out, now)


@dataclass(frozen=True)
class ReferralFacts:
    id: str
    checked_at: datetime
    any_yes: bool
    referred: bool
    dsl_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_id(self.id, "referral id")
        object.__setattr__(self, "checked_at", ensure_utc(self.checked_at))
        object.__setattr__(self, "dsl_ids", _ids(self.dsl_ids, "DSL id"))


def referral_reminders(
    f: ReferralFacts,
    settings: ReminderSettings = DEFAULT_SETTINGS,
    *,
    now: datetime | None = None,
) -> list[DueReminder]:
    """A yes on the always-refer checklist with no referral an hour later: the school's DSLs,
    until the referral is recorded."""
    if not f.any_yes or f.referred:
        return []
    due = f.checked_at + REFERRAL_GRACE
    stale = due + timedelta(hours=settings.stale_after_hours)
    out = [
        _reminder("school_referral_due", f.id, dsl, due, stale, REFERRAL_BODY, settings)
        for dsl in f.dsl_ids
    ]
    return _finish(out, now)


@dataclass(frozen=True)
class NoticeFacts:
    id: str
    kind: str  # the notification's kind (absence_models.SchoolNotification.kind)
    sent_at: datetime
    officer_ids: tuple[str, ...] = ()  # the authority's CME officers
    # The child's social worker, when the child is looked after or on a plan (else None).
    social_worker_id: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.id, "notification id")
        object.__setattr__(self, "sent_at", ensure_utc(self.sent_at))
        object.__setattr__(self, "officer_ids", _ids(self.officer_ids, "officer id"))
        if self.social_worker_id is not None:
            _check_id(self.social_worker_id, "social worker id")


def notice_reminders(
    f: NoticeFacts,
    settings: ReminderSettings = DEFAULT_SETTINGS,
    *,
    now: datetime | None = None,
) -> list[DueReminder]:
    """The authority's CME officers told when a 20-day notification arrives (the others are on
    their worklist; this one starts joint enquiries with the school); the social worker of a
    looked-after child or one on a plan told at once of a school's referral."""
    stale = f.sent_at + timedelta(hours=settings.stale_after_hours)
    if f.kind == "referral" and f.social_worker_id:
        sw = _reminder(
            "sw_school_referral",
            f.id,
            f.social_worker_id,
            f.sent_at,
            stale,
            SW_REFERRAL_BODY,
            settings,
        )
        return _finish([sw], now)
    if f.kind != "joint_enquiries_day20":
        return []
    out = [
        _reminder("cme_day20", f.id, officer, f.sent_at, stale, CME_DAY20_BODY, settings)
        for officer in f.officer_ids
    ]
    return _finish(out, now)


def _finish(out: list[DueReminder], now: datetime | None) -> list[DueReminder]:
    if now is not None:
        now = ensure_utc(now)
        out = [r for r in out if r.stale_at > now]
    return sorted(out, key=_order)


def plan(
    existing_keys: Collection[str] | Mapping[str, DueReminder],
    wanted: Iterable[DueReminder],
) -> tuple[list[DueReminder], list[str]]:
    """(to_upsert, to_cancel) to bring the pending reminders of some subjects to `wanted`.

    existing_keys: the keys of the reminders still pending (not yet sent) for the same subjects
    the wanted list was computed for. Anything pending and no longer wanted is cancelled; every
    wanted reminder is upserted by key (a changed due_at re-times it). Given a mapping of key to
    the stored DueReminder, reminders stored exactly as wanted are left out of to_upsert.

    A key is the idempotency key: the store must not send a key twice, so upserting a reminder
    that was already sent (and so is absent from existing_keys) must not queue it again.
    """
    by_key: dict[str, DueReminder] = {}
    for r in wanted:
        prior = by_key.setdefault(r.key, r)
        if prior != r:
            raise ValueError(f"two different reminders share the key {r.key}")
    stored = existing_keys if isinstance(existing_keys, Mapping) else {}
    to_upsert = sorted(
        (r for k, r in by_key.items() if stored.get(k) != r),
        key=_order,
    )
    to_cancel = sorted(set(existing_keys) - by_key.keys())
    return to_upsert, to_cancel


__all__ = [
    "DEFAULT_SETTINGS",
    "EPISODE",
    "INTERVIEW",
    "KINDS",
    "ALL_KINDS",
    "CARERS_KINDS",
    "CARERS_SCHEDULE",
    "FOLLOWUP",
    "FollowUpFacts",
    "NOTICE",
    "NoticeFacts",
    "REFERRAL",
    "ReferralFacts",
    "SCHOOLS_KINDS",
    "SCHOOLS_SCHEDULE",
    "followup_reminders",
    "notice_reminders",
    "referral_reminders",
    "SCHEDULE",
    "DueReminder",
    "EpisodeReminderFacts",
    "InterviewFacts",
    "KindSpec",
    "PlanReminderFacts",
    "ReminderSettings",
    "episode_reminders",
    "interview_reminders",
    "plan",
    "plan_reminders",
    "topic_for",
]
