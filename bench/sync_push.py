"""How fast queued offline work reaches the server through the real sync API.

Three figures, printed (nothing is asserted, so the numbers can be compared between machines):

(a) one device with --records queued interview mutations pushes them in batches of 50 (the
    field-mode client's PUSH_BATCH) over HTTP, one batch after another as the client does;
(b) --devices devices, each a different worker with their own allocated interviews, session
    cookies and device cookie, push --device-records mutations each at the same moment against the
    multi-threaded gunicorn server;
(c) the ceiling: plain INSERTs of rows of the same size straight into the same database, 50 rows
    per transaction, first from one connection (compare with a) and then from --devices
    connections at once (compare with b).

Each queued mutation is for a different interview because the client keeps one unsent mutation
per record (DeviceStore.enqueue folds later edits into it), so a queue of 1,000 is 1,000
interviews. Every push should come back "applied": a conflict or rejection would mean the
benchmark measured the wrong path, and is reported. Rates count acknowledged mutations only.

    .venv/bin/python bench/sync_push.py                      # PostgreSQL scratch db (default)
    .venv/bin/python bench/sync_push.py --database-url sqlite  # SQLite file in a temp folder
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import requests
from harness import (
    DEFAULT_POSTGRES_URL,
    app_env,
    cli,
    cpu_snapshot,
    cpu_used,
    fresh_database,
    instance_folder,
    machine,
    percentile,
    postgres_pids,
    process_tree,
    remove_tree,
    serve,
    sign_in,
)
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

BATCH = 50  # static/js/sync/client.js PUSH_BATCH
# webapp/api/sync_views.py logs the exception type (never the body) of any failure.
SERVER_FAILURE = re.compile(r"sync API failure: (\w+)")
CLIENT_TIMEOUT = 15.0  # static/js/sync/client.js REQUEST_TIMEOUT_MS: the phone gives up after this
PASSWORD = "bench walrus kettle orbit 4471"  # noqa: S105  (fictional users, throwaway database)


@dataclass
class Device:
    """One phone: a signed-in worker, its cookies (session and hw_device) and its outbox."""

    email: str
    queue: list[tuple[str, int]]  # (interview id, base version): one unsent mutation each
    http: requests.Session | None = None
    csrf: str = ""
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    resets: int = 0  # requests reset by the server and sent again


# ------------------------------------------------------------------------------------ set-up


def seed(env: dict[str, str], queues: list[int]) -> list[Device]:
    """One worker per entry of `queues`, each with that many allocated interviews.

    People come from tests/factories.py (one Argon2 hash for them all: it costs ~0.3 s and is
    the same for every user anyway). The interviews stay a loop of model objects flushed every
    500 rows rather than the factories' flush per object: thousands of them, and a flush each
    would make the set-up, not the sync, the slow part. Either way they go through the models
    inside the app, like webapp/demo.py, so the change-log listener and the version counters
    behave exactly as in production.
    """
    from tests import factories
    from webapp import create_app, deadlines
    from webapp.children.models import Child, LegalStatus
    from webapp.db_types import utcnow
    from webapp.episodes.models import Episode, EpisodeStatus
    from webapp.extensions import db
    from webapp.interviews.models import Interview, InterviewStatus

    app = create_app(environ=env)
    with app.app_context():
        la = factories.local_authority("Bench Council")
        team = factories.team(la, name="Bench Missing Team")
        manager = factories.manager(la, email="bench-manager@bench.test", password=PASSWORD)
        workers = [
            factories.worker(
                la, team_=team, email=f"bench-worker-{k:03}@bench.test", password=PASSWORD
            )
            for k in range(len(queues))
        ]

        now = utcnow()
        returned = now - timedelta(hours=30)
        made = 0
        for worker, count in zip(workers, queues, strict=True):
            for _ in range(count):
                made += 1
                child = Child(
                    first_name=f"Bench{made}",
                    last_name="Child",
                    date_of_birth=date(2010, 1, 1),
                    sex="female",
                    legal_status=LegalStatus.NONE,
                    looked_after=False,
                    responsible_authority_id=la.id,
                )
                episode = Episode(
                    child=child,
                    reported_type="missing",
                    missing_from="home",
                    last_seen_at=returned - timedelta(hours=6),
                    reported_to_police_at=returned - timedelta(hours=4),
                    police_category="missing",
                    returned_at=returned,
                    how_returned="own_accord",
                    status=EpisodeStatus.RETURNED,
                    reported_by_id=manager.id,
                )
                interview = Interview(
                    child=child,
                    due_at=deadlines.rhi_due_at(returned),
                    status=InterviewStatus.ALLOCATED,
                    allocated_to_id=worker.id,
                    team_id=team.id,
                    allocated_by_id=manager.id,
                    allocated_at=returned + timedelta(hours=1),
                )
                interview.episodes = [episode]
                db.session.add_all([child, episode, interview])
                if made % 500 == 0:
                    db.session.flush()
        db.session.commit()

        devices = []
        for worker in workers:
            rows = db.session.execute(
                select(Interview.id, Interview.version)
                .where(Interview.allocated_to_id == worker.id)
                .order_by(Interview.id)
            ).all()
            devices.append(Device(email=worker.email, queue=[(r.id, r.version) for r in rows]))
    return devices


def connect(device: Device, base_url: str) -> None:
    """Sign in once (sign-in is throttled), then get the CSRF token as field mode does."""
    device.http = sign_in(base_url, device.email, PASSWORD)
    session = device.http.get(base_url + "/api/v1/session", timeout=30)
    session.raise_for_status()
    device.csrf = session.json()["csrf_token"]


def answers_for(n: int) -> dict:
    """A realistic completed interview's worth of answers (about 1.1 kB of JSON)."""
    held = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")
    return {
        "offered": "Y",
        "outcome": "accepted",
        "independent": "yes",
        "held_at": held,
        "location": "Library on Station Road",
        "present": "The child and the return interview worker",
        "overview": f"Benchmark interview {n}. Stayed with a friend from school for two nights "
        "and came back by bus on Sunday afternoon; calm and talkative during the interview.",
        "reasons": ["friends", "clear_head"],
        "why_details": "Said things had been tense at home after an argument about phone use and "
        "that a friend had offered a sofa. Did not want to worry anyone but switched the phone "
        "off so nobody could call. Knew people were looking but felt embarrassed to come back. "
        * 2,
        "where_stayed": "At a friend's flat above the shops on the high street.",
        "feel_now": "Relieved to be home, a bit worried about school on Monday.",
        "cp_referral": "no",
        "consent_to_share": "no",
    }


