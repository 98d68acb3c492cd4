"""Retention of closed cases: the report (a dry run, kept as made) and applying it.

`make_report` asks webapp/retention/rules.py about every child, a batch at a time, and keeps
what it found in retention_reports: for each child due, the pseudonymous id, the rule and the
rows that would go, table by table. `apply_report` deletes those children and nothing else, each
child in a transaction of its own, after checking again under lock that the child is still due
under the same rule and that its rows are exactly those the report counted: a child whose record
changed since the report (a new episode, a reopened case) is skipped, never deleted unseen.

What a child's record is: every table that hangs off `children` by a foreign key, and what hangs
off those (TABLES, in the order they are deleted), and the rows that name the child's records
without a foreign key (reminders and their push attempts, conflict copies). What stays: the audit
trail (ids only, never deleted), the sync change log and delivery list (ids only: they are how
devices learn to delete their copies), and the sync mutation log (ids, statuses and versions).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, delete, func, or_, select, update

from webapp import audit
from webapp.carers.models import ChildProfile, RiskPlan
from webapp.children.models import Child, ChildChange, LegalStatus
from webapp.db_types import utcnow
from webapp.episodes import escalations
from webapp.episodes.models import Episode, EpisodeChange, EpisodeStatus, EscalationAction
from webapp.extensions import db
from webapp.fieldsync import changes
from webapp.fieldsync.models import SyncConflict
from webapp.interviews import workflow
from webapp.interviews.models import Interview, interview_episodes
from webapp.oversight.factors import InterviewFactor
from webapp.reminders import schedule
from webapp.reminders.models import Reminder, ReminderAttempt
from webapp.retention import rules
from webapp.retention.models import RetentionReport
from webapp.schools.absence_models import (
    Absence,
    Enquiry,
    FollowUp,
    FollowUpStatus,
    Referral,
    SchoolEntry,
    SchoolNotification,
)
from webapp.schools.cme_models import CaseStatus, CmeCase

LONDON = ZoneInfo("Europe/London")
# Children whose facts are read in one set of queries.
FACT_BATCH = 500

# An interview is finished once authorised, or not needed (its only episode withdrawn); sent for
# authorisation is still in progress.
_FINISHED = (workflow.Status.AUTHORISED, workflow.Status.NOT_NEEDED)


class RetentionError(RuntimeError):
    """apply refused to start (the message says why, with no personal data)."""


def local_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def today() -> date:
    return local_date(utcnow())


def settings() -> rules.Settings:
    """From the app's configuration, else the environment (HOMEWARD_RETENTION_*)."""
    cfg = current_app.config
    names = (rules.ENV_YEARS_OTHER, rules.ENV_MIN_AGE_OTHER)
    return rules.settings_from({n: cfg[n] if n in cfg else os.environ.get(n) for n in names})


# ---------------------------------------------------------------- what a child's record is


@dataclass
class Related:
    """The ids of one child's rows that other rows point at."""

    child_id: str
    episodes: set[str] = field(default_factory=set)
    interviews: set[str] = field(default_factory=set)
    followups: set[str] = field(default_factory=set)
    referrals: set[str] = field(default_factory=set)
    notifications: set[str] = field(default_factory=set)
    entries: set[str] = field(default_factory=set)
    reminders: set[str] = field(default_factory=set)


def _ids(query) -> set[str]:
    return set(db.session.scalars(query))


def related(child_id: str) -> Related:
    r = Related(child_id)
    r.episodes = _ids(select(Episode.id).where(Episode.child_id == child_id))
    r.interviews = _ids(select(Interview.id).where(Interview.child_id == child_id))
    r.followups = _ids(select(FollowUp.id).where(FollowUp.child_id == child_id))
    r.notifications = _ids(
        select(SchoolNotification.id).where(SchoolNotification.child_id == child_id)
    )
    r.entries = _ids(select(SchoolEntry.id).where(SchoolEntry.child_id == child_id))
    if r.followups:
        r.referrals = _ids(select(Referral.id).where(Referral.followup_id.in_(r.followups)))
    # Reminders name their subject by type and id, with no foreign key (a reminder outlives
    # nothing it is about): the plan's subject is the child itself.
    subjects = [
        (schedule.INTERVIEW, r.interviews),
        (schedule.EPISODE, r.episodes),
        (schedule.PLAN, {child_id}),
        (schedule.FOLLOWUP, r.followups),
        (schedule.REFERRAL, r.referrals),
        (schedule.NOTICE, r.notifications),
    ]
    clauses = [
        and_(Reminder.subject_type == kind, Reminder.subject_id.in_(ids))
        for kind, ids in subjects
        if ids
    ]
    r.reminders = _ids(select(Reminder.id).where(or_(*clauses)))
    return r


