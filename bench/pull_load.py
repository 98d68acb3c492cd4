"""Issue 14's pull figures: fresh phones pulling a full copy out of a large change log.

Seeded fast with Core INSERTs into a scratch PostgreSQL database: interviews allocated to the
phones below and to other workers, each logged --log-entries times at random places of a change
log of --log-rows rows (the interview's version moved on to match), then ANALYZE. The server is
`homeward serve` with its default workers and threads. Each phone signs in over HTTP and pulls
as static/js/sync/client.js does: GET /api/v1/sync/pull?limit=200, again with the cursor while
has_more.

(a) one fresh phone with --phone-records allocated interviews: time and bytes of its full pull,
    pages, and how many times each record arrived;
(b) --phones fresh phones (--each-records interviews each) pulling at once: time until all
    finish, p50/p99 per phone;
(c) --phones other workers push --push-records interviews each in batches of 50, first alone,
    then again (other interviews) while the (b) phones pull a full copy from scratch at the same
    moment (without a cursor: the server's work for a fresh phone): push records/s with and
    without, after a warm-up, alternated --rounds times (each pair is a few seconds on a shared
    machine: one pair alone is not a reading). With --pull-repeat the pullers start again as
    each copy ends, until the pushes end (a closed loop: the harshest reading).

A scenario still running at its --deadline is stopped and reported as unfinished (the engine
before issue 14 walks the whole log for a full pull). Nothing is asserted.

    .venv/bin/python bench/pull_load.py                     # about 3 minutes
    .venv/bin/python bench/pull_load.py --scenarios a --log-rows 20000
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from urllib.parse import urlencode

from harness import (
    Wire,
    WireReset,
    app_env,
    bulk_allocated_interviews,
    cli,
    drop_database,
    fresh_database,
    instance_folder,
    load_average,
    machine,
    percentile,
    remove_tree,
    serve_as_configured,
)
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from sync_load import Phone, Tally, bodies_for, run_phones
from sync_push import CLIENT_TIMEOUT, PASSWORD, SERVER_FAILURE, connect, cpu_meter

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/homeward_bench_pull_load"
PULL_LIMIT = 200  # static/js/sync/client.js
PUSH_BATCH = 50


@dataclass
class Pull:
    """One full pull: pages, bytes, time, and how often each record arrived."""

    pages: int = 0
    body_bytes: int = 0
    seconds: float = 0.0
    page_seconds: list[float] = field(default_factory=list)
    arrivals: Counter = field(default_factory=Counter)
    finished: bool = False
    error: str = ""


def full_pull(phone: Phone, base_url: str, stop: threading.Event | None = None) -> Pull:
    """Pull from no cursor until has_more is false, as SyncClient._pull does."""
    result = Pull()
    cursor = None
    wire = Wire(base_url, phone.http)  # the client's own CPU kept small (harness.Wire)
    started = time.perf_counter()
    try:
        while stop is None or not stop.is_set():
            params = {"limit": str(PULL_LIMIT)}
            if cursor:
                params["cursor"] = cursor
            began = time.perf_counter()
            try:
                path = "/api/v1/sync/pull?" + urlencode(params)
                status, headers, content = wire.request("GET", path)
            except WireReset:
                continue  # sent again, as the browser does on a reset keep-alive connection
            result.page_seconds.append(time.perf_counter() - began)
            if status == 503:
                time.sleep(float(headers.get("Retry-After", "1")))
                continue
            if status != 200:
                result.error = f"HTTP {status}"
                break
            result.pages += 1
            result.body_bytes += len(content)
            data = json.loads(content)
            result.arrivals.update(c["record_id"] for c in data["changes"] if not c["deleted"])
            cursor = data["cursor"]
            if not data["has_more"]:
                result.finished = True
                break
    finally:
        wire.close()
    result.seconds = time.perf_counter() - started
    return result


# ------------------------------------------------------------------------------------ set-up


def seed(env: dict[str, str], args) -> dict[str, list[Phone]]:
    """The workers and their interviews, then the change log, all in bulk."""
    from tests import factories
    from webapp import create_app
    from webapp.extensions import db

    app = create_app(environ=env)
    with app.app_context():
        la = factories.local_authority("Pull Council")
        team = factories.team(la, name="Pull Missing Team")
        manager = factories.manager(la, email="pull-manager@bench.test", password=PASSWORD)

        def workers(prefix: str, count: int) -> list:
            return [
                factories.worker(
                    la, team_=team, email=f"{prefix}-{k:03}@bench.test", password=PASSWORD
                )
                for k in range(count)
            ]

        groups = {
            "single": (workers("pull-single", 1), args.phone_records),
            "fresh": (workers("pull-fresh", args.phones), args.each_records),
            "pusher": (
                workers("pull-pusher", args.phones),
                2 * args.rounds * args.push_records + WARM_UP,
            ),
        }
        allocations = [(w.id, n) for people, n in groups.values() for w in people]
        ours = sum(n for _, n in allocations)
        # Everyone else's interviews fill the log: other workers of the same authority.
        others_total = max(0, args.log_rows // args.log_entries - ours)
        others = workers("pull-other", 20)
        for k, w in enumerate(others):
            allocations.append((w.id, others_total // 20 + (k < others_total % 20)))
        given = bulk_allocated_interviews(la.id, team.id, manager.id, allocations, seed=1414)
        db.session.commit()
        ids = [rid for rows in given.values() for rid, _ in rows]
        log_rows(db, ids, args.log_entries, args.log_rows)
        db.session.commit()
        phones = {
            name: [
                Phone(
                    email=w.email,
                    interviews=[(rid, args.log_entries) for rid, _ in given[w.id]],
                )
                for w in people
            ]
            for name, (people, _) in groups.items()
        }
    return phones


def log_rows(db, ids: list[str], entries: int, total: int) -> None:
    """`total` change_log rows: each interview `entries` times (the last ones cut when the phones
    alone hold more than total/entries interviews) at random places, its versions rising in log
    order; the interview's own version set to its last."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert, update

    from webapp.fieldsync.models import ChangeLog
    from webapp.interviews.models import Interview

    rng = random.Random(14)
    order = [rid for rid in ids for _ in range(entries)]
    rng.shuffle(order)
    seen: Counter = Counter()
    start = datetime.now(UTC) - timedelta(days=90)
    step = timedelta(days=90) / max(1, len(order))
    rows = []
    for n, rid in enumerate(order):
        seen[rid] += 1
        rows.append(
            {
                "record_type": "interview",
                "record_id": rid,
                "version": seen[rid],
                "deleted": False,
                "changed_at": start + n * step,
            }
        )
    for at in range(0, len(rows), 10_000):
        db.session.execute(insert(ChangeLog), rows[at : at + 10_000])
    db.session.execute(update(Interview).values(version=entries))


