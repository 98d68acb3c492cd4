"""The change log's order without writers queueing on each other (issue 14), on PostgreSQL, where
writers run side by side: two transactions can take sequence numbers 10 and 11 and commit 11
first. Writers hold the change log lock shared from their append to their commit; a pull reads
only up to its horizon, the last seq once the writers in flight have finished. Through the real
sync API, with a second connection as a writer between its append and its commit."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from tests.integration.test_sync_api import Device, allocated_to, mutation
from webapp.extensions import db
from webapp.fieldsync.changes import CHANGE_LOG_LOCK

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend():
    return "postgresql"


@pytest.fixture
def phone(as_user, me):
    return Device(as_user(me))


def _catch_up(phone, cursor):
    got = {}
    while True:
        r = phone.pull(cursor=cursor)
        assert r.status_code == 200, r.get_data(as_text=True)
        for c in r.json["changes"]:
            got[c["record_id"]] = c["version"]
        cursor = r.json["cursor"]
        if not r.json["has_more"]:
            return got, cursor


def _writer_between_append_and_commit(interview_id: str):
    """A transaction that has written an interview and appended its change log row as the app
    does (the lock shared, then the row), not yet committed: its own connection, held open."""
    conn = db.engine.connect()
    conn.begin()
    version = conn.scalar(
        text("UPDATE interviews SET version = version + 1 WHERE id = :id RETURNING version"),
        {"id": interview_id},
    )
    conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": CHANGE_LOG_LOCK})
    conn.execute(
        text(
            "INSERT INTO change_log (record_type, record_id, version, deleted, changed_at) "
            "VALUES ('interview', :id, :v, false, now())"
        ),
        {"id": interview_id, "v": version},
    )
    return conn, version


def _in_thread(work):
    answers = []
    thread = threading.Thread(target=lambda: answers.append(work()), daemon=True)
    thread.start()
    return thread, answers


def _advisory_locks_held() -> int:
    # pg_locks shows the whole cluster: other test workers, each on a database of its own, take
    # the same keys at the same moment (this test once failed in CI on another worker's push).
    return db.session.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )


def test_a_change_committed_after_a_later_one_is_not_skipped(phone, me):
    early, late = allocated_to(me), allocated_to(me)
    change = mutation(late.id, late.version, {"why_details": "late"})
    _, cursor = _catch_up(phone, None)
    # The early writer appends first (the lower seq) and is still committing...
    conn, early_version = _writer_between_append_and_commit(early.id)
    try:
        # ...while the late one (a push from the phone) commits: it does not wait.
        pusher, pushed = _in_thread(lambda: phone.push([change]))
        pusher.join(timeout=10)
        assert not pusher.is_alive(), "the push waited for the other writer's commit"
        (r,) = pushed[0].json["results"]
        assert r["status"] == "applied"
        # A pull now waits for the early writer rather than give the late row alone (which
        # would put its cursor past the early row, committed next).
        puller, pulled = _in_thread(lambda: _catch_up(phone, cursor))
        puller.join(timeout=1.0)
        assert puller.is_alive(), "the pull did not wait for the writer still committing"
        conn.commit()
    finally:
        conn.close()
        pusher.join(timeout=20)
    puller.join(timeout=20)
    assert not puller.is_alive()
    got, _ = pulled[0]
    assert got == {early.id: early_version, late.id: r["version"]}


def test_a_full_copy_then_the_log_misses_nothing_committed_meanwhile(phone, me):
    running = allocated_to(me)
    conn, version = _writer_between_append_and_commit(running.id)
    try:
        puller, pulled = _in_thread(lambda: _catch_up(phone, None))
        time.sleep(0.5)
        conn.commit()
    finally:
        conn.close()
    puller.join(timeout=20)
    copy, cursor = pulled[0]
    got, _ = _catch_up(phone, cursor)
    assert {**copy, **got}[running.id] == version


def test_writers_do_not_wait_for_each_other(phone, me):
    """A writer between its append and its commit does not hold up another writer's commit
    (the lock used to be exclusive: every writer waited for the one before it to commit, its
    disk flush included)."""
    held, pushed = allocated_to(me), allocated_to(me)
    change = mutation(pushed.id, pushed.version, {"why_details": "x"})
    conn, _ = _writer_between_append_and_commit(held.id)
    try:
        pusher, answers = _in_thread(lambda: phone.push([change]))
        pusher.join(timeout=10)
        assert not pusher.is_alive(), "the push waited for the other writer's commit"
    finally:
        conn.rollback()
        conn.close()
        pusher.join(timeout=20)
    assert answers[0].status_code == 200
    assert answers[0].json["results"][0]["status"] == "applied"


def test_a_pull_lets_go_of_the_lock(phone, me):
    allocated_to(me)
    db.session.commit()
    _catch_up(phone, None)
    _catch_up(phone, None)
    db.session.rollback()
    assert _advisory_locks_held() == 0
