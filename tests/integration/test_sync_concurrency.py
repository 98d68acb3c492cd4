"""Two phones saving the same interview at the same instant, and a batch whose writes roll back
part-way: the compare-and-set on the record's version is atomic on both databases, and the change
log only ever holds what committed."""

import threading
import uuid

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.helpers import fresh
from tests.integration.test_sync_api import Device, mutation
from webapp.extensions import db
from webapp.fieldsync.models import ChangeLog, SyncConflict
from webapp.interviews import sync as field_store

# Concurrent writers, locks and savepoints.
pytestmark = pytest.mark.both_databases


def _allocated(worker=None):
    """An interview allocated to `worker` (a new one unless given), committed."""
    interview = factories.interview(worker_=worker)
    db.session.commit()
    return interview


def test_two_phones_saving_at_once_one_wins_the_other_gets_a_conflict(as_user, monkeypatch):
    """Both phones read version N, then both write. Before the fix the second write silently
    replaced the first and both phones were told "applied"."""
    interview = _allocated()
    # The same worker signed in on two phones.
    a, b = Device(as_user(interview.allocated_to)), Device(as_user(interview.allocated_to))
    base = interview.version
    record_id = interview.id

    # Force the worst interleaving where the database allows it: both pushes have read the
    # record before either writes. (SQLite takes its write lock before the read, so there the
    # second push cannot read until the first commits; the barrier then times out and both go
    # on, one after the other.)
    both_loaded = threading.Barrier(2, timeout=3)
    real_load = field_store.InterviewHandler.load

    def load_then_wait(self, actor, rid):
        state = real_load(self, actor, rid)
        if str(rid) == record_id:
            try:
                both_loaded.wait()
            except threading.BrokenBarrierError:
                pass  # the other phone's load is already past: carry on
        return state

    monkeypatch.setattr(field_store.InterviewHandler, "load", load_then_wait)

    answers = {
        a: {"where_stayed": "phone A: at a friend's house"},
        b: {"where_stayed": "phone B: in a park"},
    }
    results: dict = {}

    def send(phone):
        r = phone.push([mutation(record_id, base, answers[phone])])
        results[phone] = (r.status_code, r.get_json())

    threads = [threading.Thread(target=send, args=(p,)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert all(code == 200 for code, _ in results.values()), results
    statuses = sorted(body["results"][0]["status"] for _, body in results.values())
    assert statuses == ["applied", "conflict"], results

    winner = next(
        p for p, (_, body) in results.items() if body["results"][0]["status"] == "applied"
    )
    loser = a if winner is b else b
    loser_result = results[loser][1]["results"][0]
    # The loser keeps its copy (a conflict copy on the server) and sees the winner's.
    assert (
        loser_result["server_payload"]["answers"]["where_stayed"] == answers[winner]["where_stayed"]
    )
    assert db.session.get(SyncConflict, loser_result["conflict_id"]) is not None
    stored = fresh(interview)
    assert stored.version == base + 1
    from webapp.interviews import service as interviews

    assert interviews.answers(stored)["where_stayed"] == answers[winner]["where_stayed"]


@pytest.mark.parametrize("refused_first", [False, True])
def test_a_savepoint_rolled_back_mid_batch_logs_nothing_and_keeps_the_rest(as_user, refused_first):
    """One mutation applies; another is refused part-way through its write (sending an
    incomplete interview for authorisation), in either order: the change log holds the applied
    one, once, appended at the real commit, and nothing of the refused one."""
    worker = factories.worker()
    mine, also_mine = _allocated(worker), _allocated(worker)
    phone = Device(as_user(worker))
    before = db.session.scalar(select(db.func.max(ChangeLog.seq))) or 0
    applied = mutation(mine.id, mine.version, {"where_stayed": "with a cousin"})
    # A rule only checkable while writing refuses this one inside its savepoint.
    refused = mutation(also_mine.id, also_mine.version, {"where_stayed": "x"}, submit=True)
    batch = [refused, applied] if refused_first else [applied, refused]
    r = phone.push(batch)
    assert r.status_code == 200, r.get_data(as_text=True)
    statuses = {m["record_id"]: m["status"] for m in r.json["results"]}
    assert statuses == {mine.id: "applied", also_mine.id: "rejected"}, r.json
    db.session.expire_all()
    logged = db.session.scalars(select(ChangeLog.record_id).where(ChangeLog.seq > before)).all()
    assert logged == [mine.id]
    assert fresh(also_mine).version == also_mine.version


def test_before_commit_work_runs_once_per_transaction_not_per_savepoint(app):
    """The change-log lock is taken once, at the real commit: SQLAlchemy also fires before_commit
    at every savepoint release, which held the lock from a batch's first mutation to its end."""
    from webapp import uow
    from webapp.interviews import service as interviews

    worker = factories.worker()
    first, second = _allocated(worker), _allocated(worker)
    calls = []
    # Registered as the features register theirs (the change log among them).
    uow.register_before_commit(app, "count", lambda s: calls.append(1), order=1000)
    with uow.batch():
        for name, interview in (("first", first), ("second", second), ("first", first)):
            with db.session.begin_nested():
                interviews.replace_answers(
                    worker, interview, {"where_stayed": f"{name} {uuid.uuid4()}"}, source="sync"
                )
    assert len(calls) == 1