def mutations_for(device: Device) -> list[bytes]:
    """The device's outbox as ready-to-send request bodies, so JSON encoding is not timed."""
    bodies = []
    for start in range(0, len(device.queue), BATCH):
        chunk = device.queue[start : start + BATCH]
        body = {
            "protocol": 1,
            "device_id": device.device_id,
            "mutations": [
                {
                    "mutation_id": str(uuid.uuid4()),
                    "record_type": "interview",
                    "record_id": interview_id,
                    "op": "upsert",
                    "base_version": version,
                    "payload": {"answers": answers_for(start + i), "submit": False},
                }
                for i, (interview_id, version) in enumerate(chunk)
            ],
        }
        bodies.append(json.dumps(body).encode())
    return bodies


# ------------------------------------------------------------------------------------ pushing


def push_outbox(device: Device, base_url: str, bodies: list[bytes]) -> None:
    """Send the batches one after another, as SyncClient._push does, timing each round trip."""
    headers = {"Content-Type": "application/json", "X-CSRFToken": device.csrf}
    # Start from a new connection: gunicorn closes keep-alive connections idle for 2 s, and a
    # request sent just as it does so is reset.
    device.http.close()
    for body in bodies:
        started = time.perf_counter()
        try:
            answer = device.http.post(
                base_url + "/api/v1/sync/push", data=body, headers=headers, timeout=120
            )
        except requests.ConnectionError:
            # What Chromium does with a request reset on a reused connection: send it again.
            # Safe: a batch the server did apply is answered "replayed", and counted as such.
            device.resets += 1
            answer = device.http.post(
                base_url + "/api/v1/sync/push", data=body, headers=headers, timeout=120
            )
        device.latencies.append(time.perf_counter() - started)
        if answer.status_code != 200:
            device.statuses[f"HTTP {answer.status_code}"] += len(json.loads(body)["mutations"])
            continue
        device.statuses.update(r["status"] for r in answer.json()["results"])


