"""How fast due reminders go out: `homeward reminders run --once` against a burst of due reminders.

--reminders reminders (10,000 by default) for --users people, each with one subscribed browser
of the local fake push service (tests/support/fake_push.py: it verifies VAPID and decrypts every
message, as the browser would), all fall due at the same moment; then 1 dispatcher process, and
(with the tables emptied and as many reminders queued afresh) 3 dispatcher processes, started
through the CLI as cron would start them, send them all. For each run:

  sends/s     deliveries per second from the first delivery to the last (the sending rate), and
              over the whole run including the processes starting (wall)
  latency     due_at to the moment the fake push service accepted the message: p50, p99, max.
              Everything is due at once, so this is mostly queueing behind the burst, plus
              start-up (the "first" column)
  CPU         seconds used by the dispatcher processes and by this process (the fake push
              service, which decrypts every message), against cores x wall

Every reminder must be delivered exactly once and end `sent`; anything else is printed.

The fake push service shares the machine with the dispatchers and PostgreSQL, so on a small
machine the figures are a floor set by CPU, not by any network. The scratch database is created
and dropped here (never the test suite's `test`); only 127.0.0.1 is contacted.

    .venv/bin/python bench/reminders_dispatch.py
    .venv/bin/python bench/reminders_dispatch.py --reminders 2000 --processes 1 2 4
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from harness import (
    ROOT,
    app_env,
    cli,
    drop_database,
    fresh_database,
    instance_folder,
    load_average,
    machine,
    percentile,
    remove_tree,
)
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/homeward_bench_reminders"
RUN_TIMEOUT = 75.0  # seconds one run may take before its dispatchers are killed


def fake_push_service():
    """The test suite's fake push service: verifies VAPID and decrypts every message."""
    sys.path.insert(0, str(ROOT))
    from tests.support.fake_push import FakePushService

    return FakePushService()


# ------------------------------------------------------------------------------------ set-up


def seed_people(engine: Engine, service, public_key: str, users: int) -> list[str]:
    """One organisation, `users` people, one fake browser subscribed for each. Their ids.

    Bulk Core inserts, not tests/factories.py: the dispatcher under test runs in other processes
    against the bare engine (no app, no ORM session here), nobody signs in, and the rows are
    only what a reminder needs to find its people and their subscriptions.
    """
    from webapp.accounts.models import Organisation, OrgKind, User
    from webapp.db_types import new_id
    from webapp.push.models import PushSubscription

    org, ids = new_id(), [new_id() for _ in range(users)]
    with engine.begin() as conn:
        conn.execute(
            Organisation.__table__.insert(),
            {"id": org, "kind": OrgKind.LOCAL_AUTHORITY, "name": "Bench Council"},
        )
        conn.execute(
            User.__table__.insert(),
            [
                {
                    "id": uid,
                    "email": f"bench-{k:03}@bench.test",
                    "name": f"Bench Person {k}",
                    "password_hash": "-",  # never signs in
                    "role": "worker",
                    "organisation_id": org,
                }
                for k, uid in enumerate(ids)
            ],
        )
        subscriptions = []
        for uid in ids:
            keys = service.browser(application_server_key=public_key).subscription_json()
            subscriptions.append(
                {
                    "id": new_id(),
                    "user_id": uid,
                    "device_id": new_id(),
                    "label": "Fake browser",
                    "endpoint": keys["endpoint"],
                    "p256dh": keys["keys"]["p256dh"],
                    "auth": keys["keys"]["auth"],
                }
            )
        conn.execute(PushSubscription.__table__.insert(), subscriptions)
    return ids


def queue_reminders(engine: Engine, people: list[str], count: int) -> list[str]:
    """Empty the reminder tables and queue `count` reminders (not yet due). Their ids."""
    from webapp.db_types import new_id, utcnow
    from webapp.reminders.models import Reminder

    later = utcnow() + timedelta(days=1)
    rows = []
    for k in range(count):
        rid, uid = new_id(), people[k % len(people)]
        rows.append(
            {
                "id": rid,
                "key": f"bench:{rid}:{uid}",
                "kind": "bench",
                "subject_type": "user",
                "subject_id": uid,
                "recipient_id": uid,
                "due_at": later,
                "next_attempt_at": later,
                "stale_at": later + timedelta(hours=1),
                "urgency": "normal",
                "topic": "bench",
                "ttl_seconds": 3600,
                "title": "Homeward test",
                "body": "Reminders are working on this device.",
                "status": "pending",
                "attempts": 0,
            }
        )
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE reminder_attempts, reminders"))
        conn.execute(Reminder.__table__.insert(), rows)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # As a table that has been in use for a while would be: statistics are up to date.
        conn.execute(text("VACUUM ANALYZE reminders"))
    return [r["id"] for r in rows]


def make_due(engine: Engine):
    """Every queued reminder falls due now. Returns that moment."""
    from webapp.db_types import utcnow
    from webapp.reminders.models import Reminder

    now = utcnow()
    table = Reminder.__table__
    with engine.begin() as conn:
        conn.execute(update(table).values(due_at=now, next_attempt_at=now))
    return now


# ------------------------------------------------------------------------------------ one run


@dataclass
class Result:
    processes: int
    delivered: int
    duplicates: int
    missing: int
    statuses: Counter
    wall: float
    first: float  # seconds from due to the first delivery (the processes starting)
    window: float  # first delivery to last
    latencies: list[float]
    cpu_dispatchers: float
    cpu_fake: float
    per_process: Counter