def _record_ids(r: Related) -> set[str]:
    """Every id a device or a conflict copy may know one of the child's records by."""
    return {r.child_id} | r.episodes | r.interviews | r.entries


# (table, the rows of it that are the child's), children of children first: the order deleting
# goes in, so no foreign key is ever left pointing at a deleted row.
Where = Callable[[Related], object]
TABLES: list[tuple[str, type | object, Where]] = [
    ("reminder_attempts", ReminderAttempt, lambda r: ReminderAttempt.reminder_id.in_(r.reminders)),
    ("reminders", Reminder, lambda r: Reminder.id.in_(r.reminders)),
    ("sync_conflicts", SyncConflict, lambda r: SyncConflict.record_id.in_(_record_ids(r))),
    (
        "interview_factors",
        InterviewFactor,
        lambda r: InterviewFactor.interview_id.in_(r.interviews),
    ),
    (
        "interview_episodes",
        interview_episodes,
        lambda r: or_(
            interview_episodes.c.interview_id.in_(r.interviews),
            interview_episodes.c.episode_id.in_(r.episodes),
        ),
    ),
    ("escalation_actions", EscalationAction, lambda r: EscalationAction.episode_id.in_(r.episodes)),
    ("episode_changes", EpisodeChange, lambda r: EpisodeChange.episode_id.in_(r.episodes)),
    ("cme_cases", CmeCase, lambda r: CmeCase.child_id == r.child_id),
    ("school_enquiries", Enquiry, lambda r: Enquiry.followup_id.in_(r.followups)),
    ("school_referrals", Referral, lambda r: Referral.followup_id.in_(r.followups)),
    (
        "school_notifications",
        SchoolNotification,
        lambda r: SchoolNotification.child_id == r.child_id,
    ),
    ("school_absences", Absence, lambda r: Absence.child_id == r.child_id),
    ("school_entries", SchoolEntry, lambda r: SchoolEntry.child_id == r.child_id),
    ("school_followups", FollowUp, lambda r: FollowUp.child_id == r.child_id),
    ("child_changes", ChildChange, lambda r: ChildChange.child_id == r.child_id),
    ("interviews", Interview, lambda r: Interview.child_id == r.child_id),
    ("episodes", Episode, lambda r: Episode.child_id == r.child_id),
    ("child_profiles", ChildProfile, lambda r: ChildProfile.id == r.child_id),
    ("risk_plans", RiskPlan, lambda r: RiskPlan.id == r.child_id),
    ("children", Child, lambda r: Child.id == r.child_id),
]


def _table(target):
    return getattr(target, "__table__", target)


def count_rows(r: Related) -> dict[str, int]:
    """The child's rows, table by table (tables with none left out), in one round trip."""
    counts = [
        select(func.count()).select_from(_table(target)).where(where(r)).scalar_subquery()
        for _name, target, where in TABLES
    ]
    row = db.session.execute(select(*counts)).one()
    return {name: n for (name, _, _), n in zip(TABLES, row, strict=True) if n}


# ---------------------------------------------------------------- each child's facts


def _bump(latest: dict[str, datetime], cid: str, *moments) -> None:
    for m in moments:
        if m is not None and (cid not in latest or m > latest[cid]):
            latest[cid] = m


def _grouped(key, columns, where, join=None):
    query = select(key, *columns)
    if join is not None:
        query = query.join(*join)
    return db.session.execute(query.where(where).group_by(key)).all()


def _flag(condition):
    return func.sum(case((condition, 1), else_=0))


