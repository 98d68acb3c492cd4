"""The audit trail as a hash chain, on both databases: appended in commit order just before
commit, checked by `homeward audit verify` (a real subprocess on the test's database), refused
any change by the ORM and by the database's triggers, and chained by migration 0022 from what
was there before."""

from __future__ import annotations

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


def verify(database, instance, *args, env=None):
    url, _ = database
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    environ.update(HOMEWARD_INSTANCE_PATH=str(instance), DATABASE_URL=url, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", "audit", "verify", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


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


def test_entries_are_appended_after_the_head_and_verify_passes(app, database, instance_dir):
    before = rows()
    write(7)
    after = rows()
    assert len(after) == len(before) + 7
    ids = [r["id"] for r in after]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gaps: id is the chain position
    assert audit_chain.walk(audit.chain_key(), after).intact

    # Small batches: the walk goes through many queries and still sees every entry once.
    result = verify(database, instance_dir, "--batch", "3")
    assert result.returncode == 0, result.stderr
    head = f"{after[-1]['id']}:{after[-1]['entry_hash']}"
    assert result.stdout.strip() == f"Audit trail intact: {len(after)} entries. Head: {head}"
    again = verify(database, instance_dir, "--expect-head", head)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(
    "how,broken",
    [
        ("edit a column", "k"),
        ("edit the time by a microsecond", "k"),
        ("delete a middle entry", "k+1"),
        ("swap two hashes", "k"),
        ("forge an entry at the end", "head+1"),
        ("forge an entry before the first", "0"),
    ],
)
def test_verify_finds_the_first_broken_entry(app, database, instance_dir, how, broken):
    write(6)
    trail = rows()
    k = trail[-4]["id"]
    head = trail[-1]["id"]
    forged = (
        "INSERT INTO audit_events (id, at, action, object_type, entry_hash) "
        "VALUES ({id}, '2026-01-01 00:00:00', 'view', 'child', '" + "a" * 64 + "')"
    )
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
        "forge an entry at the end": [forged.format(id=head + 1)],
        "forge an entry before the first": [forged.format(id=0)],
    }[how]
    tamper(*statements)
    expected = {"k": k, "k+1": k + 1, "head+1": head + 1, "0": 0}[broken]

    result = verify(database, instance_dir)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"BROKEN at entry {expected}:" in result.stderr
    assert result.stdout == ""


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


def test_the_database_refuses_to_change_or_remove_an_entry(app):
    write(1)
    db.session.rollback()
    for statement in ("UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only") as err, db.engine.begin() as conn:
            conn.exec_driver_sql(statement)
        assert "refused" in str(err.value)
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE audit_events")
    assert audit_chain.walk(audit.chain_key(), rows()).intact


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
    assert audit_chain.walk(audit.chain_key(), rows()).intact


def test_an_entry_added_to_the_session_directly_is_chained_too(app):
    before = rows()
    db.session.add(AuditEvent(action="export", object_type="report", object_id=None))
    db.session.commit()
    after = rows()
    assert len(after) == len(before) + 1
    assert after[-1]["action"] == "export" and after[-1]["id"] == before[-1]["id"] + 1
    assert audit_chain.walk(audit.chain_key(), after).intact


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
    assert audit_chain.walk(audit.chain_key(), trail).intact

    audit.record("view", "child", None, detail="rolled back")
    db.session.rollback()
    db.session.commit()
    assert len(rows()) == before + 2


def _advisory_holders(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = 0 AND objid = :k AND granted"
                ),
                {"k": AUDIT_LOCK},
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
    """The serialised window is from the head's read to the commit only: a slow request that has
    noted its entry (and written other rows) does not make anyone else's audited page wait, and
    the chain's order is the order of the commits."""
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
    assert [r["detail"] for r in trail[-2:]] == ["quick", "slow"]  # commit order
    assert audit_chain.walk(audit.chain_key(), trail).intact


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_many_writers_at_the_same_instant_leave_an_intact_chain(app, database, instance_dir):
    """Twelve threads, each its own session and connection, commit audited reads and audited
    changes (which take the sync change log's lock too) released by one barrier: every entry is
    in the chain once, the ids have no gaps, and verify passes."""
    threads_n, each = 12, 15
    children = [factories.child() for _ in range(threads_n)]
    db.session.commit()
    child_ids = [c.id for c in children]
    start = len(rows())
    barrier = threading.Barrier(threads_n, timeout=30)
    errors = []

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
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]

    trail = rows()
    expected = threads_n * (each + len(range(0, each, 3)))
    assert len(trail) - start == expected
    ids = [r["id"] for r in trail[start:]]
    assert ids == list(range(ids[0], ids[0] + expected))
    result = verify(database, instance_dir, "--batch", "50")
    assert result.returncode == 0, result.stderr
    assert f"{len(trail)} entries" in result.stdout


def test_verify_without_the_key_that_wrote_the_trail_says_so(app, database, tmp_path):
    write(2)
    result = verify(database, tmp_path / "elsewhere")
    assert result.returncode == 2
    assert "Cannot verify" in result.stderr and "audit-key" in result.stderr

    wrong = verify(
        database, tmp_path / "other", env={audit_chain.ENV_KEY: audit_chain.encode_key(b"w" * 32)}
    )
    assert wrong.returncode == 1
    assert f"BROKEN at entry {rows()[0]['id']}:" in wrong.stderr


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
            write(1)
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
