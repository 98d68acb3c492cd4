"""The audit trail as a hash chain, on both databases: inserted unhashed at commit (under a
shared lock on PostgreSQL), chained after the commit by `audit.chain_pending` (the reminder
dispatcher's round, `homeward audit chain`, `homeward audit verify`), checked by `homeward audit
verify` (a real subprocess on the test's database), refused any change by the ORM and by the
database's triggers but the chainer's one step, and chained by migration 0022 from what was there
before."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, delete, select, text, update

from tests import factories
from webapp import audit, audit_chain
from webapp.audit import AUDIT_LOCK, AuditEvent, AuditTrailError
from webapp.extensions import db

# Locks, triggers, savepoints and migrations: SQL behaviour, on both databases.
pytestmark = pytest.mark.both_databases


def cli(database, instance, *args, env=None):
    url, _ = database
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    environ.update(HOMEWARD_INSTANCE_PATH=str(instance), DATABASE_URL=url, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", "audit", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def verify(database, instance, *args, env=None):
    return cli(database, instance, "verify", *args, env=env)


def chain() -> int:
    db.session.rollback()
    return audit.chain_pending(db.engine)


def write(n: int, child_id: str | None = None) -> None:
    """n audited reads, each in its own transaction, as n page views."""
    for i in range(n):
        audit.record("view", "child", child_id, child_id=child_id, detail=f"test {i}")
        db.session.commit()


def rows() -> list[dict]:
    db.session.rollback()
    return [
        dict(r._mapping)
        for r in db.session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id))
    ]


def tamper(*statements: str) -> None:
    """Change the trail behind the app's back, the append-only triggers out of the way (as the
    database's owner could)."""
    db.session.rollback()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_a_commit_writes_unhashed_entries_the_chainer_hashes_them_and_verify_passes(
    app, database, instance_dir
):
    chain()
    before = rows()
    assert all(r["entry_hash"] for r in before)
    write(7)
    after = rows()
    assert len(after) == len(before) + 7
    new = after[len(before) :]
    assert all(r["entry_hash"] is None for r in new)  # no hashing at the commit
    ids = [r["id"] for r in new]
    assert ids == sorted(ids) and ids[0] > before[-1]["id"]

    assert chain() == 7
    assert chain() == 0  # nothing left: cheap, and changes nothing
    trail = rows()
    assert [r["id"] for r in trail] == [r["id"] for r in after]
    assert all(r["entry_hash"] for r in trail)
    assert audit_chain.walk(audit.chain_key(), trail).intact

    # Small batches: the walk goes through many queries and still sees every entry once.
    result = verify(database, instance_dir, "--batch", "3")
    assert result.returncode == 0, result.stderr
    head = f"{trail[-1]['id']}:{trail[-1]['entry_hash']}"
    assert result.stdout.strip() == f"Audit trail intact: {len(trail)} entries. Head: {head}"
    again = verify(database, instance_dir, "--expect-head", head)
    assert again.returncode == 0, again.stderr


def test_verify_counts_entries_waiting_to_be_chained_and_chains_them_unless_told(
    app, database, instance_dir
):
    chain()
    chained = len(rows())
    write(3)
    head = rows()[chained - 1]
    waiting = verify(database, instance_dir, "--no-chain")
    assert waiting.returncode == 0, waiting.stderr
    assert waiting.stdout.splitlines() == [
        f"Audit trail intact: {chained} entries. Head: {head['id']}:{head['entry_hash']}",
        "3 entries not yet chained (checked once chained).",
    ]
    assert all(r["entry_hash"] is None for r in rows()[chained:])  # --no-chain only read

    done = verify(database, instance_dir)
    assert done.returncode == 0, done.stderr
    last = rows()[-1]
    assert done.stdout.splitlines() == [
        f"Audit trail intact: {chained + 3} entries. Head: {last['id']}:{last['entry_hash']}"
    ]

    write(2)
    by_cron = cli(database, instance_dir, "chain", "--batch", "1")
    assert (by_cron.returncode, by_cron.stdout) == (0, "2 entries chained.\n"), by_cron.stderr
    assert audit_chain.walk(audit.chain_key(), rows()).intact


def test_the_chainer_chains_in_batches_each_on_the_one_before(app):
    write(5)
    assert audit.chain_pending(db.engine, batch=2) >= 5
    trail = rows()
    assert all(r["entry_hash"] for r in trail)
    assert audit_chain.walk(audit.chain_key(), trail).intact