def facts_of(child_ids: list[str]) -> dict[str, rules.ChildFacts]:
    """Each child's facts, in one query per table for the whole batch. `closed_on` is the local
    date of the latest thing recorded about the child, anywhere in the record: a case is closed
    when nothing is in progress, and it closed when the last thing was recorded (a later
    correction starts the clock again: later, never earlier)."""
    if not child_ids:
        return {}
    latest: dict[str, datetime] = {}
    holds: dict[str, set[str]] = defaultdict(set)
    looked_after: dict[str, bool] = {}
    kids = db.session.execute(
        select(
            Child.id,
            Child.date_of_birth,
            Child.died_on,
            Child.looked_after,
            Child.legal_status,
            Child.looked_after_since,
            Child.created_at,
            Child.updated_at,
        ).where(Child.id.in_(child_ids))
    ).all()
    for cid, _dob, _died, lac, status, since, created, updated in kids:
        # Homeward keeps the current legal status only: "ever looked after" is read from every
        # trace the record has of it (below), so a child who left care keeps the longer rule.
        looked_after[cid] = bool(lac or status == LegalStatus.LOOKED_AFTER or since)
        _bump(latest, cid, created, updated)

    rows = _grouped(
        Episode.child_id,
        [
            func.max(Episode.updated_at),
            func.max(Episode.returned_at),
            _flag(Episode.status == EpisodeStatus.MISSING),
            # Away from placement, or missing from a placement: only a looked-after child is.
            _flag(or_(Episode.reported_type == "away", Episode.missing_from == "placement")),
        ],
        Episode.child_id.in_(child_ids),
    )
    for cid, updated, returned, still_missing, in_care in rows:
        _bump(latest, cid, updated, returned)
        if still_missing:
            holds[cid].add(rules.OPEN_EPISODE)
        if in_care:
            looked_after[cid] = True

    rows = _grouped(
        Interview.child_id,
        [func.max(Interview.updated_at), _flag(Interview.status.not_in(_FINISHED))],
        Interview.child_id.in_(child_ids),
    )
    for cid, updated, unfinished in rows:
        _bump(latest, cid, updated)
        if unfinished:
            holds[cid].add(rules.OPEN_INTERVIEW)

    rows = _grouped(
        ChildChange.child_id,
        [
            func.max(ChildChange.changed_at),
            _flag(
                or_(
                    ChildChange.fields.like("%legal_status%"),
                    ChildChange.fields.like("%looked_after%"),
                )
            ),
        ],
        ChildChange.child_id.in_(child_ids),
    )
    for cid, changed, status_changed in rows:
        _bump(latest, cid, changed)
        if status_changed:
            looked_after[cid] = True  # it may have said "looked after" before

    for model, columns in (
        (EscalationAction, [EscalationAction.recorded_at, EscalationAction.done_at]),
        (EpisodeChange, [EpisodeChange.changed_at]),
    ):
        rows = _grouped(
            Episode.child_id,
            [func.max(c) for c in columns],
            Episode.child_id.in_(child_ids),
            join=(model, model.episode_id == Episode.id),
        )
        for cid, *moments in rows:
            _bump(latest, cid, *moments)

    # Cases that hold a record while open: (model, its last activity, open when, the hold).
    for model, touched, open_when, hold in (
        (CmeCase, CmeCase.updated_at, CmeCase.status == CaseStatus.OPEN, rules.OPEN_CME_CASE),
        (
            FollowUp,
            FollowUp.created_at,
            FollowUp.status == FollowUpStatus.OPEN,
            rules.OPEN_SCHOOL_FOLLOWUP,
        ),
    ):
        rows = _grouped(
            model.child_id,
            [func.max(touched), func.max(model.closed_at), _flag(open_when)],
            model.child_id.in_(child_ids),
        )
        for cid, moment, closed, still_open in rows:
            _bump(latest, cid, moment, closed)
            if still_open:
                holds[cid].add(hold)

    for model, columns in (
        (Enquiry, [Enquiry.created_at]),
        (Referral, [Referral.checked_at, Referral.referred_at]),
    ):
        rows = _grouped(
            FollowUp.child_id,
            [func.max(c) for c in columns],
            FollowUp.child_id.in_(child_ids),
            join=(model, model.followup_id == FollowUp.id),
        )
        for cid, *moments in rows:
            _bump(latest, cid, *moments)

    for key, columns in (
        (Absence.child_id, [Absence.recorded_at]),
        (SchoolNotification.child_id, [SchoolNotification.sent_at]),
        (SchoolEntry.child_id, [SchoolEntry.received_at]),
        (ChildProfile.id, [ChildProfile.updated_at, ChildProfile.photo_updated_at]),
        (RiskPlan.id, [RiskPlan.updated_at, RiskPlan.reviewed_at]),
    ):
        for cid, *moments in _grouped(key, [func.max(c) for c in columns], key.in_(child_ids)):
            _bump(latest, cid, *moments)

    return {
        cid: rules.ChildFacts(
            date_of_birth=dob,
            died_on=died,
            looked_after=looked_after[cid],
            closed_on=local_date(latest[cid]),
            holds=frozenset(holds[cid]),
        )
        for cid, dob, died, *_ in kids
    }


