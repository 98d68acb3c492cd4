"""The school DSL's tablet in field mode, the server's side, through the sync API (real HTTP, a
real database, SQLite and PostgreSQL).

What is proved here:

- A fresh tablet gets its own school (the calendar and the school's words) and its own school's
  pupils, no one else's; a worker's or a carer's phone gets no school or pupil record at all, and
  neither record can be written from a tablet.
- A day's work done with no signal (an absence with no reason yet, an enquiry, the always-refer
  checklist and the referral it called for, a milestone, the follow-up's facts) arrives in one
  push, each entry applied once by the web pages' services under the tablet's own ids; the next
  pull brings the pupil back with all of it, readable, and nothing typed is kept in clear.
- Sent once: the batch resent answers "replayed" and adds nothing; the same entry under a new
  mutation id (a second copy, from this tablet or another) is refused and adds nothing.
- A refusal names the field, leaves nothing behind (no entry, no row, no audit) and the rest of
  the batch is applied; a refused entry corrected and sent again under its own id is applied.
- A badly shaped entry is refused naming the field.
- Another school's DSL, or any DSL for a pupil with no school, makes nothing; a follow-up or a
  checklist of another pupil cannot be named.
- A pupil missing during the school day, from the tablet: an episode under the entry's id,
  missing from school, with its notification, shown on the pupil; the batch goes on after it, and
  a batch that fails after it keeps nothing of it (uow.batch() nested in a push does not commit).
- The school record carries the calendar as the web pages keep it. A calendar change on the web
  sends the school record again on the next incremental pull (and its deletion sends it again
  without it): calendar._changed() once moved the version with a SQL expression, which the change
  log's listener never saw.
- A follow-up closed from the tablet (seen safe, or the close action) refuses later entries with a
  clear message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from tests import factories
from tests.integration.helpers import fresh
from tests.integration.test_sync_api import Device
from webapp.accounts.models import Organisation, OrgKind, User
from webapp.audit import AuditEvent
from webapp.children.models import Child
from webapp.episodes.models import Episode
from webapp.extensions import db
from webapp.fieldsync.models import ChangeLog
from webapp.schools import absences
from webapp.schools.absence_models import (
    Absence,
    Enquiry,
    FollowUp,
    Referral,
    SchoolEntry,
    SchoolNotification,
)
from webapp.schools.calendar_models import SchoolClosure

pytestmark = pytest.mark.both_databases

OUTCOME_CANARY = "Canary-Tablet-Outcome-Aunt-Philippa-4410"
NOTES_CANARY = "Canary-Tablet-Notes-Uncle-Barnaby-2287"
REFERENCE_CANARY = "CANTAB-55120"
MINUTE = timedelta(minutes=1)


# ---------------------------------------------------------------- helpers


def now() -> datetime:
    return datetime.now(UTC)


def ago(minutes: int) -> str:
    """A time `minutes` ago, as the tablet sends it (ISO 8601 with its offset)."""
    return (now() - minutes * MINUTE).isoformat()


def days_ago(n: int) -> str:
    return (absences.today() - timedelta(days=n)).isoformat()


def new_id() -> str:
    return str(uuid.uuid4())


def entry(child: Child, action: str, entry_id: str | None = None, *, mid=None, **fields) -> dict:
    """A push mutation creating one school_entry (the tablet's own id for the entry)."""
    return {
        "mutation_id": mid or new_id(),
        "record_type": "school_entry",
        "record_id": entry_id or new_id(),
        "op": "upsert",
        "base_version": None,
        "payload": {"action": action, "child_id": child.id, **fields},
    }


def absence(child, entry_id=None, *, on=None, code="", **kw):
    """Absent all day, no reason yet (opens a follow-up), two days ago unless `on`."""
    return entry(
        child, "absence", entry_id, on=on or days_ago(2), sessions=["am", "pm"], code=code, **kw
    )


def enquiry(child, entry_id=None, **over):
    fields = {
        "followup_id": None,
        "kind": "parent_call",
        "at": ago(10),
        "outcome": f"Mum says staying at gran's {OUTCOME_CANARY}",
        "seen_safe": False,
    }
    return entry(child, "enquiry", entry_id, **(fields | over))


def checklist_answers(*yes: str) -> dict:
    """Every always-refer question answered no, but those in `yes`, and a note."""
    answers = {key: "no" for key in absences.ALWAYS_REFER}
    answers.update({key: "yes" for key in yes})
    answers["notes"] = f"Moved twice this year {NOTES_CANARY}"
    return answers


def results(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["results"]


def statuses(response) -> list[str]:
    return [r["status"] for r in results(response)]


def pulled(device: Device, cursor: str | None = None) -> tuple[dict[tuple[str, str], dict], str]:
    """What a pull sends, by (record type, record id), and the cursor for the next one."""
    r = device.pull(cursor=cursor)
    assert r.status_code == 200, r.get_data(as_text=True)
    return {(c["record_type"], c["record_id"]): c for c in r.json["changes"]}, r.json["cursor"]


def changes(device: Device, cursor: str | None = None) -> dict[tuple[str, str], dict]:
    return pulled(device, cursor)[0]


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def written(child: Child) -> dict[str, int]:
    """How many rows of each kind the school's work on `child` has made, audit included."""
    followups = select(FollowUp.id).where(FollowUp.child_id == child.id)
    return {
        "followups": count(FollowUp, FollowUp.child_id == child.id),
        "absences": count(Absence, Absence.child_id == child.id),
        "enquiries": count(Enquiry, Enquiry.followup_id.in_(followups)),
        "referrals": count(Referral, Referral.followup_id.in_(followups)),
        "notifications": count(SchoolNotification, SchoolNotification.child_id == child.id),
        "episodes": count(Episode, Episode.child_id == child.id),
        "entries": count(SchoolEntry, SchoolEntry.child_id == child.id),
        "audit": count(AuditEvent, AuditEvent.child_id == child.id),
    }


def nothing_left_by(entry_id: str) -> None:
    """A refused entry left no trace: no entry, no record under its id, no audit, no log."""
    db.session.expire_all()
    assert db.session.get(SchoolEntry, entry_id) is None
    assert db.session.get(Enquiry, entry_id) is None
    assert db.session.get(Referral, entry_id) is None
    assert db.session.get(Episode, entry_id) is None
    assert count(AuditEvent, AuditEvent.object_id == entry_id) == 0
    assert count(ChangeLog, ChangeLog.record_id == entry_id) == 0


def followup_of(child: Child) -> FollowUp:
    db.session.expire_all()
    (followup,) = db.session.scalars(select(FollowUp).where(FollowUp.child_id == child.id))
    return followup


def rejected(result: dict, http_status: int, field: str | None) -> None:
    assert result["status"] == "rejected", result
    assert result["http_status"] == http_status, result
    assert result["error"]["field"] == field, result
    assert result["client_action"] == "keep_and_show", result


# ---------------------------------------------------------------- fixtures


@dataclass
class World:
    authority: Organisation
    school: Organisation
    dsl: User
    pupil: Child
    other_school: Organisation
    other_dsl: User
    elsewhere: Child  # a pupil of the other school


@pytest.fixture
def world(app) -> World:
    authority = factories.local_authority()
    school = factories.organisation(OrgKind.SCHOOL, authority)
    other_school = factories.organisation(OrgKind.SCHOOL, authority)
    w = World(
        authority=authority,
        school=school,
        dsl=factories.school_dsl(school),
        pupil=factories.school_pupil(school, first_name="Ottoline"),
        other_school=other_school,
        other_dsl=factories.school_dsl(other_school),
        elsewhere=factories.school_pupil(other_school, first_name="Quentina"),
    )
    db.session.commit()
    return w


@pytest.fixture
def tablet(as_user, world) -> Device:
    """The school DSL's tablet, signed in."""
    return Device(as_user(world.dsl))


# ---------------------------------------------------------------- what a tablet keeps


def test_a_fresh_tablet_gets_its_school_and_only_its_own_pupils(as_user, world, tablet, me):
    second = factories.school_pupil(world.school, first_name="Bartholomew")
    carer = factories.carer(world.authority)
    placed = factories.placed_child(carer)  # a carer's child, at no school
    db.session.commit()

    pulled = changes(tablet)
    assert set(pulled) == {
        ("school", world.school.id),
        ("pupil", world.pupil.id),
        ("pupil", second.id),
    }
    school = pulled[("school", world.school.id)]["payload"]
    assert (school["name"], school["urn"]) == (world.school.name, world.school.urn)
    assert set(school["calendar"]) == {"terms", "closures", "bank_holidays"}
    assert school["calendar"]["bank_holidays"]  # England's, named, for counting offline
    assert {"code": "", "label": "No reason yet"} in school["codes"]
    assert school["timeline_kinds"] == list(absences.TIMELINE_KINDS)
    assert [q["key"] for q in school["always_refer"]] == list(absences.ALWAYS_REFER)

    pupil = pulled[("pupil", world.pupil.id)]["payload"]
    assert pupil["child"]["id"] == world.pupil.id
    assert pupil["child"]["first_name"] == "Ottoline"
    assert (pupil["absences"], pupil["followup"], pupil["missing"]) == ([], None, None)

    # A worker's phone and a carer's phone keep no school and no pupil.
    for person in (me, carer):
        kept = {c["record_type"] for c in Device(as_user(person)).pull().json["changes"]}
        assert kept.isdisjoint({"school", "pupil", "school_entry"}), (person.role, kept)
    assert ("pupil", placed.id) not in pulled


def test_the_tablet_cannot_write_the_school_or_a_pupil(tablet, world):
    before = fresh(world.school).version
    school = {
        "mutation_id": new_id(),
        "record_type": "school",
        "record_id": world.school.id,
        "op": "upsert",
        "base_version": before,
        "payload": {"name": "Renamed"},
    }
    pupil = school | {
        "mutation_id": new_id(),
        "record_type": "pupil",
        "record_id": world.pupil.id,
        "base_version": 1,
        "payload": {"child": {"first_name": "Renamed"}},
    }
    first, second = results(tablet.push([school, pupil]))
    rejected(first, 422, None)
    rejected(second, 422, None)
    assert "web pages" in first["error"]["message"]
    assert "entries" in second["error"]["message"]
    assert fresh(world.school).name != "Renamed" and fresh(world.school).version == before
    assert fresh(world.pupil).first_name == "Ottoline"


# ---------------------------------------------------------------- a day's work, offline


DAYS_WORK = ("absence", "enquiry", "checklist", "referral", "notify", "facts")


def a_days_work(child: Child) -> tuple[list[dict], dict[str, str]]:
    """The work of a morning with no signal, in the order it was done, and the entries' ids."""
    ids = {name: new_id() for name in DAYS_WORK}
    batch = [
        absence(child, ids["absence"]),
        enquiry(child, ids["enquiry"]),
        entry(
            child,
            "checklist",
            ids["checklist"],
            followup_id=None,
            answers=checklist_answers("moves_frequently"),
        ),
        entry(
            child,
            "referral",
            ids["referral"],
            referral_id=ids["checklist"],
            referred_to="social_care",
            referred_at=ago(5),
            reference=REFERENCE_CANARY,
        ),
        entry(child, "notify", ids["notify"], followup_id=None, milestone="ews_day3"),
        entry(
            child, "facts", ids["facts"], followup_id=None, illness=True, whereabouts_unknown=True
        ),
    ]
    return batch, ids


def test_a_days_work_done_offline_is_applied_once_and_comes_back_on_the_pupil(tablet, world):
    pupil = world.pupil
    cursor = tablet.pull().json["cursor"]
    batch, ids = a_days_work(pupil)

    assert statuses(tablet.push(batch)) == ["applied"] * len(batch)

    # One follow-up, opened by the absence; everything after it joined that one.
    followup = followup_of(pupil)
    assert followup.opened_on == date.fromisoformat(days_ago(2))
    assert followup.is_open and followup.illness and followup.whereabouts_unknown
    assert count(Absence, Absence.followup_id == followup.id, Absence.code == "") == 2
    # The enquiry and the checklist under the tablet's own ids.
    (enq,) = db.session.scalars(select(Enquiry).where(Enquiry.followup_id == followup.id))
    assert enq.id == ids["enquiry"]
    assert (enq.kind, enq.seen_safe) == ("parent_call", False)
    assert enq.outcome.endswith(OUTCOME_CANARY)
    assert enq.recorded_by_id == world.dsl.id
    (ref,) = db.session.scalars(select(Referral).where(Referral.followup_id == followup.id))
    assert ref.id == ids["checklist"]
    assert ref.any_yes and ref.answers["moves_frequently"] == "yes"
    assert ref.answers["notes"].endswith(NOTES_CANARY)
    assert (ref.referred_to, ref.reference) == ("social_care", REFERENCE_CANARY)
    assert ref.referred_at is not None
    kinds = db.session.scalars(
        select(SchoolNotification.kind)
        .where(SchoolNotification.followup_id == followup.id)
        .order_by(SchoolNotification.kind)
    ).all()
    assert kinds == ["ews_day3", "referral"]
    # Each entry kept once: what arrived, from whom, from which device.
    entries = {e.id: e for e in db.session.scalars(select(SchoolEntry))}
    assert set(entries) == set(ids.values())
    assert {e.action for e in entries.values()} == set(ids)
    assert {(e.user_id, e.school_id, e.child_id) for e in entries.values()} == {
        (world.dsl.id, world.school.id, pupil.id)
    }
    assert len({e.device_id for e in entries.values()}) == 1
    assert None not in {e.device_id for e in entries.values()}
    # Audited as the web pages audit.
    assert count(AuditEvent, AuditEvent.object_id == ids["enquiry"]) == 1
    assert count(AuditEvent, AuditEvent.object_id == ids["checklist"]) == 2  # answers, referral

    # The next pull brings the pupil back with all of it (and never an entry).
    pulled = changes(tablet, cursor)
    assert ("pupil", pupil.id) in pulled
    assert not any(record_type == "school_entry" for record_type, _ in pulled)
    payload = pulled[("pupil", pupil.id)]["payload"]
    assert [(a["on"], a["code"]) for a in payload["absences"]] == [(days_ago(2), "")] * 2
    shown = payload["followup"]
    assert (shown["id"], shown["status"], shown["illness"]) == (followup.id, "open", True)
    (shown_enquiry,) = shown["enquiries"]
    assert shown_enquiry["id"] == ids["enquiry"]
    assert shown_enquiry["outcome"].endswith(OUTCOME_CANARY)
    (shown_referral,) = shown["referrals"]
    assert shown_referral["id"] == ids["checklist"] and shown_referral["any_yes"] is True
    assert shown_referral["referred_to"] == "social_care"
    assert shown_referral["reference"] == REFERENCE_CANARY
    assert set(shown["sent"]) == {"ews_day3", "referral"}

    # Nothing the DSL typed is kept in clear anywhere.
    for table in (
        "school_enquiries",
        "school_referrals",
        "school_entries",
        "sync_mutations",
        "change_log",
        "audit_events",
    ):
        dump = " ".join(str(row) for row in db.session.execute(text(f"SELECT * FROM {table}")))
        for canary in (OUTCOME_CANARY, NOTES_CANARY, REFERENCE_CANARY):
            assert canary not in dump, (table, canary)


def test_work_is_applied_once_however_often_it_is_sent(as_user, tablet, world):
    pupil = world.pupil
    batch, ids = a_days_work(pupil)
    assert statuses(tablet.push(batch)) == ["applied"] * len(batch)
    after_first = written(pupil)

    # The tablet never heard the answer: the same batch again.
    assert statuses(tablet.push(batch)) == ["replayed"] * len(batch)
    assert written(pupil) == after_first

    # The same entries under new mutation ids (a copy of the outbox, or a second tablet of the
    # same DSL): each refused, nothing added.
    second_tablet = Device(as_user(world.dsl))
    for device in (tablet, second_tablet):
        copies = [m | {"mutation_id": new_id()} for m in batch]
        for result in results(device.push(copies)):
            rejected(result, 404, None)
        assert written(pupil) == after_first
    assert count(SchoolEntry) == len(batch)


# ---------------------------------------------------------------- refusals


def test_a_refusal_names_the_field_leaves_nothing_and_the_batch_goes_on(tablet, world):
    pupil = world.pupil
    unknown_kind, in_future, fine = new_id(), new_id(), new_id()
    batch = [
        absence(pupil),
        enquiry(pupil, unknown_kind, kind="carrier_pigeon"),
        enquiry(pupil, in_future, at=(now() + timedelta(hours=2)).isoformat()),
        enquiry(pupil, fine),
    ]
    first, kind, at, last = results(tablet.push(batch))
    assert first["status"] == "applied" and last["status"] == "applied"
    rejected(kind, 422, "kind")
    assert kind["error"]["message"] == "Choose the kind of contact"
    rejected(at, 422, "at")
    assert "must be in the past" in at["error"]["message"]
    nothing_left_by(unknown_kind)
    nothing_left_by(in_future)
    assert [e.id for e in followup_of(pupil).enquiries] == [fine]
    assert count(SchoolEntry) == 2

    # Corrected on the tablet, the refused entry goes again under its own id: applied.
    (r,) = results(tablet.push([enquiry(pupil, unknown_kind, kind="home_visit")]))
    assert r["status"] == "applied", r
    assert {e.id for e in followup_of(pupil).enquiries} == {fine, unknown_kind}
    assert db.session.get(Enquiry, unknown_kind).kind == "home_visit"


def enquiry_payload(**over) -> dict:
    return {"action": "enquiry", "kind": "parent_call", "at": ago(10), "outcome": "x"} | over


def absence_payload(child, **over) -> dict:
    return {"action": "absence", "child_id": child.id, "on": days_ago(1), "code": ""} | over


def shape(name: str, make, field: str):
    return pytest.param(make, field, id=name)


BAD_SHAPES = [
    shape("unknown action", lambda p: enquiry(p) | {"payload": {"action": "teleport"}}, "action"),
    shape("extra key", lambda p: enquiry(p, colour="red"), "colour"),
    shape("time without offset", lambda p: enquiry(p, at="2026-11-30T09:00:00"), "at"),
    shape("time that is no time", lambda p: enquiry(p, at="yesterday"), "at"),
    shape(
        "child id not an id",
        lambda p: enquiry(p) | {"payload": enquiry_payload(child_id="42")},
        "child_id",
    ),
    shape("follow-up id not an id", lambda p: enquiry(p, followup_id="latest"), "followup_id"),
    shape("seen safe not a yes/no", lambda p: enquiry(p, seen_safe="yes"), "seen_safe"),
    shape("outcome not text", lambda p: enquiry(p, outcome=["fine"]), "outcome"),
    shape("date not ISO", lambda p: absence(p, on="30/11/2026"), "on"),
    shape(
        "sessions not a list",
        lambda p: absence(p) | {"payload": absence_payload(p, sessions="am")},
        "sessions",
    ),
    shape(
        "referral with no checklist id",
        lambda p: entry(p, "referral", referred_to="police"),
        "referral_id",
    ),
    shape(
        "answer not text",
        lambda p: entry(p, "checklist", answers={"cp_plan": True}),
        "answers.cp_plan",
    ),
    shape(
        "facts with one of the two left out",
        lambda p: entry(p, "facts", illness=True),
        "whereabouts_unknown",
    ),
    shape(
        "report field unknown",
        lambda p: entry(p, "missing", report={"shoe_size": "5"}),
        "report.shoe_size",
    ),
]


@pytest.mark.parametrize(("make", "field"), BAD_SHAPES)
def test_a_badly_shaped_entry_is_refused_naming_the_field(tablet, world, make, field):
    pupil = world.pupil
    results(tablet.push([absence(pupil)]))  # an open follow-up, so only the shape is wrong
    before = written(pupil)
    bad = make(pupil)
    (r,) = results(tablet.push([bad]))
    rejected(r, 422, field)
    assert r["error"]["code"] == "invalid_payload"
    nothing_left_by(bad["record_id"])
    assert written(pupil) == before


# ---------------------------------------------------------------- whose pupil


def test_only_the_pupils_own_school_makes_entries_for_them(as_user, tablet, world):
    pupil, elsewhere = world.pupil, world.elsewhere
    no_school = factories.child(world.authority, first_name="Ignatius")
    placed = factories.placed_child(factories.carer(world.authority))
    db.session.commit()
    before = {c.id: written(c) for c in (pupil, elsewhere, no_school, placed)}

    # Another school's DSL, for this school's pupil: as if the pupil did not exist.
    other_tablet = Device(as_user(world.other_dsl))
    attempts = [absence(pupil), enquiry(pupil), entry(pupil, "missing", last_seen_at=ago(30))]
    for result in results(other_tablet.push(attempts)):
        rejected(result, 404, None)
    assert ("pupil", pupil.id) not in changes(other_tablet)

    # This school's DSL, for a pupil of another school, a child at no school, a carer's child.
    for child in (elsewhere, no_school, placed):
        (r,) = results(tablet.push([absence(child)]))
        rejected(r, 404, None)
    for m in attempts:
        nothing_left_by(m["record_id"])
    assert {c.id: written(c) for c in (pupil, elsewhere, no_school, placed)} == before
    assert count(SchoolEntry) == 0


def test_an_entry_cannot_name_another_pupils_follow_up_or_checklist(tablet, world):
    pupil = world.pupil
    second = factories.school_pupil(world.school, first_name="Bartholomew")
    db.session.commit()
    checklist = new_id()
    batch = [
        absence(pupil),
        entry(pupil, "checklist", checklist, followup_id=None, answers=checklist_answers("s47")),
        absence(second),
    ]
    assert statuses(tablet.push(batch)) == ["applied"] * 3
    theirs = followup_of(pupil)
    before = written(second)

    wrong_followup = enquiry(second, followup_id=theirs.id)
    wrong_checklist = entry(
        second, "referral", referral_id=checklist, referred_to="police", referred_at=ago(1)
    )
    first, last = results(tablet.push([wrong_followup, wrong_checklist]))
    rejected(first, 422, "followup_id")
    rejected(last, 422, "referral_id")
    assert written(second) == before
    assert fresh(db.session.get(Referral, checklist)).referred_at is None
    assert fresh(theirs).enquiries == []


# ---------------------------------------------------------------- missing in the school day


def missing(child, entry_id=None):
    return entry(
        child,
        "missing",
        entry_id,
        last_seen_at=ago(60),
        reported_to_police_at=ago(30),
        police_log_number="PC-4471",
        circumstances="Left through the field gate at lunch",
        report={"where_last_seen": "The field gate", "clothing": "Green blazer"},
    )


def test_a_pupil_missing_in_the_school_day_from_the_tablet_and_the_batch_goes_on(tablet, world):
    pupil = world.pupil
    cursor = tablet.pull().json["cursor"]
    episode_id, after = new_id(), new_id()
    batch = [absence(pupil), missing(pupil, episode_id), enquiry(pupil, after)]
    assert statuses(tablet.push(batch)) == ["applied"] * 3

    episode = fresh(db.session.get(Episode, episode_id))
    assert (episode.missing_from, episode.reported_type, episode.status) == (
        "school",
        "missing",
        "missing",
    )
    assert episode.reported_by_id == world.dsl.id
    assert episode.police_log_number == "PC-4471"
    assert episode.report == {"where_last_seen": "The field gate", "clothing": "Green blazer"}
    (note,) = db.session.scalars(
        select(SchoolNotification).where(SchoolNotification.kind == "missing_in_school_day")
    ).all()
    assert (note.episode_id, note.child_id) == (episode_id, pupil.id)
    assert note.followup_id == followup_of(pupil).id
    # The entry after it was applied in the same batch.
    assert db.session.get(SchoolEntry, after) is not None
    assert [e.id for e in followup_of(pupil).enquiries] == [after]

    shown = changes(tablet, cursor)[("pupil", pupil.id)]["payload"]
    assert shown["missing"]["id"] == episode_id
    last_seen = datetime.fromisoformat(batch[1]["payload"]["last_seen_at"])
    assert datetime.fromisoformat(shown["missing"]["last_seen_at"]) == last_seen

    # Sent again as a new copy: refused, still one episode.
    (r,) = results(tablet.push([missing(pupil, episode_id)]))
    rejected(r, 404, None)
    assert count(Episode, Episode.child_id == pupil.id) == 1


def test_a_batch_that_fails_after_a_missing_report_keeps_none_of_it(tablet, world, monkeypatch):
    """report_missing_in_school_day makes its changes in a uow.batch() of its own; inside a push
    that batch must not commit, or a push that fails later (and is sent again whole) would leave
    the episode made, and the resend would refuse it as a second copy."""
    from sqlalchemy.exc import OperationalError

    from webapp.schools import sync

    pupil = world.pupil
    episode_id, after = new_id(), new_id()
    batch = [missing(pupil, episode_id), absence(pupil, after)]
    real = sync.EntryHandler.write

    def connection_lost_at_the_second(self, actor, record_id, *args, **kwargs):
        if str(record_id) == after:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real(self, actor, record_id, *args, **kwargs)

    monkeypatch.setattr(sync.EntryHandler, "write", connection_lost_at_the_second)
    r = tablet.push(batch)
    assert r.status_code == 500 and r.json["error"] == "server_error"
    db.session.expire_all()
    assert db.session.get(Episode, episode_id) is None
    assert count(SchoolNotification, SchoolNotification.child_id == pupil.id) == 0
    assert count(SchoolEntry) == 0
    assert count(AuditEvent, AuditEvent.object_id == episode_id) == 0

    monkeypatch.setattr(sync.EntryHandler, "write", real)
    assert statuses(tablet.push(batch)) == ["applied", "applied"]
    assert db.session.get(Episode, episode_id).missing_from == "school"


# ---------------------------------------------------------------- the calendar


def next_weekday(after_days: int) -> date:
    d = absences.today() + timedelta(days=after_days)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def closure_form(on: date, reason: str) -> dict:
    return {"closure-on": [str(on.day), str(on.month), str(on.year)], "closure-reason": reason}


def test_a_full_pull_sends_the_calendar_as_the_web_keeps_it(as_user, tablet, world):
    school = world.school
    closed = next_weekday(14)
    r = tablet.b.post("/school/calendar/closures", closure_form(closed, "INSET day"))
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    calendar = changes(Device(as_user(world.dsl)))[("school", school.id)]["payload"]["calendar"]
    assert calendar["closures"] == [[closed.isoformat(), "INSET day"]]

    (closure,) = db.session.scalars(
        select(SchoolClosure).where(SchoolClosure.school_id == school.id)
    )
    r = tablet.b.post(f"/school/calendar/closures/{closure.id}/delete")
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    calendar = changes(Device(as_user(world.dsl)))[("school", school.id)]["payload"]["calendar"]
    assert calendar["closures"] == []


def test_a_calendar_change_on_the_web_sends_the_school_again(tablet, world):
    school = world.school
    cursor = tablet.pull().json["cursor"]
    version = fresh(school).version
    closed = next_weekday(14)

    # The DSL adds a closure day on the calendar page.
    r = tablet.b.post("/school/calendar/closures", closure_form(closed, "INSET day"))
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    assert fresh(school).version > version  # the school's version did move on
    sent, next_cursor = pulled(tablet, cursor)
    assert list(sent) == [("school", school.id)]  # the school only: no pupil sent again
    school_record = sent[("school", school.id)]
    assert school_record["version"] > version
    assert school_record["payload"]["calendar"]["closures"] == [[closed.isoformat(), "INSET day"]]

    # Deleted: sent again, without it.
    (closure,) = db.session.scalars(
        select(SchoolClosure).where(SchoolClosure.school_id == school.id)
    )
    r = tablet.b.post(f"/school/calendar/closures/{closure.id}/delete")
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    sent, _ = pulled(tablet, next_cursor)
    assert list(sent) == [("school", school.id)]
    assert sent[("school", school.id)]["payload"]["calendar"]["closures"] == []
    assert sent[("school", school.id)]["version"] > school_record["version"]


# ---------------------------------------------------------------- closing the follow-up


CLOSINGS = {
    "seen safe": lambda p: enquiry(p, kind="home_visit", seen_safe=True, outcome="Seen at home"),
    "close action": lambda p: entry(p, "close", followup_id=None, reason="removed_from_roll"),
}


@pytest.mark.parametrize("how", CLOSINGS)
def test_a_follow_up_closed_from_the_tablet_takes_no_more_entries(tablet, world, how):
    pupil = world.pupil
    cursor = tablet.pull().json["cursor"]
    assert statuses(tablet.push([absence(pupil), CLOSINGS[how](pupil)])) == ["applied"] * 2
    followup = followup_of(pupil)
    assert not followup.is_open and followup.closed_at is not None
    reason = "seen_safe" if how == "seen safe" else "removed_from_roll"
    assert followup.closed_reason == reason
    shown = changes(tablet, cursor)[("pupil", pupil.id)]["payload"]["followup"]
    assert (shown["id"], shown["status"], shown["closed_reason"]) == (followup.id, "closed", reason)
    assert shown["closed_on"] is not None
    before = written(pupil)

    named = enquiry(pupil, followup_id=followup.id)
    unnamed = enquiry(pupil)
    checklist = entry(pupil, "checklist", followup_id=None, answers=checklist_answers())
    close_again = entry(pupil, "close", followup_id=followup.id, reason="other")
    r_named, r_unnamed, r_checklist, r_close = results(
        tablet.push([named, unnamed, checklist, close_again])
    )
    rejected(r_named, 422, None)
    assert r_named["error"]["message"] == "This follow-up is closed"
    rejected(r_close, 422, None)
    assert r_close["error"]["message"] == "This follow-up is closed"
    for r in (r_unnamed, r_checklist):
        rejected(r, 422, None)
        assert r["error"]["message"].startswith("This pupil has no open follow-up")
    assert written(pupil) == before
    assert followup_of(pupil).closed_reason == reason


def test_a_close_needs_a_known_reason(tablet, world):
    pupil = world.pupil
    results(tablet.push([absence(pupil)]))
    (r,) = results(tablet.push([entry(pupil, "close", followup_id=None, reason="bored")]))
    rejected(r, 422, "reason")
    assert followup_of(pupil).is_open


# ---------------------------------------------------------------- a pupil new to the school


@dataclass
class _Pupil:
    """A pupil known only by the tablet's id (not yet a Child here)."""

    id: str


NEW_UPN = "P555555555555"  # a valid check letter


def new_pupil(child_id: str, **over) -> dict:
    """A push mutation adding a pupil on the tablet: the entry's id is the new pupil's."""
    fields = {
        "first_name": "Wilhelmina",
        "last_name": "Ashdown",
        "date_of_birth": "2014-03-27",
        "sex": "female",
        "upn": NEW_UPN.lower(),
        "year_group": "7",
    } | over
    return entry(_Pupil(child_id), "pupil", child_id, **fields)


def test_a_pupil_added_with_no_signal_is_on_the_roll_with_the_tablets_id(tablet, world):
    child_id = new_id()
    batch = [new_pupil(child_id), absence(_Pupil(child_id))]
    assert statuses(tablet.push(batch)) == ["applied", "applied"]
    added = db.session.get(Child, child_id)
    assert added is not None and added.school_id == world.school.id
    assert (added.upn, added.year_group, added.sex) == (NEW_UPN, "7", "female")
    # Her absence, recorded straight after on the tablet, opened her follow-up.
    assert db.session.scalars(select(FollowUp).where(FollowUp.child_id == child_id)).one()
    pupil = changes(tablet)[("pupil", child_id)]["payload"]
    assert pupil["child"]["first_name"] == "Wilhelmina" and pupil["followup"]["status"] == "open"
    # Sent again under a new mutation id: refused, nobody added twice.
    again = results(tablet.push([new_pupil(child_id)]))[0]
    assert again["status"] != "applied"
    assert (
        db.session.scalar(select(func.count()).select_from(Child).where(Child.upn == NEW_UPN)) == 1
    )


def test_a_pupil_is_refused_in_the_web_forms_words_and_nothing_is_added(tablet, world):
    factories.school_pupil(world.school, upn=NEW_UPN)
    db.session.commit()
    cases = [
        (new_pupil(new_id()), "upn", "A pupil with this UPN is already on your school's list"),
        (new_pupil(new_id(), upn="A123"), "upn", None),
        (new_pupil(new_id(), upn="D555555555556", first_name=""), "first_name", None),
        (new_pupil(new_id(), upn="D555555555556", year_group="14"), "year_group", None),
    ]
    before = db.session.scalar(select(func.count()).select_from(Child))
    for mutation, field, message in cases:
        (result,) = results(tablet.push([mutation]))
        assert result["status"] == "rejected", result
        assert result["error"]["field"] == field, result
        if message:
            assert result["error"]["message"] == message
    assert db.session.scalar(select(func.count()).select_from(Child)) == before


def test_a_pupil_added_twice_by_two_tablets_with_one_upn_is_one_pupil(as_user, tablet, world):
    second = Device(as_user(world.dsl))
    assert statuses(tablet.push([new_pupil(new_id())])) == ["applied"]
    (result,) = results(second.push([new_pupil(new_id())]))
    assert result["status"] == "rejected" and result["error"]["field"] == "upn"


def test_a_pupil_already_known_without_a_upn_is_found_by_the_tablets_id(as_user, tablet, world):
    """A child the school had on its roll with no UPN yet (a carer's report, an early import)
    is the pupil the DSL adds: the server keeps the child's own id, and the tablet's id for them
    still finds them for the entries that follow."""
    known = factories.school_pupil(
        world.school,
        first_name="Wilhelmina",
        last_name="Ashdown",
        upn=None,
        date_of_birth=date(2014, 3, 27),
    )
    db.session.commit()
    child_id = new_id()
    batch = [new_pupil(child_id), absence(_Pupil(child_id))]
    assert statuses(tablet.push(batch)) == ["applied", "applied"]
    assert db.session.get(Child, child_id) is None
    assert fresh(known).upn == NEW_UPN
    assert db.session.scalars(select(FollowUp).where(FollowUp.child_id == known.id)).one()
    # Another school's DSL cannot use that id to reach the pupil.
    other = entry(_Pupil(child_id), "absence", on=days_ago(1), sessions=["am"], code="")
    assert statuses(Device(as_user(world.other_dsl)).push([other])) != ["applied"]


# ---------------------------------------------------------------- a school's pupils, at once


def test_a_schools_pupils_are_pulled_in_a_few_queries_whatever_their_number(tablet, world):
    """A full pull makes each page of pupils in a fixed handful of queries (the absences, the
    current follow-ups with their enquiries and referrals, what was sent, children missing), not
    ~7 a pupil; and each pupil comes out exactly as it does alone."""
    from sqlalchemy import event

    from webapp.schools.sync import pupil_payload

    pupils = [world.pupil] + [
        factories.school_pupil(world.school, first_name=f"Pupil{n}") for n in range(11)
    ]
    db.session.commit()
    # Work on most of them, so every part of the record has something in it.
    for child in pupils[:8]:
        batch, _ids = a_days_work(child)
        assert statuses(tablet.push(batch)) == ["applied"] * len(batch)
    selects = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        got = changes(tablet)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    given = {rid: c["payload"] for (kind, rid), c in got.items() if kind == "pupil"}
    assert set(given) == {p.id for p in pupils}
    # A dozen pupils, the school and the session's own reads: far below 7 a pupil (84).
    assert len(selects) <= 30, len(selects)
    db.session.expire_all()
    for child in pupils:
        alone = pupil_payload(db.session.get(Child, child.id))
        assert given[child.id] == _json_round_trip(alone)


def _json_round_trip(value):
    import json

    return json.loads(json.dumps(value))