@pytest.mark.parametrize(
    "how,broken",
    [
        ("edit a column", "k"),
        ("edit the time by a microsecond", "k"),
        ("delete a middle entry", "k+1"),
        ("swap two hashes", "k"),
        ("forge an entry at the end", "head+1000"),
        ("forge an entry before the first", "0"),
        ("forge an unhashed entry in the past", "0"),
        ("remove a chained entry's hash", "k"),
        ("set a wrong hash on an unchained entry", "head+1"),
        ("chain an entry under another key", "head+1"),
    ],
)
def test_verify_finds_the_first_broken_entry(app, database, instance_dir, how, broken):
    write(6)
    chain()
    trail = rows()
    k = trail[-4]["id"]
    head = trail[-1]["id"]
    forged = (
        "INSERT INTO audit_events (id, at, action, object_type, entry_hash) "
        "VALUES ({id}, '2026-01-01 00:00:00', 'view', 'child', {hash})"
    )
    by_hand = None  # through the triggers, as anyone who may write to the table could
    if how in ("set a wrong hash on an unchained entry", "chain an entry under another key"):
        write(2)
        pending = rows()[-2]
        assert pending["id"] == head + 1 and pending["entry_hash"] is None
        thief = audit_chain.ChainKey(b"t" * 32, "test")
        value = (
            "b" * 64
            if how.startswith("set")
            else audit_chain.entry_hash(thief, pending, trail[-1]["entry_hash"])
        )
        by_hand = f"UPDATE audit_events SET entry_hash = '{value}' WHERE id = {pending['id']}"
    statements = {
        "edit a column": [f"UPDATE audit_events SET detail = 'name' WHERE id = {k}"],
        "edit the time by a microsecond": [
            f"UPDATE audit_events SET at = (SELECT at FROM audit_events WHERE id = {k + 1}) "
            f"WHERE id = {k}"
        ],
        "delete a middle entry": [f"DELETE FROM audit_events WHERE id = {k}"],
        "swap two hashes": [
            f"UPDATE audit_events SET entry_hash = '{trail[-3]['entry_hash']}' WHERE id = {k}",
            f"UPDATE audit_events SET entry_hash = '{trail[-4]['entry_hash']}' WHERE id = {k + 1}",
        ],
        # Well above: PostgreSQL's sequence does not know of it, the next entries are below it.
        "forge an entry at the end": [forged.format(id=head + 1000, hash="'" + "a" * 64 + "'")],
        "forge an entry before the first": [forged.format(id=0, hash="'" + "a" * 64 + "'")],
        "forge an unhashed entry in the past": [forged.format(id=0, hash="NULL")],
        "remove a chained entry's hash": [
            f"UPDATE audit_events SET entry_hash = NULL WHERE id = {k}"
        ],
    }.get(how)
    if statements:
        tamper(*statements)
    if by_hand:
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.exec_driver_sql(by_hand)
    expected = {"k": k, "k+1": k + 1, "head+1": head + 1, "head+1000": head + 1000, "0": 0}[broken]

    if by_hand:
        # The chainer refuses to chain on top of a head that does not fit its key.
        write(1)
        with pytest.raises(audit.ChainError, match="does not match this audit key"):
            chain()
    result = verify(database, instance_dir)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"BROKEN at entry {expected}:" in result.stderr
    assert result.stdout == ""
    by_cron = cli(database, instance_dir, "chain")
    if by_hand:
        assert by_cron.returncode == 2 and "Cannot chain:" in by_cron.stderr
    else:
        assert by_cron.returncode == 0, by_cron.stderr


def test_cut_off_newest_entries_are_found_only_against_the_noted_head(app, database, instance_dir):
    write(4)
    noted = verify(database, instance_dir)
    head = noted.stdout.strip().rsplit(" ", 1)[1]
    head_id = int(head.split(":")[0])
    tamper(f"DELETE FROM audit_events WHERE id >= {head_id - 1}")

    assert verify(database, instance_dir).returncode == 0  # the chain alone cannot tell
    result = verify(database, instance_dir, "--expect-head", head)
    assert result.returncode == 1
    assert f"BROKEN at entry {head_id}: the head noted earlier is missing" in result.stderr

    bad = verify(database, instance_dir, "--expect-head", "12:nothex")
    assert bad.returncode == 2 and "ID:HASH" in bad.stderr