def open_escalations(child_id: str, now: datetime) -> bool:
    """Whether any of the child's episodes has an escalation with no action recorded (the
    manager's worklist would show it). Asked only of children otherwise due: it reads the
    episodes whole, as the worklist does."""
    episodes = db.session.scalars(
        select(Episode).where(
            Episode.child_id == child_id, Episode.status != EpisodeStatus.WITHDRAWN
        )
    ).all()
    if not episodes:
        return False
    actions = escalations.actions_of([e.id for e in episodes])
    return any(
        task.is_open
        for e in episodes
        for task in escalations.episode_tasks(e, now, actions.get(e.id, {}))
    )


def decide(child_ids: list[str], on: date, cfg: rules.Settings) -> dict[str, rules.Decision]:
    now = utcnow()
    out = {}
    for cid, facts in facts_of(child_ids).items():
        decision = rules.assess(facts, on, cfg)
        if decision.due and open_escalations(cid, now):
            decision = rules.assess(
                rules.ChildFacts(
                    facts.date_of_birth,
                    facts.died_on,
                    facts.looked_after,
                    facts.closed_on,
                    facts.holds | {rules.OPEN_ESCALATION},
                ),
                on,
                cfg,
            )
        out[cid] = decision
    return out


# ---------------------------------------------------------------- the report


def _batches(size: int) -> Iterator[list[str]]:
    after = ""
    while True:
        ids = list(
            db.session.scalars(
                select(Child.id).where(Child.id > after).order_by(Child.id).limit(size)
            )
        )
        if not ids:
            return
        yield ids
        after = ids[-1]


