"""Retention of closed cases (issue 15) on both databases: children due and not due under each
rule, the report, applying it, every table clean of the due children's rows and untouched for the
others, the audit entry with no content, and the tombstones reaching devices through the real
sync API."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import String, Text, func, or_, select

from tests import factories
from tests.integration.test_sync_api import Device
from webapp import sealed
from webapp.accounts.models import OrgKind
from webapp.audit import AuditEvent
from webapp.carers.models import ChildProfile, RiskPlan
from webapp.children.models import ChildChange, LegalStatus
from webapp.db_types import new_id, utcnow
from webapp.episodes import escalations, tasks
from webapp.episodes.models import Episode, EpisodeChange, EscalationAction
from webapp.extensions import db
from webapp.fieldsync.models import SyncConflict
from webapp.interviews.models import Interview, InterviewStatus
from webapp.oversight.factors import InterviewFactor
from webapp.reminders.models import Reminder, ReminderAttempt
from webapp.retention import rules, service
from webapp.retention.models import RetentionReport
from webapp.schools.absence_models import (
    Absence,
    Enquiry,
    FollowUp,
    Referral,
    SchoolEntry,
    SchoolNotification,
)
from webapp.schools.cme_models import CmeCase

pytestmark = pytest.mark.both_databases

SIX_YEARS = rules.Settings(years_other=6)
# Words that must never leave the record: names and what was said, sealed or not.
SECRET = "Zanzibar-lighthouse"

# Tables that keep ids of deleted records on purpose (docs/operations/retention.md).
KEEPS_IDS = {"audit_events", "change_log", "sync_deliveries", "sync_mutations", "retention_reports"}


@dataclass
class World:
    authority: object
    worker: object
    manager: object
    carer: object
    school: object
    dsl: object


@pytest.fixture
def world(app):
    authority = factories.local_authority()
    worker = factories.worker(authority)
    manager = factories.manager(authority)
    carer = factories.carer(authority)
    school = factories.organisation(OrgKind.SCHOOL, authority)
    dsl = factories.school_dsl(school)
    db.session.commit()
    return World(authority, worker, manager, carer, school, dsl)


def _action_every_escalation(episode: Episode, at: datetime) -> None:
    """Record an action for every escalation the episode raises, as a manager would have."""
    db.session.flush()
    for task in escalations.episode_tasks(episode, utcnow()):
        if task.is_open:
            form = tasks.FORMS[tasks.deadlines.base_code(task.code)]
            db.session.add(
                EscalationAction(
                    episode_id=episode.id,
                    code=task.code,
                    kind=form.kinds[0].value,
                    done_at=at,
                    details_enc=sealed.seal({"note": SECRET}, "escalation_action", new_id(), "d"),
                    recorded_at=at,
                )
            )
    db.session.flush()


def full_record(w: World, *, looked_after: bool, dob: date, died_on=None, placed=False):
    """A child with a row in every table that hangs off children, everything finished."""
    kw = {"legal_status": LegalStatus.LOOKED_AFTER if looked_after else LegalStatus.NONE}
    if placed:
        child = factories.placed_child(w.carer, date_of_birth=dob, died_on=died_on, **kw)
    else:
        child = factories.child(w.authority, date_of_birth=dob, died_on=died_on, **kw)
    child.first_name = SECRET
    child.school_id = w.school.id
    ep = factories.episode(child, last_seen_hours_ago=60, missing_hours=5)
    ep.carer_notes = SECRET
    iv = factories.interview(
        status=InterviewStatus.AUTHORISED,
        worker_=w.worker,
        manager_=w.manager,
        child_=child,
        episodes=[ep],
        answers={"why_details": SECRET},
    )
    now = utcnow()
    db.session.flush()
    for model in (ChildProfile, RiskPlan):  # made with the child by some paths, not all
        if db.session.get(model, child.id) is None:
            db.session.add(model(id=child.id))
    db.session.add_all(
        [
            InterviewFactor(interview_id=iv.id, code="bored"),
            EpisodeChange(episode_id=ep.id, changed_by_id=w.manager.id, fields="returned_at"),
            ChildChange(child_id=child.id, changed_by_id=w.manager.id, fields="first_name"),
        ]
    )
    fu = FollowUp(
        child_id=child.id,
        school_id=w.school.id,
        opened_on=now.date() - timedelta(days=3),
        status="closed",
        closed_reason="seen_safe",
        closed_at=now,
    )
    db.session.add(fu)
    db.session.flush()
    note = SchoolNotification(
        child_id=child.id, school_id=w.school.id, followup_id=fu.id, kind="notify_day10"
    )
    db.session.add_all(
        [
            Absence(
                child_id=child.id,
                school_id=w.school.id,
                on=fu.opened_on,
                session="am",
                code="N",
                followup_id=fu.id,
            ),
            Enquiry(followup_id=fu.id, at=now, kind="phone_parent"),
            Referral(followup_id=fu.id),
            note,
            SchoolEntry(
                id=new_id(),
                action="absence",
                child_id=child.id,
                school_id=w.school.id,
                user_id=w.dsl.id,
            ),
        ]
    )
    db.session.flush()
    db.session.add(
        CmeCase(
            child_id=child.id,
            school_id=w.school.id,
            opened_from_id=note.id,
            status="closed",
            outcome="returned",
            closed_at=now,
        )
    )
    reminder = Reminder(
        key=f"rhi_due:{iv.id}:{w.worker.id}",
        kind="rhi_due",
        subject_type="interview",
        subject_id=iv.id,
        recipient_id=w.worker.id,
        due_at=now,
        stale_at=now,
        urgency="normal",
        topic="rhi",
        ttl_seconds=60,
        title="A return interview",
        body="is due",
        status="sent",
        next_attempt_at=now,
    )
    db.session.add(reminder)
    db.session.flush()
    db.session.add_all(
        [
            ReminderAttempt(reminder_id=reminder.id, subscription_id=new_id(), outcome="sent"),
            SyncConflict(
                record_type="interview",
                record_id=iv.id,
                user_id=w.worker.id,
                server_version=1,
                payload_enc=sealed.seal({"why": SECRET}, "sync_conflict", new_id(), "payload"),
            ),
        ]
    )
    child.sealed_flags = {"flag_cse": 1}
    ep.report = {"clothing": SECRET}
    db.session.flush()
    profile = db.session.get(ChildProfile, child.id)
    profile.content = {"description": SECRET}
    _action_every_escalation(ep, now)
    db.session.flush()
    return child


def _fingerprint(child_id: str) -> dict[str, int]:
    return service.count_rows(service.related(child_id))


def _tables_mentioning(ids: set[str]) -> dict[str, int]:
    """Rows of any table (but those that keep ids on purpose) with one of these ids in any
    string column: what deleting a record must leave none of."""
    found = {}
    for table in db.metadata.sorted_tables:
        if table.name in KEEPS_IDS:
            continue
        cols = [c for c in table.columns if isinstance(c.type, String | Text)]
        if not cols:
            continue
        n = db.session.scalar(
            select(func.count()).select_from(table).where(or_(*[c.in_(ids) for c in cols]))
        )
        if n:
            found[table.name] = n
    return found


def _all_ids(child_id: str) -> set[str]:
    r = service.related(child_id)
    return (
        {child_id}
        | r.episodes
        | r.interviews
        | r.followups
        | r.referrals
        | r.notifications
        | r.entries
        | r.reminders
    )


def _today():
    return service.today()


# ---------------------------------------------------------------- the rules over real records


def test_report_and_apply_delete_exactly_the_due_children(world):
    today = _today()
    # Looked after, 75th birthday long past: due.
    old_lac = full_record(world, looked_after=True, dob=date(1940, 5, 1))
    # Looked after, died at 10 more than 15 years ago: due.
    died_young = full_record(
        world, looked_after=True, dob=date(1995, 1, 1), died_on=date(2005, 6, 1)
    )
    # Looked after, died at 10, 14 years ago: not due.
    died_recently = full_record(
        world, looked_after=True, dob=today.replace(year=today.year - 24), died_on=None
    )
    died_recently.died_on = today.replace(year=today.year - 14)
    # Looked after, young: not due (75th birthday decades away).
    young_lac = full_record(world, looked_after=True, dob=date(2010, 1, 1))
    # Never looked after, all closed today: not due today under six years.
    other = full_record(world, looked_after=False, dob=date(2009, 3, 3))
    # Looked after, old, but still missing: held.
    missing = factories.child(
        world.authority, date_of_birth=date(1941, 1, 1), legal_status=LegalStatus.LOOKED_AFTER
    )
    factories.episode(missing, missing_hours=None)
    # Old and looked after, with an interview waiting for authorisation: held.
    waiting = factories.child(
        world.authority, date_of_birth=date(1942, 1, 1), legal_status=LegalStatus.LOOKED_AFTER
    )
    factories.interview(status=InterviewStatus.SUBMITTED, child_=waiting, worker_=world.worker)
    db.session.commit()
    keep = [died_recently, young_lac, other, missing, waiting]
    before = {c.id: _fingerprint(c.id) for c in keep}
    due_ids = {old_lac.id, died_young.id}
    due_rows = {cid: _fingerprint(cid) for cid in due_ids}
    all_due_ids = set().union(*(_all_ids(cid) for cid in due_ids))

    report = service.make_report(today, SIX_YEARS)
    items = {i["child"]: i for i in report.body["items"]}
    # The demo data's children are all young: only ours are due.
    assert set(items) == due_ids
    assert items[old_lac.id]["rule"] == rules.LAC_75
    assert items[died_young.id]["rule"] == rules.LAC_DIED
    assert items[old_lac.id]["rows"] == due_rows[old_lac.id]
    # Every table of the record is in the count.
    assert set(due_rows[old_lac.id]) == {name for name, _, _ in service.TABLES}
    assert report.body["held"] == {rules.OPEN_EPISODE: 1, rules.OPEN_INTERVIEW: 1}
    assert report.body["totals"]["rows"]["children"] == 2
    # A dry run: nothing gone.
    assert {cid: _fingerprint(cid) for cid in due_ids} == due_rows
    # No personal data in what the officer signs off.
    assert SECRET not in str(report.body)

    outcome = service.apply_report(report.digest[:16], on=today, cfg=SIX_YEARS)
    assert sorted(outcome.deleted) == sorted(due_ids) and not outcome.skipped
    db.session.expire_all()
    assert _tables_mentioning(all_due_ids) == {}
    assert {c.id: _fingerprint(c.id) for c in keep} == before
    # One audit entry per child, ids and the rule only.
    entries = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "retention_delete")
    ).all()
    assert {e.child_id for e in entries} == due_ids
    for e in entries:
        assert e.object_id == e.child_id
        assert e.detail.startswith(f"rule={items[e.child_id]['rule']} report=")
        assert SECRET not in repr([getattr(e, a) for a in ("detail", "object_type", "action")])
    # The trail itself is kept whole: the children's earlier entries are still there.
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) > len(entries)
    applied = db.session.get(RetentionReport, report.id)
    assert applied.applied_at is not None and sorted(applied.outcome["deleted"]) == sorted(due_ids)


def test_other_children_go_the_set_number_of_years_after_the_case_closed(world):
    child = full_record(world, looked_after=False, dob=date(2009, 3, 3))
    db.session.commit()
    closed = service.facts_of([child.id])[child.id].closed_on
    on_the_day = (
        closed.replace(year=closed.year + 6)
        if (closed.month, closed.day) != (2, 29)
        else date(closed.year + 6, 3, 1)
    )
    day_before = on_the_day - timedelta(days=1)
    assert child.id not in {
        i["child"] for i in service.make_report(day_before, SIX_YEARS).body["items"]
    }
    # With no local period, never.
    assert child.id not in {
        i["child"] for i in service.make_report(on_the_day, rules.Settings()).body["items"]
    }
    report = service.make_report(on_the_day, SIX_YEARS)
    (item,) = [i for i in report.body["items"] if i["child"] == child.id]
    assert item["rule"] == rules.OTHER and item["due_from"] == on_the_day.isoformat()


def test_a_child_who_was_ever_looked_after_keeps_the_longer_rule(world):
    # Not looked after now, but an episode away from placement says they were.
    child = full_record(world, looked_after=False, dob=date(2009, 3, 3))
    factories.episode(
        child,
        reported_type="away",
        missing_from="placement",
        missing_hours=2,
        last_seen_hours_ago=80,
    )
    ep = db.session.scalars(select(Episode).where(Episode.child_id == child.id)).all()
    for e in ep:
        _action_every_escalation(e, utcnow())
    db.session.commit()
    far = _today() + timedelta(days=365 * 10)
    decision = service.decide([child.id], far, SIX_YEARS)[child.id]
    assert decision.rule == rules.LAC_75 and not decision.due


def test_an_unactioned_escalation_holds_the_record(world):
    child = factories.child(
        world.authority, date_of_birth=date(1940, 1, 1), legal_status=LegalStatus.LOOKED_AFTER
    )
    # Missing for three days: the strategy meetings it called for were never recorded.
    factories.episode(child, last_seen_hours_ago=200, missing_hours=80)
    db.session.commit()
    report = service.make_report(_today(), SIX_YEARS)
    assert child.id not in {i["child"] for i in report.body["items"]}
    assert child.id in report.body["held_children"][rules.OPEN_ESCALATION]


# ---------------------------------------------------------------- apply refuses, and re-checks


def test_apply_refuses_anything_but_the_latest_unapplied_report(world):
    full_record(world, looked_after=True, dob=date(1940, 5, 1))
    db.session.commit()
    today = _today()
    first = service.make_report(today, SIX_YEARS)
    second = service.make_report(today, SIX_YEARS)
    assert first.digest == second.digest  # the same findings, the same digest
    with pytest.raises(service.RetentionError, match="not the latest"):
        service.apply_report("0" * 16, on=today, cfg=SIX_YEARS)
    with pytest.raises(service.RetentionError, match="not the latest"):
        service.apply_report(second.digest[:8], on=today, cfg=SIX_YEARS)  # too short
    with pytest.raises(service.RetentionError, match="settings changed"):
        service.apply_report(second.digest, on=today, cfg=rules.Settings(years_other=7))
    service.apply_report(second.digest, on=today, cfg=SIX_YEARS)
    with pytest.raises(service.RetentionError, match="applied already"):
        service.apply_report(second.digest, on=today, cfg=SIX_YEARS)


def test_a_child_whose_record_changed_since_the_report_is_not_deleted(world):
    today = _today()
    reopened = full_record(world, looked_after=True, dob=date(1940, 5, 1))
    corrected = full_record(world, looked_after=True, dob=date(1941, 5, 1))
    untouched = full_record(world, looked_after=True, dob=date(1942, 5, 1))
    db.session.commit()
    report = service.make_report(today, SIX_YEARS)
    # After the sign-off: one child goes missing again, another's record gains a correction.
    factories.episode(reopened, missing_hours=None)
    db.session.add(ChildChange(child_id=corrected.id, fields="first_name"))
    db.session.commit()
    before = {c.id: _fingerprint(c.id) for c in (reopened, corrected)}
    untouched_id = untouched.id
    outcome = service.apply_report(report.digest, on=today, cfg=SIX_YEARS)
    assert outcome.deleted == [untouched_id]
    assert outcome.skipped == {
        reopened.id: service.SKIP_NOT_DUE,
        corrected.id: service.SKIP_CHANGED,
    }
    db.session.expire_all()
    assert {c.id: _fingerprint(c.id) for c in (reopened, corrected)} == before


# ---------------------------------------------------------------- devices


def test_devices_holding_the_records_receive_tombstones_at_their_next_pull(world, as_user):
    child = full_record(world, looked_after=True, dob=date(1940, 5, 1), placed=True)
    other = full_record(world, looked_after=True, dob=date(2011, 5, 1), placed=True)
    db.session.commit()
    child_id = child.id
    interview_id = db.session.scalar(select(Interview.id).where(Interview.child_id == child.id))
    episode_ids = set(db.session.scalars(select(Episode.id).where(Episode.child_id == child.id)))
    worker_phone = Device(as_user(world.worker))
    carer_phone = Device(as_user(world.carer))

    def held(phone):
        page = phone.pull().json
        assert not page["has_more"]
        return page["cursor"], {(c["record_type"], c["record_id"]) for c in page["changes"]}

    worker_cursor, worker_has = held(worker_phone)
    carer_cursor, carer_has = held(carer_phone)
    assert ("interview", interview_id) in worker_has
    assert ("child", child.id) in carer_has and ("child", other.id) in carer_has
    assert {("episode", e) for e in episode_ids} <= carer_has

    report = service.make_report(_today(), SIX_YEARS)
    assert [i["child"] for i in report.body["items"]] == [child.id]
    service.apply_report(report.digest, on=_today(), cfg=SIX_YEARS)

    def tombstones(phone, cursor):
        page = phone.pull(cursor=cursor).json
        assert all(c["payload"] is None for c in page["changes"] if c["deleted"])
        return {(c["record_type"], c["record_id"]) for c in page["changes"] if c["deleted"]}

    assert tombstones(worker_phone, worker_cursor) == {("interview", interview_id)}
    assert tombstones(carer_phone, carer_cursor) == {("child", child_id)} | {
        ("episode", e) for e in episode_ids
    }
    # The other child's records stay on the carer's phone: a full copy still has them.
    _, now_has = held(Device(as_user(world.carer)))
    assert ("child", other.id) in now_has and ("child", child_id) not in now_has


# ---------------------------------------------------------------- the command


def _cli(args, app, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    environ.update(
        {
            "HOMEWARD_INSTANCE_PATH": app.instance_path,
            "HOMEWARD_ENV": "testing",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", "retention", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_command_reports_then_applies_with_ids_and_counts_only(world, app):
    child = full_record(world, looked_after=True, dob=date(1940, 5, 1))
    db.session.commit()
    child_id = child.id
    db.session.remove()  # the command's own connection writes; hold no lock meanwhile

    r = _cli(["apply", "--report", "0" * 16], app)
    assert r.returncode != 0 and "--confirm" in r.stderr
    r = _cli(["report"], app, HOMEWARD_RETENTION_YEARS_OTHER="6")
    assert r.returncode == 0, r.stderr
    assert child_id in r.stdout and SECRET not in r.stdout + r.stderr
    assert "Rows that would be deleted, by table:" in r.stdout
    digest = db.session.scalar(
        select(RetentionReport.digest).order_by(RetentionReport.id.desc()).limit(1)
    )
    assert digest in r.stdout
    db.session.remove()
    # The settings must be the report's.
    r = _cli(["apply", "--report", digest[:16], "--confirm"], app)
    assert r.returncode == 1 and "settings changed" in r.stderr
    r = _cli(
        ["apply", "--report", digest[:16], "--confirm"], app, HOMEWARD_RETENTION_YEARS_OTHER="6"
    )
    assert r.returncode == 0, r.stderr
    assert "Deleted 1 children's records." in r.stdout and SECRET not in r.stdout + r.stderr
    assert _tables_mentioning({child_id}) == {}
    r = _cli(["report", "--json"], app, HOMEWARD_RETENTION_YEARS_OTHER="six")
    assert r.returncode == 1 and "HOMEWARD_RETENTION_YEARS_OTHER" in r.stderr


def test_record_death_sets_the_date_and_audits_no_content(world, app):
    child = factories.child(world.authority, date_of_birth=date(2010, 4, 4))
    db.session.commit()
    child_id = child.id
    db.session.remove()
    r = _cli(["record-death", child_id, "2009-01-01"], app)
    assert r.returncode == 1 and "between the date of birth and today" in r.stderr
    r = _cli(["record-death", child_id, "2020-02-29"], app)
    assert r.returncode == 0, r.stderr
    from webapp.children.models import Child

    assert db.session.get(Child, child_id).died_on == date(2020, 2, 29)
    entry = db.session.scalar(
        select(AuditEvent).where(AuditEvent.child_id == child_id).order_by(AuditEvent.id.desc())
    )
    assert (entry.action, entry.detail) == ("update", "died_on")


def test_the_digest_is_over_the_findings(world):
    full_record(world, looked_after=True, dob=date(1940, 5, 1))
    db.session.commit()
    report = service.make_report(_today(), SIX_YEARS)
    body = report.body
    changed = dict(body, items=[dict(body["items"][0], rule="x")])
    assert service.digest_of(changed) != report.digest
    assert service.digest_of(body) == report.digest
    assert len(report.digest) == len(hashlib.sha256().hexdigest())