# ------------------------------------------------------------------------------------ scenarios


def scenario_a(phone: Phone, url: str, deadline: float) -> None:
    stop = threading.Event()
    timer = threading.Timer(deadline, stop.set)
    timer.start()
    pull = full_pull(phone, url, stop)
    timer.cancel()
    arrivals = pull.arrivals
    times = Counter(arrivals.values())
    state = "finished" if pull.finished else f"NOT finished after {deadline:.0f} s ({pull.error})"
    print(
        f"  (a) 1 fresh phone, {len(phone.interviews)} allocated: {state} in "
        f"{pull.seconds:.2f} s, {pull.pages} pages, {pull.body_bytes / 1024:.0f} KiB of JSON"
    )
    print(
        f"      {len(arrivals)} of {len(phone.interviews)} records arrived, "
        f"{sum(arrivals.values())} changes: arrivals per record "
        + ", ".join(f"{k}x: {v}" for k, v in sorted(times.items()))
        + f"; page p50 {percentile(pull.page_seconds, 50) * 1000:.0f} ms,"
        f" p99 {percentile(pull.page_seconds, 99) * 1000:.0f} ms"
    )


def many_pulls(phones: list[Phone], url: str, stop: threading.Event, repeat: bool) -> list:
    """Every phone pulls a full copy at once; with `repeat`, again from scratch until `stop`."""
    results: list[Pull] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(phones) + 1, timeout=300)

    def work(phone: Phone) -> None:
        phone.http.close()
        with suppress(threading.BrokenBarrierError):
            gate.wait()
        while not stop.is_set():
            pull = full_pull(phone, url, stop)
            with lock:
                results.append(pull)
            if not repeat:
                break

    threads = [threading.Thread(target=work, args=(p,), daemon=True) for p in phones]
    for t in threads:
        t.start()
    with suppress(threading.BrokenBarrierError):
        gate.wait()
    return threads, results