def run_concurrently(devices: list[Device], base_url: str) -> float:
    """Every device pushes its whole outbox at once (fifty phones back in signal); wall seconds."""
    bodies = {d.email: mutations_for(d) for d in devices}
    gate = threading.Barrier(len(devices) + 1, timeout=120)
    failures: list[BaseException] = []

    def phone(device: Device) -> None:
        try:
            gate.wait()
            push_outbox(device, base_url, bodies[device.email])
        except BaseException as exc:  # report it; never hang the benchmark on one thread
            gate.abort()
            failures.append(exc)

    threads = [threading.Thread(target=phone, args=(d,), daemon=True) for d in devices]
    for t in threads:
        t.start()
    with suppress(threading.BrokenBarrierError):  # a thread failed: reported below
        gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} device(s) failed; first: {failures[0]!r}")
    return elapsed


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in the tables one push writes to, to show how much work a mutation really is."""
    meta = MetaData()
    names = ["sync_mutations", "change_log", "audit_events"]
    meta.reflect(engine, only=names)
    with engine.connect() as conn:
        return {
            n: conn.scalar(select(func.count()).select_from(meta.tables[n])) or 0 for n in names
        }


# ------------------------------------------------------------------------------------ ceiling


RAW = Table(
    "bench_raw_insert",
    MetaData(),
    # The shape of a sync_mutations row plus an encrypted-answers-sized text column.
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36)),
    Column("device_id", String(36)),
    Column("fingerprint", String(64)),
    Column("result", JSON),
    Column("content", Text),
    Column("received_at", DateTime(timezone=True)),
)


def raw_inserts(
    database_url: str, connections: int, rows_each: int
) -> tuple[float, list[float], dict[str, float]]:
    """Plain INSERTs, BATCH rows per transaction, from `connections` connections at once.

    No HTTP, no ORM, no validation, no encryption: what the database alone can take, so (a) and
    (b) can be read as a fraction of it.
    """
    sealed_size = len(json.dumps(answers_for(0))) * 4 // 3 + 60  # AES-GCM token, base64url
    # One pooled connection per writer; SQLite waits up to a minute for its single write lock.
    connect_args = {"timeout": 60} if database_url.startswith("sqlite") else {}
    engine = create_engine(
        database_url, pool_size=connections, max_overflow=0, connect_args=connect_args
    )
    RAW.drop(engine, checkfirst=True)
    RAW.create(engine)
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    gate = threading.Barrier(connections + 1, timeout=120)

    def writer() -> None:
        user, device = str(uuid.uuid4()), str(uuid.uuid4())
        # Rows are made before the gate: the ceiling is the database's, not Python's speed at
        # making random strings (50 threads share one interpreter lock).
        batches = [
            [
                {
                    "id": str(uuid.uuid4()),
                    "user_id": user,
                    "device_id": device,
                    "fingerprint": secrets.token_hex(32),
                    "result": {"status": "applied", "http_status": 200, "version": 2},
                    "content": secrets.token_urlsafe(sealed_size)[:sealed_size],
                    "received_at": datetime.now(UTC),
                }
                for _ in range(min(BATCH, rows_each - start))
            ]
            for start in range(0, rows_each, BATCH)
        ]
        mine: list[float] = []
        try:
            with engine.connect() as conn:
                gate.wait()
                for rows in batches:
                    began = time.perf_counter()
                    with conn.begin():
                        conn.execute(RAW.insert(), rows)
                    mine.append(time.perf_counter() - began)
        except BaseException as exc:  # report it; never leave the others waiting at the gate
            gate.abort()
            failures.append(exc)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    # Every writer is connected and waiting at the gate, so neither connecting nor the table's
    # creation is timed; CPU is read before the connections close and their backends exit.
    with cpu_meter(None, not database_url.startswith("sqlite")) as used:
        with suppress(threading.BrokenBarrierError):  # a writer failed: reported below
            gate.wait()
        started = time.perf_counter()
        for t in threads:
            t.join(timeout=600)
        elapsed = time.perf_counter() - started
    engine.dispose()
    if failures:
        raise SystemExit(f"{len(failures)} raw writer(s) failed; first: {failures[0]!r}")
    return elapsed, latencies, used


# ------------------------------------------------------------------------------------ report


@contextmanager
def cpu_meter(server_pid: int | None, postgres: bool) -> Iterator[dict[str, float]]:
    """CPU seconds each party used during the block: is the figure CPU-bound, and on whom?"""
    groups = {}
    if server_pid:
        groups["server"] = lambda: process_tree(server_pid)
    if postgres:
        groups["PostgreSQL"] = postgres_pids
    groups["this client"] = lambda: [os.getpid()]
    before = {name: cpu_snapshot(pids()) for name, pids in groups.items()}
    used: dict[str, float] = {}
    yield used
    for name, pids in groups.items():
        used[name] = cpu_used(before[name], cpu_snapshot(pids()))


class LockWatch(threading.Thread):
    """Samples pg_stat_activity while devices push: how many of the server's connections are
    busy, and how many of those are waiting for an advisory lock (the change-log lock that
    webapp/fieldsync/changes.py takes on every flush that touches an interview)."""

    def __init__(self, database_url: str):
        super().__init__(daemon=True)
        self.engine = create_engine(database_url, poolclass=NullPool)
        self.samples: list[tuple[int, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        query = text(
            "SELECT count(*) FILTER (WHERE state <> 'idle'),"
            " count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory')"
            " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        with self.engine.connect() as conn:
            while not self.stopping.wait(0.1):
                busy, waiting = conn.execute(query).one()
                self.samples.append((busy, waiting))
                conn.commit()  # a fresh snapshot of pg_stat_activity each time

    def stop(self) -> str:
        self.stopping.set()
        self.join(5)
        self.engine.dispose()
        if not self.samples:
            return "no samples"
        busy = sum(b for b, _ in self.samples) / len(self.samples)
        waiting = sum(w for _, w in self.samples) / len(self.samples)
        return (
            f"on average {busy:.1f} database connections busy, {waiting:.1f} of them waiting "
            "for the change-log advisory lock"
        )


def acknowledged(statuses: Counter) -> int:
    """Mutations the server took (a device deletes these): the only ones a rate may count."""
    return statuses["applied"] + statuses["replayed"]


def line(label: str, records: int, seconds: float, latencies: list[float]) -> str:
    return (
        f"  {label:<40} {records:>6} records {seconds:>7.2f} s {records / seconds:>7.0f} rec/s"
        f"  batch p50 {percentile(latencies, 50) * 1000:>5.0f} ms"
        f"  p99 {percentile(latencies, 99) * 1000:>5.0f} ms"
    )


def cpu_line(used: dict[str, float], seconds: float) -> str:
    parts = ", ".join(f"{name} {cpu:.1f}" for name, cpu in used.items())
    cores = os.cpu_count() or 1
    return f"      CPU seconds: {parts} (the machine had {cores} x {seconds:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_POSTGRES_URL,
        help="scratch database, dropped and recreated each run; 'sqlite' for a temp SQLite file "
        f"(default {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--records", type=int, default=1000, help="(a) one device's outbox")
    parser.add_argument("--devices", type=int, default=50, help="(b) devices pushing at once")
    parser.add_argument(
        "--device-records", type=int, default=100, help="(b) each concurrent device's outbox"
    )
    parser.add_argument("--server-workers", type=int, default=None, help="default 2, SQLite 1")
    parser.add_argument("--server-threads", type=int, default=8)
    parser.add_argument(
        "--keep-instance",
        action="store_true",
        help="keep the temporary instance folder (server log, SQLite file) and print its path",
    )
    args = parser.parse_args()
    if not (1 <= args.records <= 20_000 and 1 <= args.devices <= 200):
        parser.error("keep it bounded: --records up to 20000, --devices up to 200")
    if not 1 <= args.devices * args.device_records <= 50_000:
        parser.error("--devices x --device-records must be at most 50000")

    instance = instance_folder()
    try:
        database_url = fresh_database(
            None if args.database_url == "sqlite" else args.database_url, instance
        )
        workers = args.server_workers or (1 if database_url.startswith("sqlite") else 2)
        run(args, app_env(instance, database_url), instance, database_url, workers)
    finally:
        if args.keep_instance:
            print(f"Instance folder kept: {instance}")
        else:
            remove_tree(instance)


def run(args, env: dict[str, str], instance, database_url: str, workers: int) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgres:
            db_version = "PostgreSQL " + conn.exec_driver_sql("SHOW server_version").scalar()
        else:
            db_version = "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar()
    print(
        f"Homeward sync push benchmark: {db_version}, server {workers} worker(s) x "
        f"{args.server_threads} threads, {machine()}"
    )

    began = time.perf_counter()
    cli(["init-db"], env)
    queues = [args.records] + [args.device_records] * args.devices
    devices = seed(env, queues)
    single, fleet = devices[0], devices[1:]
    print(
        f"  set-up: schema, {len(devices)} workers, {sum(queues)} allocated interviews "
        f"in {time.perf_counter() - began:.1f} s"
    )

    with serve(env, instance, workers, args.server_threads) as server:
        began = time.perf_counter()
        for device in devices:
            connect(device, server.url)
        print(f"  set-up: {len(devices)} sign-ins in {time.perf_counter() - began:.1f} s")
        print()

        # (a) one device, its batches one after another.
        before = table_counts(engine)
        bodies = mutations_for(single)
        with cpu_meter(server.proc.pid, postgres) as used:
            started = time.perf_counter()
            push_outbox(single, server.url, bodies)
            elapsed = time.perf_counter() - started
        after = table_counts(engine)
        print(
            line(
                f"(a) 1 device, batches of {BATCH}",
                acknowledged(single.statuses),
                elapsed,
                single.latencies,
            )
        )
        print(f"      results: {dict(single.statuses)}")
        print(cpu_line(used, elapsed))
        rows = {k: (after[k] - before[k]) / len(single.queue) for k in after}
        print(
            "      rows added per mutation: " + ", ".join(f"{k} {v:.2f}" for k, v in rows.items())
        )

        # (b) every device at once.
        mark = len(server.hits())
        watch = LockWatch(database_url) if postgres else None
        if watch:
            watch.start()
        with cpu_meter(server.proc.pid, postgres) as used:
            elapsed = run_concurrently(fleet, server.url)
        locks = watch.stop() if watch else None
        latencies = [x for d in fleet for x in d.latencies]
        statuses = sum((d.statuses for d in fleet), Counter())
        records = acknowledged(statuses)
        print(line(f"(b) {len(fleet)} devices at once", records, elapsed, latencies))
        resets = sum(d.resets for d in fleet)
        print(
            f"      results: {dict(statuses)}" + (f", {resets} connection resets" if resets else "")
        )
        slow = sum(x > CLIENT_TIMEOUT for x in latencies)
        print(
            f"      {slow} of {len(latencies)} batches took longer than the field client's "
            f"{CLIENT_TIMEOUT:.0f} s timeout (a phone would abort and resend them)"
        )
        print(cpu_line(used, elapsed))
        served = [h.ms / 1000 for h in server.hits()[mark:] if h.path == "/api/v1/sync/push"]
        p50, p99 = percentile(served, 50) * 1000, percentile(served, 99) * 1000
        print(
            f"      time inside the server per batch (access log): p50 {p50:.0f} ms, "
            f"p99 {p99:.0f} ms"
        )
        if locks:
            print(f"      {locks}")
        failures = Counter(SERVER_FAILURE.findall(server.log.read_text(errors="replace")))
        if failures:
            print(f"      server-side failures logged by the sync API: {dict(failures)}")

    # (c) the database alone, with the server stopped so it has the machine to itself.
    for connections, rows_each, compare in (
        (1, args.records, "a"),
        (args.devices, args.device_records, "b"),
    ):
        elapsed, latencies, used = raw_inserts(database_url, connections, rows_each)
        label = f"(c) raw INSERT, {connections} connection{'s' if connections > 1 else ''}"
        print(line(label, connections * rows_each, elapsed, latencies) + f"  (vs {compare})")
        print(cpu_line(used, elapsed))


if __name__ == "__main__":
    main()