def _refused(statement: str, params: dict | None = None) -> None:
    db.session.rollback()
    with pytest.raises(Exception, match="append-only") as err, db.engine.begin() as conn:
        conn.execute(text(statement), params or {})
    assert "refused" in str(err.value)


# A value of the right type for each column, unlike any the tests write.
OTHER_VALUE = {
    "id": 999999,
    "at": "2020-02-02 02:02:02",
    "user_id": "00000000-0000-0000-0000-000000000000",
    "action": "export",
    "object_type": "report",
    "object_id": "11111111-1111-1111-1111-111111111111",
    "child_id": "22222222-2222-2222-2222-222222222222",
    "device_id": "33333333-3333-3333-3333-333333333333",
    "user_agent": "Forger/1.0",
    "ip": "192.0.2.1",
    "detail": "forged",
}


def test_the_database_refuses_every_change_but_setting_a_missing_hash(app):
    assert set(OTHER_VALUE) == set(audit_chain.FIELDS)
    write(1)
    chain()
    write(1)
    pending = rows()[-1]
    assert pending["entry_hash"] is None
    pid = pending["id"]
    for statement in ("UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events"):
        _refused(statement)
    _refused(f"DELETE FROM audit_events WHERE id = {pid}")
    # Setting the hash while changing any other column: refused, column by column (a value
    # changed, or removed where there was one).
    for name in audit_chain.FIELDS:
        for value in {OTHER_VALUE[name], None} - {pending[name]}:
            if value is None and name in ("id", "at", "action", "object_type"):
                continue  # NOT NULL columns
            _refused(
                f"UPDATE audit_events SET entry_hash = :h, {name} = :v WHERE id = :id",
                {"h": "c" * 64, "v": value, "id": pid},
            )
    # A chained entry's hash is never set again, nor removed; NULL is not a hash to set.
    chained = rows()[-2]
    _refused(f"UPDATE audit_events SET entry_hash = '{'d' * 64}' WHERE id = {chained['id']}")
    _refused(f"UPDATE audit_events SET entry_hash = NULL WHERE id = {chained['id']}")
    _refused(f"UPDATE audit_events SET entry_hash = NULL WHERE id = {pid}")
    if db.engine.dialect.name == "postgresql":
        _refused("TRUNCATE audit_events")
    assert rows()[-1] == pending

    # The chainer's step itself: the hash set, every other column as it was (even named).
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET entry_hash = :h, detail = detail WHERE id = :id"),
            {"h": "e" * 64, "id": pid},
        )
    assert rows()[-1] == dict(pending, entry_hash="e" * 64)
    _refused(f"UPDATE audit_events SET entry_hash = '{'f' * 64}' WHERE id = {pid}")


def test_the_orm_refuses_to_change_or_remove_an_entry(app):
    write(1)
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    event.detail = "changed"
    with pytest.raises(AuditTrailError):
        db.session.flush()
    db.session.rollback()

    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    db.session.delete(event)
    with pytest.raises(AuditTrailError):
        db.session.flush()
    db.session.rollback()

    for statement in (
        update(AuditEvent).values(detail="changed"),
        delete(AuditEvent),
        update(AuditEvent.__table__).values(detail="changed"),
        delete(AuditEvent.__table__).where(AuditEvent.id > 0),
    ):
        with pytest.raises(AuditTrailError):
            db.session.execute(statement)
        db.session.rollback()

    # Nor may the ORM set the hash: only the chainer does, with Core.
    chain()
    write(1)
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.entry_hash is None
    event.entry_hash = "a" * 64
    with pytest.raises(AuditTrailError):
        db.session.flush()
    db.session.rollback()
    chain()
    assert audit_chain.walk(audit.chain_key(), rows()).intact


def test_an_entry_added_to_the_session_directly_is_chained_too(app):
    before = rows()
    db.session.add(
        AuditEvent(action="export", object_type="report", object_id=None, entry_hash="a" * 64)
    )
    db.session.commit()
    after = rows()
    assert len(after) == len(before) + 1
    assert after[-1]["action"] == "export" and after[-1]["id"] > before[-1]["id"]
    assert after[-1]["entry_hash"] is None  # appended as record() does; a hash given is not kept
    chain()
    assert audit_chain.walk(audit.chain_key(), rows()).intact


