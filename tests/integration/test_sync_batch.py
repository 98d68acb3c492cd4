"""The push engine a batch at a time (issue 14): one lookup of the mutation ids, one load of the
records, the batch tried in one savepoint with its writes flushed together, and the same answers
as one savepoint per mutation gave. On SQLite and PostgreSQL, through the real sync API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from tests.integration.helpers import fresh
from tests.integration.test_sync_api import Device, allocated_to, mutation
from webapp.extensions import db
from webapp.fieldsync.models import ChangeLog, SyncConflict, SyncMutation
from webapp.oversight.factors import InterviewFactor

pytestmark = pytest.mark.both_databases


@pytest.fixture
def phone(as_user, me):
    return Device(as_user(me))


def test_a_record_twice_in_one_batch_sees_its_first_change(phone, me):
    """Mutations run in order: a second change of the same record made on the version the first
    gave applies after it; one made on the old version is a conflict with the first."""
    mine = allocated_to(me)
    v = mine.version
    results = phone.push(
        [
            mutation(mine.id, v, {"why_details": "first"}),
            mutation(mine.id, v + 1, {"why_details": "second"}),
            mutation(mine.id, v + 1, {"why_details": "stale third"}),
        ]
    ).json["results"]
    assert [(r["status"], r["version"]) for r in results] == [
        ("applied", v + 1),
        ("applied", v + 2),
        ("conflict", v + 2),
    ]
    assert fresh(mine).version == v + 2
    assert results[2]["server_payload"]["answers"]["why_details"] == "second"
    assert db.session.scalar(select(func.count()).select_from(SyncConflict)) == 1


def test_a_conflict_mid_batch_is_answered_alone_and_the_rest_applied(phone, me):
    a, b, c = allocated_to(me), allocated_to(me), allocated_to(me)
    batch = [
        mutation(a.id, a.version, {"why_details": "A"}),
        mutation(b.id, b.version + 5, {"why_details": "B from an old copy"}),
        mutation(c.id, c.version, {"why_details": "C"}),
    ]
    b_version = b.version
    results = phone.push(batch).json["results"]
    assert [r["status"] for r in results] == ["applied", "conflict", "applied"]
    assert fresh(b).version == b_version
    # Replayed whole: the same answers, nothing applied or logged twice.
    logged = db.session.scalar(select(func.count()).select_from(ChangeLog))
    again = phone.push(batch).json["results"]
    assert [r["status"] for r in again] == ["replayed", "conflict", "replayed"]
    assert db.session.scalar(select(func.count()).select_from(ChangeLog)) == logged
    assert db.session.scalar(select(func.count()).select_from(SyncConflict)) == 1


def test_a_batch_costs_a_few_statements_a_mutation(phone, me, app):
    """The regression guard for the batch engine: 50 interviews pushed at once take one lookup
    of the ids, one load of the records and their rows, and about two writes a mutation (its
    UPDATE, its audit row and answer in multi-row INSERTs), never a savepoint, a lookup or a
    load per mutation as before (14 statements a mutation). The answers are a phone's: the
    interview's date (checked against the return's, so the episodes are read) and reasons."""
    mine = [allocated_to(me) for _ in range(50)]
    held = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")

    def answers(note: str) -> dict:
        return {"why_details": note, "held_at": held, "reasons": ["friends", "clear_head"]}

    batch = [mutation(i.id, i.version, answers(f"note {n}")) for n, i in enumerate(mine)]
    phone.push(batch[:1])  # the session, the device and the first-request work out of the way
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement[:90])

    db.session.expire_all()
    batch = [
        mutation(i.id, db.session.get(type(i), i.id).version, answers(f"again {n}"))
        for n, i in enumerate(mine)
    ]
    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        results = phone.push(batch).json["results"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert {r["status"] for r in results} == {"applied"}
    assert sum(s.startswith("SAVEPOINT") for s in statements) <= 1
    # 50 UPDATEs, 50 audit INSERTs, and a dozen for the request, the lookups and the log.
    assert len(statements) <= 2 * len(batch) + 20, statements


def test_unchanged_reasons_keep_their_rows_and_a_change_replaces_them(phone, me):
    mine = allocated_to(me)
    (r,) = phone.push([mutation(mine.id, mine.version, {"reasons": ["home", "bored"]})]).json[
        "results"
    ]
    assert r["status"] == "applied"

    def codes():
        return set(
            db.session.scalars(
                select(InterviewFactor.code).where(InterviewFactor.interview_id == mine.id)
            )
        )

    assert codes() == {"home", "bored"}
    (r,) = phone.push(
        [mutation(mine.id, r["version"], {"reasons": ["home", "bored"], "why_details": "x"})]
    ).json["results"]
    assert codes() == {"home", "bored"}
    (r,) = phone.push([mutation(mine.id, r["version"], {"reasons": ["friends"]})]).json["results"]
    assert r["status"] == "applied"
    assert codes() == {"friends"}
    assert db.session.scalar(select(func.count()).select_from(SyncMutation)) == 3


def test_a_batchs_reasons_are_written_together(phone, me):
    """Each interview's reason codes follow its answers (a rewrite where they changed, nothing
    where they did not), for the whole batch in one INSERT and at most one DELETE: 50 INSERTs one
    after another were a fifth of a batch's time."""
    mine = [allocated_to(me) for _ in range(6)]
    first = [mutation(i.id, i.version, {"reasons": ["home", "bored"]}) for i in mine]
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "interview_factors" in statement:
            statements.append(statement.split()[0])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        results = phone.push(first).json["results"]
        assert [r["status"] for r in results] == ["applied"] * 6
        assert statements == ["INSERT"]
        statements.clear()
        # Half change their reasons (friends instead), half keep them with another answer.
        second = [
            mutation(
                i.id,
                r["version"],
                {"reasons": ["friends"]}
                if n % 2
                else {"reasons": ["home", "bored"], "why_details": "Again"},
            )
            for n, (i, r) in enumerate(zip(mine, results, strict=True))
        ]
        assert [r["status"] for r in phone.push(second).json["results"]] == ["applied"] * 6
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == ["DELETE", "INSERT"]
    rows = db.session.execute(
        select(InterviewFactor.interview_id, InterviewFactor.code).where(
            InterviewFactor.interview_id.in_([i.id for i in mine])
        )
    )
    expected = {
        (i.id, code)
        for n, i in enumerate(mine)
        for code in (("friends",) if n % 2 else ("home", "bored"))
    }
    assert set(rows) == expected


