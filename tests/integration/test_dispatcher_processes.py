"""Several `homeward reminders run` processes against one PostgreSQL database, for real.

The other dispatcher tests (test_reminders.py) drive one Dispatcher inside the test process with
frozen time. Here the dispatchers are separate operating-system processes started through the
CLI, as a deployment runs them, racing each other for thousands of due reminders through
`SELECT ... FOR UPDATE SKIP LOCKED`; and one of them is killed with SIGKILL in the middle of a
batch. The push service is the local fake (tests/support/fake_push.py): it verifies VAPID and
decrypts every message, so each delivery it records really reached the "browser".

PostgreSQL only (SQLite has no row locks, so it runs a single dispatcher). Without a reachable
PostgreSQL these tests are skipped on a laptop and fail under CI, like every PostgreSQL test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import create_engine, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from tests.conftest import _pg_exec, _pg_url
from tests.support.fake_push import FakeBrowser, FakePushService
from webapp.accounts.models import Organisation, OrgKind, User
from webapp.db_types import new_id, utcnow
from webapp.push.models import PushSubscription
from webapp.reminders.models import Reminder, ReminderAttempt, ReminderStatus

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
BATCH = 50  # --batch-size given to every dispatcher (also the CLI's default)
THREADS = 8  # the CLI's default --threads: sends in flight at once per dispatcher
USERS = 30
PROCESS_TIMEOUT = 60  # seconds any one dispatcher process may take

REMINDERS = Reminder.__table__
ATTEMPTS = ReminderAttempt.__table__


class SlowPushService(FakePushService):
    """The fake push service, taking `delay` seconds over each POST before it handles it.

    Slow enough that a batch of sends is still in flight when the test kills the dispatcher.
    """

    delay = 0.0

    def _handle(self, handler):
        if self.delay:
            time.sleep(self.delay)
        return super()._handle(handler)


class HoldingPushService(FakePushService):
    """The fake push service that, once it has accepted its `hold_at`-th message, holds that
    answer back until the test says so: the moment a push has reached the phone and the
    dispatcher has not yet heard. The test kills the dispatcher there."""

    hold_at = 0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.reached = threading.Event()
        self.release = threading.Event()

    def _handle(self, handler):
        answer = super()._handle(handler)
        if self.hold_at and len(self.deliveries) == self.hold_at:
            self.reached.set()
            self.release.wait(PROCESS_TIMEOUT)
        return answer


# ---------------------------------------------------------------- set-up


@pytest.fixture
def pg_database(request) -> Iterator[tuple[str, Engine]]:
    """(url, engine) of a fresh copy of the PostgreSQL template (demo data, migrations)."""
    # pg_template skips without PostgreSQL on a laptop, and fails under CI, which must test it.
    template, _ids = request.getfixturevalue("pg_template")
    name = f"hw_disp_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _pg_url(name)
    engine = create_engine(url, poolclass=NullPool)
    try:
        yield url, engine
    finally:
        engine.dispose()
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def push_service() -> Iterator[SlowPushService]:
    with SlowPushService(hang_seconds=1) as service:
        yield service


def vapid_public_key(instance: Path) -> str:
    from webapp.push.vapid import load_keys

    return load_keys({}, instance, required=True).public_key_b64url


def seed(engine: Engine, service: FakePushService, instance: Path, count: int) -> list[str]:
    """USERS people with one subscribed browser each, and `count` reminders due now among them.

    The demo data's own pending reminders are cancelled first, so ours are the only ones due.
    Returns the reminder ids.
    """
    key = vapid_public_key(instance)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(REMINDERS)
            .where(REMINDERS.c.status == ReminderStatus.PENDING)
            .values(status=ReminderStatus.CANCELLED)
        )
        org = conn.scalar(
            select(Organisation.id).where(Organisation.kind == OrgKind.LOCAL_AUTHORITY).limit(1)
        )
        users = [new_id() for _ in range(USERS)]
        conn.execute(
            User.__table__.insert(),
            [
                {
                    "id": uid,
                    "email": f"dispatch{i}@example.test",
                    "name": f"Dispatch Test {i}",
                    "password_hash": "x",  # never signs in
                    "role": "worker",
                    "organisation_id": org,
                }
                for i, uid in enumerate(users)
            ],
        )
        phones: list[FakeBrowser] = [service.browser(application_server_key=key) for _ in users]
        conn.execute(
            PushSubscription.__table__.insert(),
            [
                {
                    "id": new_id(),
                    "user_id": uid,
                    "device_id": new_id(),
                    "label": "Fake browser",
                    "endpoint": phone.endpoint,
                    "p256dh": phone.subscription_json()["keys"]["p256dh"],
                    "auth": phone.subscription_json()["keys"]["auth"],
                }
                for uid, phone in zip(users, phones, strict=True)
            ],
        )
        rows = []
        for i in range(count):
            rid, uid = new_id(), users[i % USERS]
            rows.append(
                {
                    "id": rid,
                    "key": f"test:{rid}:{uid}",
                    "kind": "test",
                    "subject_type": "user",
                    "subject_id": uid,
                    "recipient_id": uid,
                    # Spread over the last minute: all due, none stale (stale in an hour).
                    "due_at": now - timedelta(seconds=60 * i / count),
                    "next_attempt_at": now - timedelta(seconds=60 * i / count),
                    "stale_at": now + timedelta(hours=1),
                    "urgency": "normal",
                    "topic": "dispatch-test",
                    "ttl_seconds": 3600,
                    "title": "Homeward test",
                    "body": "Reminders are working on this device.",
                    "status": ReminderStatus.PENDING,
                    "attempts": 0,
                }
            )
        conn.execute(REMINDERS.insert(), rows)
    return [r["id"] for r in rows]


# ---------------------------------------------------------------- dispatcher processes


def dispatcher_env(url: str, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    env.update(
        DATABASE_URL=url,
        HOMEWARD_INSTANCE_PATH=str(instance),
        HOMEWARD_ENV="testing",
        # The fake push service is plain http on 127.0.0.1.
        HOMEWARD_PUSH_ALLOW_LOCAL="1",
    )
    return env


class Dispatchers:
    """`homeward reminders run` processes; their output goes to files (no pipe can fill up)."""

    def __init__(self, url: str, instance: Path, folder: Path):
        self.env = dispatcher_env(url, instance)
        self.folder = folder
        self.procs: list[subprocess.Popen] = []
        self.logs: dict[int, IO[str]] = {}

    def start(self, *args: str) -> subprocess.Popen:
        log = (self.folder / f"dispatcher-{len(self.procs)}.log").open("w+")
        proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "reminders", "run", "--batch-size", str(BATCH)]
            + list(args),
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        self.logs[proc.pid] = log
        return proc

    def output(self, proc: subprocess.Popen) -> str:
        log = self.logs[proc.pid]
        log.flush()
        log.seek(0)
        return log.read()

    def finish(self, proc: subprocess.Popen, timeout: float = PROCESS_TIMEOUT) -> str:
        """Wait for a `--once` run, which must exit cleanly; its output."""
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"dispatcher {proc.pid} still running after {timeout} s:\n{self.output(proc)}"
            )
        out = self.output(proc)
        assert code == 0, f"dispatcher {proc.pid} exited {code}:\n{out}"
        return out

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for log in self.logs.values():
            log.close()


@contextmanager
def dispatchers(url: str, instance: Path, logs: Path) -> Iterator[Dispatchers]:
    group = Dispatchers(url, instance, logs)
    try:
        yield group
    finally:
        group.kill_all()  # whatever happened, no dispatcher outlives the test


def delivered_refs(service: FakePushService) -> Counter[str]:
    return Counter(d.payload["ref"] for d in service.deliveries)


def statuses(engine: Engine, ids: list[str]) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(
            conn.scalars(select(REMINDERS.c.status).where(REMINDERS.c.id.in_(ids))).all()
        )


def sent_attempts(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(
            conn.scalars(select(ATTEMPTS.c.reminder_id).where(ATTEMPTS.c.outcome == "sent"))
        )


# ---------------------------------------------------------------- the tests


def test_several_dispatchers_thousands_of_due_reminders_every_one_delivered_exactly_once(
    pg_database, instance_dir, push_service, tmp_path
):
    url, engine = pg_database
    ids = seed(engine, push_service, instance_dir, count=3000)

    with dispatchers(url, instance_dir, tmp_path) as group:
        procs = [group.start("--once") for _ in range(3)]
        outputs = [group.finish(p) for p in procs]

    refs = delivered_refs(push_service)
    assert set(refs) == set(ids), f"{len(set(ids) - set(refs))} reminders never delivered"
    twice = {ref: n for ref, n in refs.items() if n > 1}
    assert not twice, f"{len(twice)} reminders delivered more than once"
    assert len(push_service.deliveries) == len(ids)
    # Every push the fake answered was a delivery: no 401/403/400 along the way.
    assert {a.status for a in push_service.attempts} == {201}

    assert statuses(engine, ids) == {ReminderStatus.SENT: len(ids)}
    assert sent_attempts(engine) == Counter({rid: 1 for rid in ids})

    with engine.connect() as conn:
        by_dispatcher = dict(
            conn.execute(
                select(REMINDERS.c.claimed_by, func.count())
                .where(REMINDERS.c.id.in_(ids))
                .group_by(REMINDERS.c.claimed_by)
            ).all()
        )
    # claimed_by is "hostname:pid": each reminder was settled by one of our three processes...
    pids = {name.rsplit(":", 1)[1] for name in by_dispatcher}
    assert pids <= {str(p.pid) for p in procs}, by_dispatcher
    # ...and the work was shared, not done by whichever one started first.
    assert len(by_dispatcher) > 1, f"one dispatcher did everything: {by_dispatcher}"
    handled = [re.search(r"(\d+) reminders handled", out) for out in outputs]
    assert all(handled), outputs
    assert sum(int(m[1]) for m in handled) == len(ids), outputs


def test_a_dispatcher_killed_mid_send_loses_nothing(
    pg_database, instance_dir, push_service, tmp_path
):
    url, engine = pg_database
    ids = seed(engine, push_service, instance_dir, count=1000)
    # 100 ms a push: a batch of 50 over the dispatcher's 8 threads takes at least 7 x 100 ms, so
    # the kill lands while the rest of the fourth batch is still being sent.
    push_service.delay = 0.1
    kill_after = 3 * BATCH + BATCH // 2  # half-way through the fourth batch

    with dispatchers(url, instance_dir, tmp_path) as group:
        doomed = group.start()  # loop mode, as a long-running deployment runs it
        try:
            push_service.wait_for(kill_after, timeout=PROCESS_TIMEOUT)
        except AssertionError:
            pytest.fail("the dispatcher did not start sending:\n" + group.output(doomed))
        doomed.kill()  # SIGKILL: no handler, no finally, no clean-up of its lease
        doomed.wait(10)

        with engine.connect() as conn:
            stuck = dict(
                conn.execute(
                    select(REMINDERS.c.id, REMINDERS.c.claimed_by).where(
                        REMINDERS.c.status == ReminderStatus.SENDING
                    )
                ).all()
            )
        # The deliveries arrive batch by batch (a batch is recorded before the next is claimed),
        # so the kill came in the middle of exactly one claimed batch.
        assert 0 < len(stuck) <= BATCH
        assert {name.rsplit(":", 1)[1] for name in stuck.values()} == {str(doomed.pid)}

        # The lease is two minutes: a real deployment waits that long before another dispatcher
        # takes the dead one's batch over. Rather than make the test wait, move those leases into
        # the past, which is exactly the state the database is in two minutes later.
        with engine.begin() as conn:
            rewound = conn.execute(
                update(REMINDERS)
                .where(REMINDERS.c.status == ReminderStatus.SENDING)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            ).rowcount
        assert rewound == len(stuck)

        push_service.delay = 0.0
        group.finish(group.start("--once"))

    refs = delivered_refs(push_service)
    assert set(refs) == set(ids), f"{len(set(ids) - set(refs))} reminders lost"
    assert statuses(engine, ids) == {ReminderStatus.SENT: len(ids)}
    # Each push was recorded as its answer came back, so the survivor sent again only the pushes
    # in flight at the kill, at most one per sending thread (the CLI's default of 8), never the
    # rest of the killed batch; each reminder has exactly one recorded `sent` attempt.
    assert sent_attempts(engine) == Counter({rid: 1 for rid in ids})
    twice = {ref for ref, n in refs.items() if n > 1}
    assert max(refs.values()) <= 2
    assert twice <= set(stuck), "a reminder recorded as sent was sent again"
    assert len(twice) <= THREADS, f"{len(twice)} pushes went twice"


def test_a_dispatcher_killed_mid_round_sends_again_only_the_push_in_flight(
    pg_database, instance_dir, tmp_path
):
    """16 reminders due in one round, one sending thread; SIGKILL while the 6th push has reached
    the phone but its answer has not reached the dispatcher. The restarted dispatcher must send
    that one again (it cannot know it arrived) and none of the five before it."""
    url, engine = pg_database
    with HoldingPushService(hang_seconds=1) as service:
        ids = seed(engine, service, instance_dir, count=16)
        service.hold_at = 6
        with dispatchers(url, instance_dir, tmp_path) as group:
            doomed = group.start("--threads", "1")
            if not service.reached.wait(PROCESS_TIMEOUT):
                pytest.fail("the dispatcher did not send:\n" + group.output(doomed))
            doomed.kill()
            doomed.wait(10)
            service.release.set()
            assert statuses(engine, ids) == {ReminderStatus.SENDING: 16}  # one round, unsettled

            with engine.begin() as conn:
                conn.execute(
                    update(REMINDERS)
                    .where(REMINDERS.c.status == ReminderStatus.SENDING)
                    .values(lease_until=utcnow() - timedelta(seconds=1))
                )
            service.hold_at = 0
            group.finish(group.start("--once"))

        refs = delivered_refs(service)
    assert set(refs) == set(ids), f"{len(set(ids) - set(refs))} reminders lost"
    assert statuses(engine, ids) == {ReminderStatus.SENT: 16}
    assert sent_attempts(engine) == Counter({rid: 1 for rid in ids})
    twice = sorted(n for n in refs.values() if n > 1)
    assert twice == [2], f"pushed again after the restart: {twice} (at most the one in flight)"