def run(
    engine: Engine,
    env: dict[str, str],
    service,
    people: list[str],
    args,
    processes: int,
    logs: Path,
) -> Result:
    from webapp.reminders.models import Reminder

    ids = queue_reminders(engine, people, args.reminders)
    mark = len(service.deliveries)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    own_before = time.process_time()
    due = make_due(engine)
    started = time.perf_counter()
    procs: list[subprocess.Popen] = []
    try:
        for k in range(processes):
            with open(logs / f"dispatcher-{processes}-{k}.log", "w") as log:
                procs.append(
                    subprocess.Popen(  # noqa: S603  (our own CLI, fixed arguments)
                        [
                            sys.executable,
                            "-m",
                            "webapp.cli",
                            "reminders",
                            "run",
                            "--once",
                            "--batch-size",
                            str(args.batch_size),
                            "--threads",
                            str(args.threads),
                        ],
                        env=env,
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = started + RUN_TIMEOUT
        for proc in procs:
            proc.wait(max(0.1, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        print(f"  !! {processes} dispatcher(s) still running after {RUN_TIMEOUT:.0f} s: killed")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    wall = time.perf_counter() - started
    cpu_fake = time.process_time() - own_before
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_dispatchers = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    for k, proc in enumerate(procs):
        if proc.returncode:
            log = (logs / f"dispatcher-{processes}-{k}.log").read_text(errors="replace")
            print(f"  !! dispatcher {k} exited {proc.returncode}:\n{log[-2000:]}")

    deliveries = service.deliveries[mark:]
    refs = Counter(d.payload["ref"] for d in deliveries)
    times = sorted((d.at - due).total_seconds() for d in deliveries)
    table = Reminder.__table__
    with engine.connect() as conn:
        statuses = Counter(
            dict(conn.execute(select(table.c.status, func.count()).group_by(table.c.status)).all())
        )
        per_process = Counter(
            dict(
                conn.execute(
                    select(table.c.claimed_by, func.count()).group_by(table.c.claimed_by)
                ).all()
            )
        )
    return Result(
        processes=processes,
        delivered=len(refs),
        duplicates=sum(n - 1 for n in refs.values()),
        missing=len(set(ids) - set(refs)),
        statuses=statuses,
        wall=wall,
        first=times[0] if times else float("nan"),
        window=(times[-1] - times[0]) if len(times) > 1 else float("nan"),
        latencies=times,
        cpu_dispatchers=cpu_dispatchers,
        cpu_fake=cpu_fake,
        per_process=per_process,
    )


# ------------------------------------------------------------------------------------ report


def table(results: list[Result], reminders: int) -> str:
    header = (
        f"{'dispatchers':>11}  {'sends/s':>7}  {'(wall)':>6}  {'first':>6}  {'p50':>6}  "
        f"{'p99':>6}  {'max':>6}  {'wall':>6}  {'CPU disp':>8}  {'CPU fake':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        rate = (r.delivered - 1) / r.window if r.window and r.window > 0 else float("nan")
        lines.append(
            f"{r.processes:>11}  {rate:>7.0f}  {r.delivered / r.wall:>6.0f}  {r.first:>5.2f}s  "
            f"{percentile(r.latencies, 50):>5.2f}s  {percentile(r.latencies, 99):>5.2f}s  "
            f"{r.latencies[-1] if r.latencies else float('nan'):>5.2f}s  {r.wall:>5.1f}s  "
            f"{r.cpu_dispatchers:>7.1f}s  {r.cpu_fake:>7.1f}s"
        )
    for r in results:
        problems = []
        if r.missing:
            problems.append(f"{r.missing} of {reminders} never delivered")
        if r.duplicates:
            problems.append(f"{r.duplicates} delivered twice")
        if r.statuses != Counter({"sent": reminders}):
            problems.append(f"statuses {dict(r.statuses)}")
        shares = "/".join(str(n) for n in sorted(r.per_process.values(), reverse=True))
        verdict = "; ".join(problems) if problems else "every reminder delivered once, all sent"
        lines.append(f"  {r.processes} dispatcher(s): {verdict}; reminders per process {shares}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help=f"scratch PostgreSQL database, created and dropped (default {DEFAULT_URL})",
    )
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=30, help="people, one browser each")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8, help="sending threads per dispatcher")
    args = parser.parse_args()
    if not (1 <= args.reminders <= 20_000 and 1 <= args.users <= 1000):
        parser.error("keep it bounded: --reminders up to 20000, --users up to 1000")
    if not all(1 <= p <= 8 for p in args.processes) or len(args.processes) > 4:
        parser.error("--processes: at most 4 runs of 1 to 8 dispatchers")
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("several dispatchers need PostgreSQL (SQLite has no row locks)")

    instance = instance_folder()
    url = fresh_database(args.database_url, instance)
    try:
        env = app_env(instance, url)
        env["HOMEWARD_PUSH_ALLOW_LOCAL"] = "1"  # the fake push service is http://127.0.0.1
        cli(["init-db"], env)
        cli(["vapid-keys"], env)
        from webapp.push.vapid import load_keys

        public_key = load_keys({}, instance, required=True).public_key_b64url
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        print(
            f"Homeward reminder dispatch benchmark: {args.reminders} reminders due at once, "
            f"{args.users} people x 1 browser, batch {args.batch_size}, {args.threads} threads "
            f"per dispatcher; PostgreSQL {version}, {machine()}"
        )
        with fake_push_service() as service:
            people = seed_people(engine, service, public_key, args.users)
            results = [run(engine, env, service, people, args, n, instance) for n in args.processes]
            rejected = Counter(a.status for a in service.attempts if a.status != 201)
        engine.dispose()
        print(table(results, args.reminders))
        if rejected:
            print(f"  !! the fake push service refused some pushes: {dict(rejected)}")
        print(f"  load average after: {load_average()}")
    finally:
        drop_database(url)
        remove_tree(instance)


if __name__ == "__main__":
    main()