def test_a_push_the_server_has_no_time_for_is_answered_busy_and_nothing_applied(phone, me, app):
    """Admission: with every push slot of the process taken for longer than a request may wait,
    the push is answered 503 server_busy with Retry-After, nothing applied or remembered; sent
    again once a slot is free, it applies."""
    from webapp.api import admission

    mine = allocated_to(me)
    batch = [mutation(mine.id, mine.version, {"why_details": "after the queue"})]
    gate = app.extensions["homeward_sync_gates"]["push"]
    wait = gate.wait
    gate.wait = 0.05
    taken = []
    try:
        while gate._slots.acquire(blocking=False):
            taken.append(1)
        r = phone.push(batch)
        assert r.status_code == 503 and r.json["error"] == "server_busy"
        assert 3 <= int(r.headers["Retry-After"]) <= 6
        assert db.session.scalar(select(func.count()).select_from(SyncMutation)) == 0
    finally:
        for _ in taken:
            gate._slots.release()
        gate.wait = wait
    assert isinstance(gate, admission.Gate)
    (result,) = phone.push(batch).json["results"]
    assert result["status"] == "applied"


def _statements_of(push):
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = push()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return response, statements


def test_a_lone_mutation_takes_no_savepoint_and_the_logs_lock_once(phone, me):
    """Most phones send each change as it is made: a one-mutation push is tried in the
    request's own transaction (two round trips fewer than a savepoint and its release), and the
    change log and the audit trail, both appended at its commit, share one lock taken once."""
    mine = allocated_to(me)
    phone.push([mutation(mine.id, mine.version, {"why_details": "first"})])  # first-request work
    db.session.expire_all()
    version = db.session.get(type(mine), mine.id).version
    response, statements = _statements_of(
        lambda: phone.push([mutation(mine.id, version, {"why_details": "second"})])
    )
    assert response.json["results"][0]["status"] == "applied"
    assert not [s for s in statements if s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]
    locks = [s for s in statements if "pg_advisory_xact_lock_shared" in s]
    assert len(locks) == (1 if db.engine.dialect.name == "postgresql" else 0), locks
    assert any(s.startswith("INSERT INTO change_log") for s in statements)
    assert any(s.startswith("INSERT INTO audit_events") for s in statements)


@pytest.mark.parametrize("fault", ["refused while writing", "bug after writing"])
def test_a_lone_mutation_that_must_be_undone_is_run_again_on_its_own(phone, me, fault, monkeypatch):
    """Tried with no savepoint, a lone mutation that needs undoing rolls the whole transaction
    back and runs again in a savepoint of its own: answered exactly as a savepoint per mutation
    answers (a refusal remembered, a fault not), and nothing of the first try is left: not the
    write, its change log row, its audit entry, nor its answer."""
    from webapp.audit import AuditEvent
    from webapp.interviews import service as interviews
    from webapp.interviews import sync as handlers
    from webapp.interviews.service import Problem

    mine = allocated_to(me)
    before = (mine.content_enc, mine.version, mine.status)
    if fault == "refused while writing":
        monkeypatch.setattr(
            interviews, "submit", lambda *a: [Problem("offer", "held_at", "Checked only at submit")]
        )
    else:
        real = handlers.InterviewHandler.write

        def broken(self, *args, **kwargs):
            real(self, *args, **kwargs)  # written, then it fails
            raise RuntimeError("a bug hit by this payload")

        monkeypatch.setattr(handlers.InterviewHandler, "write", broken)
    answers = {
        "offered": "Y",
        "outcome": "declined",
        "decline_reason": "Did not want to talk",
        "attempts": "Visited home twice",
    }
    logged = db.session.scalar(select(func.count()).select_from(ChangeLog))
    updates = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "update")
    audited = db.session.scalar(updates)
    m = mutation(mine.id, mine.version, answers, submit=True)
    response, statements = _statements_of(lambda: phone.push([m]))
    (r,) = response.json["results"]
    if fault == "refused while writing":
        assert (r["status"], r["http_status"]) == ("rejected", 422)
        assert r["error"]["message"] == "Checked only at submit"
        assert db.session.scalar(select(func.count()).select_from(SyncMutation)) == 1
    else:
        assert (r["status"], r["http_status"], r["client_action"]) == ("rejected", 500, "retry")
        assert db.session.scalar(select(func.count()).select_from(SyncMutation)) == 0
    db.session.expire_all()
    assert (fresh(mine).content_enc, fresh(mine).version, fresh(mine).status) == before
    assert db.session.scalar(select(func.count()).select_from(ChangeLog)) == logged
    assert db.session.scalar(updates) == audited
    # Tried twice (the mutation ids looked up twice): the second time in one savepoint, undone.
    lookups = [s for s in statements if s.startswith("SELECT sync_mutations.")]
    assert len(lookups) == 2, lookups
    marks = [s.split()[0] for s in statements if s.startswith(("SAVEPOINT", "ROLLBACK"))]
    assert marks == ["SAVEPOINT", "ROLLBACK"], marks
