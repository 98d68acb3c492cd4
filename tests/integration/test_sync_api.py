"""The sync API over real HTTP and a real database (SQLite and PostgreSQL)."""

import json
import uuid

import pytest
from sqlalchemy import func, select, text

from tests import factories
from tests.integration.helpers import fresh
from webapp.accounts.models import Role
from webapp.extensions import db
from webapp.fieldsync.models import SyncConflict, SyncMutation
from webapp.interviews.models import InterviewStatus

# The sync store: change log, cursors, compare-and-set writes and savepoints.
pytestmark = pytest.mark.both_databases


class Device:
    """A field-mode client: a signed-in Browser speaking the sync protocol."""

    def __init__(self, browser):
        self.b = browser
        self.device_id = str(uuid.uuid4())
        session = self.b.get("/api/v1/session")
        assert session.status_code == 200, session.get_data(as_text=True)
        self.csrf = session.json["csrf_token"]

    def push(self, mutations, **extra):
        body = {"protocol": 1, "device_id": self.device_id, "mutations": mutations, **extra}
        return self.raw_push(json.dumps(body))

    def raw_push(self, data, csrf=True):
        headers = {"Content-Type": "application/json"}
        if csrf:
            headers["X-CSRFToken"] = self.csrf
        return self.b.raw_post("/api/v1/sync/push", data=data, headers=headers)

    def pull(self, cursor=None, limit=None):
        q = {}
        if cursor:
            q["cursor"] = cursor
        if limit:
            q["limit"] = limit
        return self.b.get("/api/v1/sync/pull", query_string=q)


def mutation(record_id, base_version, answers, submit=False, mid=None):
    return {
        "mutation_id": mid or str(uuid.uuid4()),
        "record_type": "interview",
        "record_id": record_id,
        "op": "upsert",
        "base_version": base_version,
        "payload": {"answers": answers, "submit": submit},
    }


@pytest.fixture
def phone(as_user, me):
    return Device(as_user(me))


def allocated_to(worker, **kw):
    """An interview allocated to `worker`, committed (the phone's requests have their own
    session)."""
    interview = factories.interview(worker_=worker, **kw)
    db.session.commit()
    return interview


def colleague_of(worker, role=Role.WORKER):
    """Another person of the worker's authority (a worker in the same team by default)."""
    if role == Role.WORKER:
        return factories.worker(worker.organisation, team_=worker.team)
    return factories.user(role, authority=worker.organisation)


def test_full_pull_has_only_my_returns(phone, me):
    mine = [
        factories.interview(worker_=me),
        factories.interview(worker_=me),
        factories.interview(worker_=me, status=InterviewStatus.SUBMITTED),
        factories.interview(worker_=me, status=InterviewStatus.AUTHORISED),
    ]
    # Not mine: a colleague's, one of my authority awaiting allocation, another authority's.
    factories.interview(worker_=colleague_of(me))
    factories.interview(
        status=InterviewStatus.AWAITING_ALLOCATION, child_=factories.child(me.organisation)
    )
    factories.interview()
    db.session.commit()
    r = phone.pull()
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    data = r.json
    assert data["reset"] is True and data["cursor"]
    got = {c["record_id"] for c in data["changes"]}
    assert got == {i.id for i in mine}
    allocated = next(c for c in data["changes"] if c["record_id"] == mine[0].id)
    assert allocated["payload"]["child"]["first_name"] == mine[0].child.first_name
    assert allocated["payload"]["editable"] is True
    # Nothing new since: an incremental pull is empty.
    again = phone.pull(cursor=data["cursor"]).json
    assert again["changes"] == [] and again["reset"] is False


def test_push_applies_once_and_replays_identically(phone, me):
    mine = allocated_to(me)
    m = mutation(mine.id, mine.version, {"why_details": "Went to a party", "offered": "Y"})
    first = phone.push([m])
    assert first.status_code == 200, first.get_data(as_text=True)
    (result,) = first.json["results"]
    assert result["status"] == "applied" and result["client_action"] == "delete_local"
    assert result["version"] == mine.version + 1
    mine = fresh(mine)
    assert mine.offered == "Y"
    again = phone.push([m]).json["results"][0]
    assert again["status"] == "replayed" and again["version"] == result["version"]
    assert fresh(mine).version == result["version"]  # not applied twice
    assert db.session.scalar(select(func.count()).select_from(SyncMutation)) == 1
    # Same id, different content: refused, nothing changes.
    reused = dict(m, payload={"answers": {"why_details": "different"}, "submit": False})
    r = phone.push([reused]).json["results"][0]
    assert r["status"] == "rejected" and r["http_status"] == 409
    assert r["error"]["code"] == "mutation_id_reused"