def digest_of(body: dict) -> str:
    """SHA-256 over what the report decides (the date, the settings and every child's rule and
    rows), in a canonical form: the same findings give the same digest."""
    signed = {k: body[k] for k in ("as_of", "settings", "items")}
    canonical = json.dumps(signed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_report(on: date | None = None, cfg: rules.Settings | None = None) -> RetentionReport:
    """Decide about every child and keep the result. Deletes nothing."""
    on = on or today()
    cfg = cfg or settings()
    items = []
    held: Counter = Counter()
    held_ids: dict[str, list[str]] = defaultdict(list)
    kept: Counter = Counter()
    checked = 0
    for ids in _batches(FACT_BATCH):
        for cid, decision in sorted(decide(ids, on, cfg).items()):
            checked += 1
            if decision.due:
                rows = count_rows(related(cid))
                items.append(
                    {
                        "child": cid,
                        "rule": decision.rule,
                        "due_from": decision.due_from.isoformat(),
                        "rows": rows,
                    }
                )
            elif decision.holds and decision.due_from is not None and on >= decision.due_from:
                # Past its date but something is still in progress: someone must finish it.
                for hold in sorted(decision.holds):
                    held[hold] += 1
                    held_ids[hold].append(cid)
            else:
                kept[decision.rule] += 1
    rows_total: Counter = Counter()
    for item in items:
        rows_total.update(item["rows"])
    body = {
        "as_of": on.isoformat(),
        "settings": cfg.as_dict(),
        "items": items,
        "totals": {
            "checked": checked,
            "due": len(items),
            "by_rule": dict(Counter(item["rule"] for item in items)),
            "rows": dict(rows_total),
        },
        "held": dict(held),
        "held_children": dict(held_ids),
        "kept": dict(kept),
    }
    report = RetentionReport(digest=digest_of(body), as_of=on, body=body)
    db.session.add(report)
    db.session.flush()
    audit.record(
        "retention_report",
        "retention_report",
        str(report.id),
        detail=f"due={len(items)} digest={report.digest[:16]}",
    )
    db.session.commit()
    return report


def latest_report() -> RetentionReport | None:
    return db.session.scalar(select(RetentionReport).order_by(RetentionReport.id.desc()).limit(1))


# ---------------------------------------------------------------- applying it


@dataclass
class Outcome:
    deleted: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    rows: Counter = field(default_factory=Counter)


SKIP_GONE = "already deleted"
SKIP_NOT_DUE = "no longer due (something was recorded or reopened since the report)"
SKIP_RULE = "now due under another rule than the report's"
SKIP_CHANGED = "its rows changed since the report"


def _begin_exclusive() -> None:
    """Take the write lock first on SQLite (nothing may change between the check and the
    deletion); on PostgreSQL the rows are locked one by one below."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _lock(child_id: str) -> bool:
    """Lock the child and the rows whose changes would make it not due (a new episode needs the
    child's row: its foreign key waits for this lock)."""
    if db.session.scalar(select(Child.id).where(Child.id == child_id).with_for_update()) is None:
        return False
    for model in (Episode, Interview, FollowUp, CmeCase):
        db.session.execute(select(model.id).where(model.child_id == child_id).with_for_update())
    return True


def delete_child(item: dict, digest: str, on: date, cfg: rules.Settings) -> str | None:
    """Delete one child's record in one transaction, if it is still exactly as reported.
    Returns None when deleted, else why not (and nothing is changed)."""
    child_id = item["child"]
    try:
        _begin_exclusive()
        if not _lock(child_id):
            return SKIP_GONE
        decision = decide([child_id], on, cfg)[child_id]
        if not decision.due:
            return SKIP_NOT_DUE
        if decision.rule != item["rule"]:
            return SKIP_RULE
        r = related(child_id)
        if count_rows(r) != item["rows"]:
            return SKIP_CHANGED
        for _name, target, where in TABLES:
            db.session.execute(delete(_table(target)).where(where(r)))
        # Tombstones for the devices that hold any of the records (appended at commit, under
        # the change log's lock, like every other change).
        for model, ids in (
            (ChildProfile, {child_id}),  # the carer's "child" and the school's "pupil"
            (Episode, r.episodes),
            (Interview, r.interviews),
            (SchoolEntry, r.entries),
        ):
            changes.note_deleted(db.session, model, ids)
        audit.record(
            "retention_delete",
            "child",
            child_id,
            child_id=child_id,
            detail=f"rule={decision.rule} report={digest[:16]}",
        )
        db.session.commit()
        return None
    except BaseException:
        db.session.rollback()
        raise
    finally:
        if db.session().in_transaction():
            db.session.rollback()  # a skip: release the locks


def apply_report(
    report_ref: str,
    *,
    batch: int = 50,
    on: date | None = None,
    cfg: rules.Settings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Delete what the latest report found, if `report_ref` names it (its digest, or the first
    16 characters of it); refuse anything else."""
    on = on or today()
    cfg = cfg or settings()
    report = latest_report()
    ref = (report_ref or "").strip().lower()
    if report is None:
        raise RetentionError("There is no retention report: run `homeward retention report`")
    if len(ref) < 16 or not report.digest.startswith(ref):
        raise RetentionError(
            "That is not the latest report: apply only what was signed off, and sign off the "
            f"latest (report {report.id}, digest {report.digest[:16]})"
        )
    if report.applied_at is not None:
        raise RetentionError(f"Report {report.id} was applied already: make a new report")
    if digest_of(report.body) != report.digest:
        raise RetentionError(f"Report {report.id} does not match its digest: make a new report")
    if on < report.as_of:
        raise RetentionError("The report is dated after today: check the server's clock")
    if report.body["settings"] != cfg.as_dict():
        raise RetentionError(
            "The retention settings changed since the report was made: make a new report"
        )
    report_id, digest = report.id, report.digest
    items = list(report.body["items"])
    db.session.commit()
    outcome = Outcome()
    for start in range(0, len(items), batch):
        for item in items[start : start + batch]:
            why = delete_child(item, digest, on, cfg)
            if why is None:
                outcome.deleted.append(item["child"])
                outcome.rows.update(item["rows"])
            else:
                outcome.skipped[item["child"]] = why
        if progress:
            progress(min(start + batch, len(items)), len(items))
    db.session.execute(
        update(RetentionReport)
        .where(RetentionReport.id == report_id)
        .values(
            applied_at=utcnow(),
            outcome={"deleted": outcome.deleted, "skipped": outcome.skipped},
        )
    )
    audit.record(
        "retention_apply",
        "retention_report",
        str(report_id),
        detail=f"deleted={len(outcome.deleted)} skipped={len(outcome.skipped)}",
    )
    db.session.commit()
    return outcome


def record_death(child_id: str, died_on: date) -> None:
    """Record when a child died (the operator's command; no page yet). Audited, no content."""
    child = db.session.get(Child, child_id)
    if child is None:
        raise RetentionError("No child has that id")
    if died_on < child.date_of_birth or died_on > today():
        raise RetentionError("The date of death must be between the date of birth and today")
    child.died_on = died_on
    audit.record("update", "child", child_id, child_id=child_id, detail="died_on")
    db.session.commit()