def scenario_b(phones: list[Phone], url: str, deadline: float) -> None:
    stop = threading.Event()
    started = time.perf_counter()
    threads, results = many_pulls(phones, url, stop, repeat=False)
    end = started + deadline
    for t in threads:
        t.join(timeout=max(0.0, end - time.perf_counter()))
    stop.set()
    for t in threads:
        t.join(timeout=130)
    elapsed = time.perf_counter() - started
    done = [r for r in results if r.finished]
    pages = [x for r in results for x in r.page_seconds]
    whole = [r.seconds for r in done]
    got = sum(len(r.arrivals) for r in results)
    expected = sum(len(p.interviews) for p in phones)
    print(
        f"  (b) {len(phones)} fresh phones at once: {len(done)} of {len(phones)} finished, "
        + (
            f"all in {max(whole):.2f} s"
            if len(done) == len(phones)
            else f"stopped after {elapsed:.0f} s"
        )
        + f"; per phone p50 {percentile(whole, 50):.2f} s, p99 {percentile(whole, 99):.2f} s"
    )
    over = sum(x > CLIENT_TIMEOUT for x in pages)
    kib = sum(r.body_bytes for r in results) / 1024
    print(
        f"      {got} of {expected} records arrived, {kib:.0f} KiB; {len(pages)} pages, page"
        f" p50 {percentile(pages, 50) * 1000:.0f} ms, p99 "
        f"{percentile(pages, 99) * 1000:.0f} ms, {over} over 15 s"
    )


def push_round(pushers: list[Phone], url: str, records: int) -> tuple[float, Tally]:
    outboxes = {p.email: bodies_for(p, records, PUSH_BATCH) for p in pushers}
    return run_phones(pushers, url + "/api/v1/sync/push", outboxes)


def push_line(label: str, elapsed: float, tally: Tally, used: dict[str, float]) -> float:
    acked = tally.statuses["applied"] + tally.statuses["replayed"]
    lat = tally.latencies
    print(
        f"  {label:<36} {acked:>5} records {elapsed:>6.1f} s {acked / elapsed:>6.0f} rec/s"
        f"  batch p50 {percentile(lat, 50) * 1000:>6.0f} ms  p99 {percentile(lat, 99) * 1000:>6.0f}"
        f" ms, {sum(x > CLIENT_TIMEOUT for x in lat)} over 15 s, {tally.busy} 503"
    )
    print(
        f"      results: {dict(tally.statuses)}; CPU seconds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in used.items())
    )
    return acked / elapsed


WARM_UP = 10  # each pusher's records sent before any round is timed