def test_stale_base_version_is_a_conflict_that_keeps_both(phone, me):
    mine = allocated_to(me)
    base = mine.version
    assert (
        phone.push([mutation(mine.id, base, {"why_details": "first device"})]).json["results"][0][
            "status"
        ]
        == "applied"
    )
    r = phone.push([mutation(mine.id, base, {"why_details": "second device"})]).json["results"][0]
    assert r["status"] == "conflict" and r["http_status"] == 409
    assert r["client_action"] == "keep_and_show"
    assert r["server_payload"]["answers"]["why_details"] == "first device"
    conflict = db.session.get(SyncConflict, r["conflict_id"])
    assert conflict is not None and "second device" not in conflict.payload_enc
    from webapp import sealed

    kept = sealed.unseal(conflict.payload_enc, "sync_conflict", conflict.id, "payload")
    assert kept["answers"]["why_details"] == "second device"
    from webapp.interviews import service

    assert service.answers(fresh(mine))["why_details"] == "first device"


def test_rejections_are_precise(phone, me):
    mine = allocated_to(me)
    theirs = allocated_to(colleague_of(me))  # a colleague's: not mine to change
    results = phone.push(
        [
            mutation(mine.id, mine.version, {"offered": "maybe"}),
            mutation(theirs.id, theirs.version, {"why_details": "not mine"}),
            {**mutation(mine.id, mine.version, {}), "record_type": "spaceship"},
            mutation(mine.id, mine.version, {"why_details": "x" * 10_001}),
            mutation(mine.id, mine.version, {"offered": "Y"}, submit=True),
        ]
    ).json["results"]
    assert [r["http_status"] for r in results] == [422, 404, 422, 422, 422]
    assert results[0]["error"]["field"] == "offered"
    assert results[1]["error"]["code"] == "not_found"
    assert results[2]["error"]["code"] == "unknown_record_type"
    assert all(r["client_action"] == "keep_and_show" for r in results)
    assert fresh(mine).offered is None


def test_whole_request_errors(phone):
    assert phone.raw_push("{not json").status_code == 400
    r = phone.push([], protocol=99)
    assert r.status_code == 400 and r.json["error"] == "protocol_version"
    r = phone.push([])
    assert r.status_code == 422 and r.json["error"] == "invalid_payload"
    many = [mutation(str(uuid.uuid4()), 1, {}) for _ in range(101)]
    r = phone.push(many)
    assert r.status_code == 413 and r.json["error"] == "batch_too_large"
    r = phone.raw_push(
        json.dumps({"protocol": 1, "device_id": phone.device_id, "mutations": []}), csrf=False
    )
    assert r.status_code == 400 and r.json["error"] == "csrf_failed"