def test_a_savepoint_rolled_back_takes_its_entries_and_one_released_keeps_them(app):
    before = len(rows())
    audit.record("view", "child", None, detail="outer")
    savepoint = db.session.begin_nested()
    audit.record("view", "child", None, detail="undone")
    savepoint.rollback()
    with db.session.begin_nested():
        audit.record("view", "child", None, detail="kept")
        with pytest.raises(ZeroDivisionError), db.session.begin_nested():
            audit.record("update", "child", None, detail="failed")
            with db.session.begin_nested():
                audit.record("view", "child", None, detail="inner")
            1 / 0  # noqa: B018 - a mutation failing after its audited read
    db.session.commit()
    trail = rows()
    assert [r["detail"] for r in trail[before:]] == ["outer", "kept"]
    chain()
    assert audit_chain.walk(audit.chain_key(), rows()).intact

    audit.record("view", "child", None, detail="rolled back")
    db.session.rollback()
    db.session.commit()
    assert len(rows()) == before + 2


def _advisory_holders(url: str, key: int = AUDIT_LOCK) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = 0 AND objid = :k AND granted "
                    # The cluster's locks: only this test's database's count (other workers
                    # take the same key in theirs at the same moment).
                    "AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                ),
                {"k": key},
            ).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_lock_is_taken_at_the_commit_not_at_a_savepoint_release(app, database):
    """uow runs before-commit work at the outermost commit only (issue 11): a savepoint
    released inside a long batch must not take the audit lock and hold it to the batch's end."""
    url, _ = database
    audit.record("view", "child", None)
    with db.session.begin_nested():
        audit.record("view", "child", None)
        db.session.execute(text("SELECT 1"))
    assert _advisory_holders(url) == 0
    db.session.commit()
    assert _advisory_holders(url) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_open_transaction_holding_an_entry_does_not_hold_up_others(app):
    """A slow request that has noted its entry (and written other rows) does not make anyone
    else's audited page wait; its entry's id is drawn at its commit, after the quick one's."""
    started, release, errors = threading.Event(), threading.Event(), []
    child = factories.child()
    db.session.commit()
    child_id = child.id

    def slow():
        try:
            with app.app_context():
                audit.record("update", "child", child_id, child_id=child_id, detail="slow")
                db.session.execute(
                    text("UPDATE children SET last_name = 'Slow' WHERE id = :id"), {"id": child_id}
                )
                started.set()
                release.wait(10)
                db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    assert started.wait(10)
    begun = time.monotonic()
    audit.record("view", "child", child_id, child_id=child_id, detail="quick")
    db.session.commit()
    assert time.monotonic() - begun < 2
    release.set()
    thread.join(10)
    assert not errors, errors
    trail = rows()
    assert [r["detail"] for r in trail[-2:]] == ["quick", "slow"]  # ids drawn at the commit
    chain()
    assert audit_chain.walk(audit.chain_key(), rows()).intact