def scenario_c(pushers, pullers, server, records: int, repeat: bool, rounds: int) -> None:
    """Pushes alone and pushes while the pullers pull, alternated `rounds` times after a warm-up
    (a server's first requests open its connections and fill its caches: timed first, the
    "alone" round was the slower in one run of two, and the single pair read -40% to +33%)."""
    url = server.url
    push_round(pushers, url, WARM_UP)
    alone_s, loaded_s, rates = 0.0, 0.0, []
    for n in range(1, rounds + 1):
        with cpu_meter(server.proc.pid, True) as used:
            elapsed, tally = push_round(pushers, url, records)
        alone = push_line(f"(c{n}) {len(pushers)} phones push, no pulls", elapsed, tally, used)
        alone_s += elapsed
        time.sleep(1)
        stop = threading.Event()
        with cpu_meter(server.proc.pid, True) as used:
            started = time.perf_counter()
            threads, pulls = many_pulls(pullers, url, stop, repeat=repeat)
            elapsed, tally = push_round(pushers, url, records)
            stop.set()
        for t in threads:
            t.join(timeout=130)
        pulls_took = time.perf_counter() - started
        loaded = push_line(f"(c{n}) the same, {len(pullers)} phones pulling", elapsed, tally, used)
        loaded_s += elapsed
        rates.append(100 * (1 - loaded / alone))
        done = [p for p in pulls if p.finished]
        print(
            f"      pushes {rates[-1]:+.0f}% slower with the pulls; meanwhile {len(done)} full "
            f"pulls finished (p50 {percentile([p.seconds for p in done], 50):.2f} s, the last "
            f"{max([p.seconds for p in done] or [0]):.2f} s after the start; the pushes took "
            f"{elapsed:.2f} s), {sum(p.pages for p in pulls)} pages served"
            + ("" if repeat else f"; all done {pulls_took:.2f} s after the start")
        )
        time.sleep(1)
    print(
        f"  (c) over {rounds} rounds: pushes {100 * (1 - alone_s / loaded_s):.0f}% slower with "
        f"the pulls ({alone_s:.1f} s of pushing alone, {loaded_s:.1f} s with the pulls; rounds "
        + ", ".join(f"{r:+.0f}%" for r in rates)
        + "; issue: at most 25%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help=f"scratch PostgreSQL database, created and dropped (default {DEFAULT_URL})",
    )
    parser.add_argument("--scenarios", default="a,b,c", help="comma-separated, of a b c")
    parser.add_argument("--log-rows", type=int, default=100_000)
    parser.add_argument("--log-entries", type=int, default=4, help="log rows per interview")
    parser.add_argument("--phone-records", type=int, default=500, help="(a) its interviews")
    parser.add_argument("--phones", type=int, default=50, help="(b) and (c): phones")
    parser.add_argument("--each-records", type=int, default=100, help="(b) each phone's")
    parser.add_argument("--push-records", type=int, default=100, help="(c) each pusher's")
    parser.add_argument(
        "--deadline", type=float, default=150, help="seconds before (a) or (b) is stopped"
    )
    parser.add_argument("--pull-repeat", action="store_true", help="(c) pull again until done")
    parser.add_argument(
        "--rounds", type=int, default=3, help="(c) pushes alone, then with pulls, this many times"
    )
    parser.add_argument("--serve-args", default="", help="extra `homeward serve` options")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not chosen or set(chosen) - {"a", "b", "c"}:
        parser.error("--scenarios takes a comma-separated list of a, b, c")
    if not (1 <= args.log_rows <= 1_000_000 and 1 <= args.phones <= 200):
        parser.error("keep it bounded: --log-rows up to 1,000,000, --phones up to 200")

    instance = instance_folder()
    database_url = fresh_database(args.database_url, instance)
    try:
        run(args, chosen, app_env(instance, database_url), instance, database_url)
    finally:
        remove_tree(instance)
        drop_database(database_url)


def run(args, chosen, env, instance, database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version").scalar()
    print(
        f"Homeward pull load (issue 14): PostgreSQL {version}, "
        f"`homeward serve {args.serve_args or '(its defaults)'}`, {machine()}"
    )
    began = time.perf_counter()
    cli(["init-db"], env)
    phones = seed(env, args)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))  # as autovacuum would leave a table this size
        log = conn.execute(text("SELECT count(*) FROM change_log")).scalar()
        interviews = conn.execute(text("SELECT count(*) FROM interviews")).scalar()
        conn.commit()
    engine.dispose()
    print(
        f"  set-up: {interviews:,} interviews, {log:,} change_log rows in "
        f"{time.perf_counter() - began:.1f} s"
    )
    with serve_as_configured(env, instance, args.serve_args.split()) as server:
        began = time.perf_counter()
        wanted = {"a": ["single"], "b": ["fresh"], "c": ["fresh", "pusher"]}
        groups = {g for s in chosen for g in wanted[s]}
        signed = 0
        for group in sorted(groups):
            for phone in phones[group]:
                connect(phone, server.url)
                signed += 1
        print(f"  set-up: {signed} sign-ins in {time.perf_counter() - began:.1f} s\n")
        if "a" in chosen:
            [single] = phones["single"]
            # full_pull counts arrivals against what the phone holds, not what it pushes.
            scenario_a(single, server.url, args.deadline)
            print(f"      load average now {load_average()}")
        if "b" in chosen:
            scenario_b(phones["fresh"], server.url, args.deadline)
            print(f"      load average now {load_average()}")
        if "c" in chosen:
            scenario_c(
                phones["pusher"],
                phones["fresh"],
                server,
                args.push_records,
                args.pull_repeat,
                args.rounds,
            )
            print(f"      load average now {load_average()}")
        failures = Counter(SERVER_FAILURE.findall(server.log.read_text(errors="replace")))
        if failures:
            print(f"  server-side failures logged by the sync API: {dict(failures)}")


if __name__ == "__main__":
    main()