def test_lost_connection_mid_batch_applies_nothing_and_retry_applies_all(phone, me, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from webapp.interviews import sync as store

    mine, also_mine = allocated_to(me), allocated_to(me)
    batch = [
        mutation(mine.id, mine.version, {"why_details": "A"}),
        mutation(also_mine.id, also_mine.version, {"why_details": "B"}),
    ]
    real = store.InterviewHandler.write
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(store.InterviewHandler, "write", flaky)
    before = (mine.content_enc, mine.version)  # values: fresh() refreshes the same object
    r = phone.push(batch)
    assert r.status_code == 500 and r.json["error"] == "server_error"
    mine = fresh(mine)
    assert (mine.content_enc, mine.version) == before  # the first write was rolled back too
    assert db.session.scalar(select(func.count()).select_from(SyncMutation)) == 0
    monkeypatch.setattr(store.InterviewHandler, "write", real)
    results = phone.push(batch).json["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]


def test_a_fault_triggered_by_one_mutation_is_answered_alone_and_retried(phone, me, monkeypatch):
    """A bug or a value the database refuses, hit by one mutation: that one is answered
    server_error with "retry" (and not remembered), the rest of the batch is applied, and the
    resent mutation applies once the fault is gone. Before, the whole batch answered 500 for
    ever and blocked the phone's queue."""
    from webapp.interviews import sync as store

    mine, also_mine = allocated_to(me), allocated_to(me)
    poison = mutation(mine.id, mine.version, {"why_details": "A"})
    fine = mutation(also_mine.id, also_mine.version, {"why_details": "B"})
    real = store.InterviewHandler.write

    def broken_for_the_first(self, actor, record_id, *args, **kwargs):
        result = real(self, actor, record_id, *args, **kwargs)  # written, then it fails
        if str(record_id) == mine.id:
            raise RuntimeError("a bug hit by this payload")
        return result

    monkeypatch.setattr(store.InterviewHandler, "write", broken_for_the_first)
    before = (mine.content_enc, mine.version)
    results = phone.push([poison, fine]).json["results"]
    assert [(r["status"], r["http_status"], r["client_action"]) for r in results] == [
        ("rejected", 500, "retry"),
        ("applied", 200, "delete_local"),
    ]
    assert (fresh(mine).content_enc, fresh(mine).version) == before  # its write was undone
    monkeypatch.setattr(store.InterviewHandler, "write", real)
    (again,) = phone.push([poison]).json["results"]
    assert again["status"] == "applied"


def test_submit_through_sync(phone, me):
    mine = allocated_to(me)
    answers = {
        "offered": "Y",
        "outcome": "declined",
        "decline_reason": "Did not want to talk",
        "attempts": "Visited home twice",
    }
    r = phone.push([mutation(mine.id, mine.version, answers, submit=True)]).json["results"][0]
    assert r["status"] == "applied", r
    assert fresh(mine).status == InterviewStatus.SUBMITTED


def test_a_write_refused_part_way_leaves_nothing_and_the_batch_goes_on(phone, me, monkeypatch):
    """A rule only checkable while writing (here, sending for authorisation) refuses the change
    after the answers were written: the savepoint takes those back, and the next mutation in the
    batch still applies."""
    from webapp.interviews import service as interviews
    from webapp.interviews.service import Problem

    mine, also_mine = allocated_to(me), allocated_to(me)
    before = (mine.content_enc, mine.version, mine.status)
    monkeypatch.setattr(
        interviews, "submit", lambda *a: [Problem("offer", "held_at", "Checked only at submit")]
    )
    answers = {
        "offered": "Y",
        "outcome": "declined",
        "decline_reason": "Did not want to talk",
        "attempts": "Visited home twice",
    }
    results = phone.push(
        [
            mutation(mine.id, mine.version, answers, submit=True),
            mutation(also_mine.id, also_mine.version, {"why_details": "Bored at home"}),
        ]
    ).json["results"]
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert results[0]["error"]["message"] == "Checked only at submit"
    mine = fresh(mine)
    assert (mine.content_enc, mine.version, mine.status) == before
    assert interviews.answers(fresh(also_mine))["why_details"] == "Bored at home"


def test_incremental_pull_sees_web_changes_and_reallocation_tombstones(phone, me, as_user):
    reallocated = allocated_to(me)
    cursor = phone.pull().json["cursor"]
    worker2, boss = colleague_of(me), colleague_of(me, Role.MANAGER)
    db.session.commit()
    manager = as_user(boss)
    r = manager.post(f"/interviews/{reallocated.id}/allocate", {"worker_id": worker2.id})
    assert r.status_code == 302
    data = phone.pull(cursor=cursor).json
    (change,) = [c for c in data["changes"] if c["record_id"] == reallocated.id]
    assert change["deleted"] is True and change["payload"] is None
    # The other worker now gets it.
    other = Device(as_user(worker2))
    assert reallocated.id in {c["record_id"] for c in other.pull().json["changes"]}


def test_bad_cursor_is_refused_precisely(phone):
    r = phone.pull(cursor="bm90LWEtY3Vyc29y")
    assert r.status_code == 400 and r.json["error"] == "bad_cursor"
    assert "without a cursor" in r.json["message"]


def test_revoked_device_may_upload_then_is_told_to_wipe(phone, me, as_user):
    from webapp.devices.models import Device as DeviceRow

    mine = allocated_to(me)
    boss = colleague_of(me, Role.MANAGER)
    db.session.commit()
    assert phone.pull().status_code == 200
    device = db.session.scalars(select(DeviceRow).where(DeviceRow.user_id == me.id)).one()
    manager = as_user(boss)
    assert manager.get("/devices/").status_code == 200
    r = manager.post(f"/devices/{device.user_id}/{device.id}/revoke")
    assert r.status_code == 302
    assert phone.b.get("/api/v1/session").json["device"]["revoked"] is True
    # Made offline before the revocation: still uploaded (later changes are refused).
    made_at = fresh(device).revoked_at.replace(microsecond=0).isoformat()
    last_words = mutation(mine.id, mine.version, {"why_details": "last words"})
    pushed = phone.push([dict(last_words, client_time=made_at)])
    assert pushed.json["results"][0]["status"] == "applied"
    r = phone.pull()
    assert r.status_code == 410 and r.json["wipe"] is True
    assert phone.b.get("/api/v1/devices/recovery-key").status_code == 410
    assert (
        phone.b.raw_post("/api/v1/devices/wiped", headers={"X-CSRFToken": phone.csrf}).status_code
        == 200
    )
    assert fresh(device).wiped_at is not None


def test_other_roles_cannot_revoke(phone, me, as_user):
    from webapp.devices.models import Device as DeviceRow

    device = db.session.scalars(select(DeviceRow).where(DeviceRow.user_id == me.id)).one()
    # A colleague in the same team, the DSL of a school of the same authority, and the manager of
    # another authority.
    others = [colleague_of(me), colleague_of(me, Role.DSL), factories.manager()]
    db.session.commit()
    for other in others:
        person = as_user(other)
        r = person.post(f"/devices/{device.user_id}/{device.id}/revoke")
        assert r.status_code == 404, other.role


def test_recovery_key_is_stable_and_sealed(phone):
    a = phone.b.get("/api/v1/devices/recovery-key").json["key"]
    b = phone.b.get("/api/v1/devices/recovery-key").json["key"]
    assert a == b and len(a) >= 40
    raw = db.session.execute(text("SELECT recovery_key_enc FROM devices")).scalars().all()
    assert all(a not in (v or "") for v in raw)


def test_openapi_document(app):
    doc = app.test_client().get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/sync/push" in doc["paths"] and "/sync/pull" in doc["paths"]