def _hold_an_insert(url: str):
    """A writer between its insert and its commit, as append_pending leaves one: the audit lock
    held shared, an entry inserted (its id drawn), nothing committed yet."""
    engine = create_engine(url)
    conn = engine.connect()
    conn.begin()
    conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": AUDIT_LOCK})
    held_id = conn.execute(
        text(
            "INSERT INTO audit_events (at, action, object_type, detail) "
            "VALUES (now(), 'view', 'child', 'held') RETURNING id"
        )
    ).scalar_one()
    return engine, conn, held_id


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_writer_in_flight_holds_up_no_other_writer_and_the_chainer_waits_for_it(app, database):
    """Writers hold the audit lock shared from their insert to their commit: another audited
    commit goes straight through (under an exclusive lock it would wait for this one's commit).
    The chainer's horizon waits for the writer in flight rather than chain past its id, then
    chains both, in id order."""
    url, _ = database
    chain()
    engine, held, held_id = _hold_an_insert(url)
    try:
        outcome: dict = {}

        def other_writer():
            try:
                with app.app_context():
                    audit.record("view", "child", None, detail="other")
                    db.session.commit()
                    outcome["done"] = True
                    db.session.remove()
            except Exception as exc:  # noqa: BLE001 - reported by the test
                outcome["error"] = exc

        writer = threading.Thread(target=other_writer)
        writer.start()
        writer.join(5)
        assert not writer.is_alive(), "an audited commit waited for another writer's commit"
        assert outcome == {"done": True}
        other = rows()[-1]
        assert other["detail"] == "other" and other["id"] > held_id
        assert other["entry_hash"] is None

        key, engine_ = audit.chain_key(), db.engine
        chained: dict = {}

        def chainer():
            try:
                chained["n"] = audit.chain_pending(engine_, key)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                chained["error"] = exc

        worker = threading.Thread(target=chainer)
        worker.start()
        worker.join(1.5)
        assert worker.is_alive(), "the chainer did not wait for the writer in flight"
        assert rows()[-1]["entry_hash"] is None  # nothing chained past the held id
        held.commit()
        worker.join(10)
        assert not worker.is_alive()
        assert chained == {"n": 2}
    finally:
        held.close()
        engine.dispose()
    trail = rows()
    assert [r["detail"] for r in trail[-2:]] == ["held", "other"]
    assert audit_chain.walk(audit.chain_key(), trail).intact
    assert _advisory_holders(url) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_one_chainer_at_a_time_and_a_rolled_back_id_is_only_a_gap(app, database):
    url, _ = database
    chain()
    engine, held, held_id = _hold_an_insert(url)
    held.rollback()  # its id is never used: a gap below what follows
    write(2)
    blocker = create_engine(url)
    try:
        with blocker.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit.CHAINER_LOCK})
            begun = time.monotonic()
            assert chain() == 0  # another chainer at work: returns at once, chains nothing
            assert time.monotonic() - begun < 2
        assert chain() == 2
    finally:
        held.close()
        engine.dispose()
        blocker.dispose()
    trail = rows()
    assert held_id not in [r["id"] for r in trail] and trail[-2]["id"] > held_id
    assert audit_chain.walk(audit.chain_key(), trail).intact
    assert _advisory_holders(url) == 0 and _advisory_holders(url, audit.CHAINER_LOCK) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_many_writers_at_the_same_instant_leave_an_intact_chain(app, database, instance_dir):
    """Twelve threads, each its own session and connection, commit audited reads and audited
    changes (which take the sync change log's lock too) released by one barrier, while a chainer
    runs in a loop: every entry is in the chain once, in id order, and verify passes."""
    threads_n, each = 12, 15
    children = [factories.child() for _ in range(threads_n)]
    db.session.commit()
    child_ids = [c.id for c in children]
    start = len(rows())
    barrier = threading.Barrier(threads_n, timeout=30)
    errors = []
    stop = threading.Event()
    key, engine = audit.chain_key(), db.engine
    rounds = []

    def chainer() -> None:
        try:
            while not stop.is_set():
                rounds.append(audit.chain_pending(engine, key, batch=7))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def work(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for i in range(each):
                    cid = child_ids[n]
                    audit.record("view", "child", cid, child_id=cid, detail=f"t{n} {i}")
                    if i % 3 == 0:
                        db.session.execute(
                            text("UPDATE children SET last_name = :v WHERE id = :id"),
                            {"v": f"Changed{i}", "id": cid},
                        )
                        audit.record("update", "child", cid, child_id=cid, detail="last_name")
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    looping = threading.Thread(target=chainer)
    looping.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    looping.join(60)
    assert not errors, errors[:3]
    assert sum(rounds) > 0  # the chainer did chain while the writers wrote

    trail = rows()
    expected = threads_n * (each + len(range(0, each, 3)))
    assert len(trail) - start == expected
    ids = [r["id"] for r in trail[start:]]
    assert ids == sorted(set(ids))
    chain()
    assert audit_chain.walk(key, rows()).intact
    result = verify(database, instance_dir, "--batch", "50", "--no-chain")
    assert result.returncode == 0, result.stderr
    assert f"{len(trail)} entries" in result.stdout


def test_verify_without_the_key_that_wrote_the_trail_says_so(app, database, tmp_path):
    write(2)
    chain()
    write(2)
    result = verify(database, tmp_path / "elsewhere")
    assert result.returncode == 2
    assert "Cannot verify" in result.stderr and "audit-key" in result.stderr
    refused = cli(database, tmp_path / "elsewhere2", "chain")
    assert refused.returncode == 2 and "Cannot verify" in refused.stderr
    assert rows()[-1]["entry_hash"] is None  # never chained under a key made just now

    wrong = verify(
        database, tmp_path / "other", env={audit_chain.ENV_KEY: audit_chain.encode_key(b"w" * 32)}
    )
    assert wrong.returncode == 1
    assert f"BROKEN at entry {rows()[0]['id']}:" in wrong.stderr
    assert rows()[-1]["entry_hash"] is None  # the head did not fit: nothing chained on it


# ---------------------------------------------------------------- migration 0022


BEFORE_CHAIN = "c4a1e5510015"  # 0021: the last revision without the chain


def test_the_migration_chains_the_entries_already_there_in_id_order(
    backend, tmp_path, instance_dir
):
    from flask_migrate import upgrade

    from tests.conftest import _make_app, _pg_exec, _pg_url

    if backend == "sqlite":
        url, name = f"sqlite:///{tmp_path / 'old.sqlite3'}", None
    else:
        name = f"hw_t_{uuid.uuid4().hex[:12]}"
        _pg_exec(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    try:
        app = _make_app(url, instance_dir)
        with app.app_context():
            directory = app.extensions["migrate"].directory
            upgrade(directory=directory, revision=BEFORE_CHAIN)
            with db.engine.begin() as conn:
                # Ids with gaps, as a sequence leaves them after rolled-back transactions.
                for n in (3, 4, 9, 10, 31):
                    conn.execute(
                        text(
                            "INSERT INTO audit_events (id, at, action, object_type, object_id, "
                            "detail) VALUES (:id, :at, 'view', 'child', :oid, :detail)"
                        ),
                        {
                            "id": n,
                            "at": f"2025-0{1 + n % 9}-01 10:00:0{n % 10}.25",
                            "oid": str(uuid.uuid4()),
                            "detail": None if n % 2 else "name,date_of_birth",
                        },
                    )
            upgrade(directory=directory)

            trail = rows()
            assert [r["id"] for r in trail] == [3, 4, 9, 10, 31]
            assert audit_chain.walk(audit.chain_key(), trail).intact
            write(1)  # its id from the sequence: above every id already there
            assert chain() == 1
            trail = rows()
            assert trail[-1]["id"] == 32
            assert audit_chain.walk(audit.chain_key(), trail).intact
            with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM audit_events WHERE id = 3")
            db.session.remove()
            db.engine.dispose()
    finally:
        if name:
            _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- the dispatcher's round


class OneRound:
    """A stop event for Dispatcher.run_forever that lets exactly one round run."""

    def __init__(self) -> None:
        self.rounds = 0

    def is_set(self) -> bool:
        return self.rounds >= 1

    def wait(self, _timeout=None) -> bool:
        self.rounds += 1
        return True


def _one_dispatcher_round(app) -> None:
    from webapp.reminders import dispatcher
    from webapp.reminders.models import Reminder, ReminderStatus

    # No demo reminder due: the round sends nothing, and only its chaining is seen.
    db.session.execute(
        update(Reminder).where(Reminder.status == "pending").values(status=ReminderStatus.CANCELLED)
    )
    db.session.commit()
    sender = dispatcher.from_app(app, timeout=1.0, threads=1)
    try:
        stop = OneRound()
        sender.run_forever(stop, idle_seconds=0)
        assert stop.rounds == 1
    finally:
        sender.close()


def test_each_dispatcher_round_chains_what_is_waiting(app):
    write(3)
    assert [r["entry_hash"] for r in rows()[-3:]] == [None] * 3
    _one_dispatcher_round(app)
    trail = rows()
    assert all(r["entry_hash"] for r in trail)
    assert audit_chain.walk(audit.chain_key(), trail).intact


def test_an_audit_error_never_stops_the_dispatcher_and_is_logged_by_its_type_only(
    app, caplog, monkeypatch
):
    # Alembic's env.py (the template's migrations) disables the loggers that existed before
    # it; the app's log set-up turns ours back on, which a test app does not run.
    monkeypatch.setattr(logging.getLogger("webapp.audit"), "disabled", False)
    write(2)
    chain()
    trail = rows()
    # A head that does not fit the key: the chainer refuses (and keeps refusing).
    tamper(f"UPDATE audit_events SET detail = 'secret words' WHERE id = {trail[-1]['id']}")
    write(1)
    with caplog.at_level("ERROR", logger="webapp.audit"):
        _one_dispatcher_round(app)
    assert rows()[-1]["entry_hash"] is None
    messages = [r.getMessage() for r in caplog.records if r.name == "webapp.audit"]
    assert messages == ["audit chaining failed: ChainError"]
    assert not any(r.exc_info for r in caplog.records if r.name == "webapp.audit")
