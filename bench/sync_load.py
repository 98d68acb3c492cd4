"""Issue 14's push table: phones pushing through the real HTTP API of `homeward serve`.

An independent load client (threads in this process, each a phone with its own sign-in, session
cookie, hw_device cookie, CSRF token and HTTP connection) pushes interviews to the server as it is
started by default (`homeward serve`, gunicorn gthread with its default workers and threads) on a
scratch PostgreSQL database:

(a) 1 phone, one interview per request;
(b) 20 phones at once, one interview per request;
(c) 50 phones at once, one interview per request;
(d) 50 phones at once, batches of 50 (the field client's PUSH_BATCH);
(f) 1 phone, batches of 50 (the issue's 500 records/s from one phone);
(g) 50 phones, one per request, each sending a change every --paces seconds rather than the
    moment the last is answered (an open loop, as people type: 100, 150 and 200 changes a
    second offered by default), for the wait a change sees at a given load;
(e) the database's raw INSERT ceiling in the same run, server stopped: 50-row transactions of
    rows sized like a pushed mutation, from 1 and from 50 connections.

Each phone sends its requests one after another, as static/js/sync/client.js does. A 503 is
answered as the phone does: wait Retry-After, send the same body again; each record is counted
once, when a 200 acknowledges it (applied or replayed). Printed per scenario: records/s, p50/p99
per request, requests over the phone's 15 s timeout, 503s, server and PostgreSQL CPU per record
(from /proc). Nothing is asserted.

    .venv/bin/python bench/sync_load.py                      # every scenario, about 4 minutes
    .venv/bin/python bench/sync_load.py --scenarios a,d,e    # a choice
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
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
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sync_push import (
    CLIENT_TIMEOUT,
    PASSWORD,
    SERVER_FAILURE,
    answers_for,
    connect,
    cpu_meter,
    raw_inserts,
)

PUSH_BATCH = 50  # static/js/sync/client.js
G_WARM_UP = 3  # each phone's changes sent, untimed, before (g)
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/homeward_bench_sync_load"


@dataclass
class Phone:
    """One signed-in worker's phone and what it measured."""

    email: str
    interviews: list[tuple[str, int]]  # (id, version) allocated to it, used up scenario by scenario
    http: requests.Session | None = None  # signs in; the timed client with --client requests
    wire: Wire | None = None  # the timed client by default
    csrf: str = ""
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Tally:
    """One scenario's figures, added to by every phone thread (under `lock`)."""

    latencies: list[float] = field(default_factory=list)  # every HTTP answer, 503s included
    to_ack: list[float] = field(default_factory=list)  # first send to the 200, waits included
    statuses: Counter = field(default_factory=Counter)
    busy: int = 0  # 503 answers
    retry_after: list[float] = field(default_factory=list)
    resets: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def bodies_for(phone: Phone, count: int, per_request: int) -> list[bytes]:
    """The next `count` of the phone's interviews as request bodies of `per_request` mutations,
    made before the clock starts (one mutation per interview, as the client's outbox keeps)."""
    chunk, phone.interviews = phone.interviews[:count], phone.interviews[count:]
    if len(chunk) < count:
        raise SystemExit(f"{phone.email} has too few interviews left for this scenario")
    bodies = []
    for start in range(0, count, per_request):
        mutations = [
            {
                "mutation_id": str(uuid.uuid4()),
                "record_type": "interview",
                "record_id": interview_id,
                "op": "upsert",
                "base_version": version,
                "payload": {"answers": answers_for(start + i), "submit": False},
            }
            for i, (interview_id, version) in enumerate(chunk[start : start + per_request])
        ]
        body = {"protocol": 1, "device_id": phone.device_id, "mutations": mutations}
        bodies.append(json.dumps(body).encode())
    return bodies


def _post(phone: Phone, url: str, body: bytes, headers: dict) -> tuple[int, Any, bytes]:
    """(status, headers, body) of one POST; WireReset if the connection was closed under it."""
    if phone.wire is not None:
        return phone.wire.request("POST", urlsplit(url).path, body, headers)
    try:
        answer = phone.http.post(url, data=body, headers=headers, timeout=120)
    except requests.ConnectionError as exc:
        raise WireReset from exc
    return answer.status_code, answer.headers, answer.content


def send(phone: Phone, url: str, body: bytes, tally: Tally) -> None:
    """One request until it is answered, as the phone does: a 503 waits Retry-After and sends the
    same body (same mutation ids, so a record is never counted twice); a reset connection is
    sent again at once (what Chromium does on a reused connection)."""
    headers = {"Content-Type": "application/json", "X-CSRFToken": phone.csrf}
    first = time.perf_counter()
    while True:
        started = time.perf_counter()
        try:
            status, answer_headers, content = _post(phone, url, body, headers)
        except WireReset:
            with tally.lock:
                tally.resets += 1
            continue
        took = time.perf_counter() - started
        if status == 503:
            wait = float(answer_headers.get("Retry-After", "1"))
            with tally.lock:
                tally.latencies.append(took)
                tally.busy += 1
                tally.retry_after.append(wait)
            time.sleep(wait)
            continue
        with tally.lock:
            tally.latencies.append(took)
            if status == 200:
                tally.to_ack.append(time.perf_counter() - first)
                tally.statuses.update(r["status"] for r in json.loads(content)["results"])
            else:
                count = len(json.loads(body)["mutations"])
                tally.statuses[f"HTTP {status}"] += count
        return


def run_phones(
    phones: list[Phone],
    url: str,
    outboxes: dict[str, list[bytes]],
    pace: float | None = None,
    client: str = "wire",
) -> tuple:
    """Every phone sends its outbox at the same moment (a barrier), one request after another.
    With `pace`, each phone sends a change every `pace` seconds instead (its first at a random
    moment within the first `pace`, so the phones are not in step), still one at a time: a late
    answer delays its next change, never stacks them."""
    tally = Tally()
    gate = threading.Barrier(len(phones) + 1, timeout=300)
    failures: list[BaseException] = []

    def work(phone: Phone) -> None:
        try:
            # A new connection each: gunicorn closes keep-alive connections idle for 2 s.
            phone.http.close()
            if phone.wire is not None:
                phone.wire.close()
            phone.wire = Wire(url, phone.http) if client == "wire" else None
            gate.wait()
            due = time.perf_counter() + (random.uniform(0, pace) if pace else 0)  # noqa: S311
            for body in outboxes[phone.email]:
                if pace:
                    time.sleep(max(0.0, due - time.perf_counter()))
                    due += pace
                send(phone, url, body, tally)
        except BaseException as exc:  # report it; never hang the bench on one thread
            gate.abort()
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(p,), daemon=True) for p in phones]
    for t in threads:
        t.start()
    with suppress(threading.BrokenBarrierError):
        gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join(timeout=900)
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} phone(s) failed; first: {failures[0]!r}")
    return elapsed, tally


def report(label: str, elapsed: float, tally: Tally, used: dict[str, float], hits) -> dict:
    acked = tally.statuses["applied"] + tally.statuses["replayed"]
    lat = tally.latencies
    over = sum(x > CLIENT_TIMEOUT for x in lat)
    server_ms = used.get("server", 0) / acked * 1000 if acked else float("nan")
    pg_ms = used.get("PostgreSQL", 0) / acked * 1000 if acked else float("nan")
    inside = [h.ms for h in hits if h.path == "/api/v1/sync/push" and h.status == 200]
    print(
        f"  {label:<44} {acked:>5} records {elapsed:>6.1f} s {acked / elapsed:>6.0f} rec/s"
        f"  p50 {percentile(lat, 50) * 1000:>6.0f} ms  p99 {percentile(lat, 99) * 1000:>6.0f} ms"
    )
    print(f"      results: {dict(tally.statuses)}; requests: {len(lat)}, {over} over 15 s")
    busy = (
        f"{tally.busy} answered 503 (Retry-After {min(tally.retry_after):.0f}-"
        f"{max(tally.retry_after):.0f} s), first send to acknowledgement p99 "
        f"{percentile(tally.to_ack, 99) * 1000:.0f} ms"
        if tally.busy
        else "no 503"
    )
    print(f"      {busy}; {tally.resets} connection resets")
    cores = os.cpu_count() or 1
    print(
        "      CPU seconds: "
        + ", ".join(f"{k} {v:.1f}" for k, v in used.items())
        + f" (machine {cores} x {elapsed:.1f} s); per record: server {server_ms:.2f} ms,"
        f" PostgreSQL {pg_ms:.2f} ms"
    )
    if inside:
        print(
            f"      time inside the server per 200 (access log): p50 {percentile(inside, 50)} ms,"
            f" p99 {percentile(inside, 99)} ms; load average now {load_average()}"
        )
    return {"records": acked, "rate": acked / elapsed, "over": over, "busy": tally.busy}


SCENARIOS = {
    # name: (phones, records per phone option, mutations per request)
    "a": (1, "per_request_records", 1),
    "b": (20, "per_request_records", 1),
    "c": (50, "per_request_records", 1),
    "d": (50, "batch_records", PUSH_BATCH),
    "f": (1, "single_batch_records", PUSH_BATCH),
    # 50 phones one change at a time, each at a set pace (--paces), not as fast as answered.
    "g": (50, "paced_records", 1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help=f"scratch PostgreSQL database, created and dropped (default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--scenarios",
        default="a,b,c,d,f,g,e",
        help="comma-separated, of a b c d e f g (default all; e, the raw ceiling, runs last)",
    )
    parser.add_argument(
        "--per-request-records",
        type=int,
        default=None,
        help="each phone's interviews in a, b, c (default a 150, b 15, c 7)",
    )
    parser.add_argument(
        "--batch-records", type=int, default=100, help="each phone's interviews in d (default 100)"
    )
    parser.add_argument(
        "--serve-args",
        default="",
        help="extra `homeward serve` options, e.g. '--workers 2' (default none: its defaults)",
    )
    parser.add_argument(
        "--single-batch-records", type=int, default=200, help="the phone's interviews in f"
    )
    parser.add_argument(
        "--paces",
        default="0.5,0.33,0.25",
        help="g: seconds between one phone's changes, one run each (default 0.5,0.33,0.25: "
        "50 phones offer 100, 150 and 200 changes a second)",
    )
    parser.add_argument(
        "--paced-records", type=int, default=30, help="each phone's changes in g, for each pace"
    )
    parser.add_argument(
        "--client",
        choices=("wire", "requests"),
        default="wire",
        help="the phones' timed HTTP client: a plain keep-alive http.client connection (default, "
        "about a quarter of the CPU a request) or requests, which this bench used before",
    )
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not chosen or set(chosen) - {"a", "b", "c", "d", "e", "f", "g"}:
        parser.error("--scenarios takes a comma-separated list of a, b, c, d, e, f, g")
    try:
        args.paces = [float(p) for p in args.paces.split(",") if p.strip()]
    except ValueError:
        parser.error("--paces takes seconds separated by commas, e.g. 0.5,0.25")
    if not args.paces or min(args.paces) <= 0:
        parser.error("--paces takes positive seconds")
    per_request = {
        "a": 150,
        "b": 15,
        "c": 7,
        "f": args.single_batch_records,
        "g": args.paced_records * len(args.paces) + G_WARM_UP,
    }
    if args.per_request_records:
        per_request.update(dict.fromkeys("abc", args.per_request_records))
    need = {
        s: (SCENARIOS[s][0], per_request[s] if s in per_request else args.batch_records)
        for s in chosen
        if s in SCENARIOS
    }
    total = sum(p * n for p, n in need.values())
    if total > 20_000:
        parser.error(f"{total} interviews: keep it under 20,000")

    instance = instance_folder()
    database_url = fresh_database(args.database_url, instance)
    try:
        run(args, chosen, need, app_env(instance, database_url), instance, database_url)
    finally:
        remove_tree(instance)
        if not args.keep_database:
            drop_database(database_url)


def seed(env: dict[str, str], need: dict[str, tuple[int, int]]) -> list[Phone]:
    """50 workers (as many as the largest scenario), each allocated the interviews every scenario
    it takes part in will push, in bulk."""
    from tests import factories
    from webapp import create_app
    from webapp.extensions import db

    phones_needed = max([p for p, _ in need.values()] or [1])
    app = create_app(environ=env)
    with app.app_context():
        la = factories.local_authority("Load Council")
        team = factories.team(la, name="Load Missing Team")
        manager = factories.manager(la, email="load-manager@bench.test", password=PASSWORD)
        workers = [
            factories.worker(
                la, team_=team, email=f"load-worker-{k:03}@bench.test", password=PASSWORD
            )
            for k in range(phones_needed)
        ]
        allocations = []
        for k, worker in enumerate(workers):
            count = sum(n for phones, n in need.values() if k < phones)
            if count:
                allocations.append((worker.id, count))
        given = bulk_allocated_interviews(la.id, team.id, manager.id, allocations)
        phones = [Phone(email=w.email, interviews=given.get(w.id, [])) for w in workers]
        db.session.commit()
    return phones


def run(args, chosen, need, env, instance, database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version").scalar()
    engine.dispose()
    print(
        f"Homeward sync load (issue 14): PostgreSQL {version}, "
        f"`homeward serve {args.serve_args or '(its defaults)'}`, {machine()}"
    )
    began = time.perf_counter()
    cli(["init-db"], env)
    phones = seed(env, need)
    total = sum(p * n for p, n in need.values())
    print(
        f"  set-up: schema, {len(phones)} workers, {total} interviews in "
        f"{time.perf_counter() - began:.1f} s"
    )

    if need:
        with serve_as_configured(env, instance, args.serve_args.split()) as server:
            began = time.perf_counter()
            for phone in phones:
                connect(phone, server.url)
            print(f"  set-up: {len(phones)} sign-ins in {time.perf_counter() - began:.1f} s\n")
            url = server.url + "/api/v1/sync/push"
            for name in chosen:
                if name not in SCENARIOS:
                    continue
                count, _, per = SCENARIOS[name]
                fleet = phones[:count]
                label = f"({name}) {count} phone{'s' if count > 1 else ''}, " + (
                    "one per request" if per == 1 else f"batches of {per}"
                )
                runs = [(None, need[name][1], label)]
                if name == "g":
                    # Warm first (the server's connections, statement caches): a short run
                    # alone makes the first pace's p99 the cold start's.
                    warm = {p.email: bodies_for(p, G_WARM_UP, per) for p in fleet}
                    run_phones(fleet, url, warm, client=args.client)
                    runs = [
                        (
                            pace,
                            args.paced_records,
                            f"(g) {count} phones, a change every {pace:g} s each "
                            f"({count / pace:.0f}/s offered)",
                        )
                        for pace in args.paces
                    ]
                for pace, records, title in runs:
                    outboxes = {p.email: bodies_for(p, records, per) for p in fleet}
                    mark = len(server.hits())
                    with cpu_meter(server.proc.pid, True) as used:
                        elapsed, tally = run_phones(fleet, url, outboxes, pace, args.client)
                    report(title, elapsed, tally, used, server.hits()[mark:])
                    # Let the server settle between runs (idle keep-alives, autovacuum).
                    time.sleep(2)
            failures = Counter(SERVER_FAILURE.findall(server.log.read_text(errors="replace")))
            if failures:
                print(f"      server-side failures logged by the sync API: {dict(failures)}")

    if "e" in chosen:
        # The database alone, with the server stopped: 50-row transactions of mutation-sized rows.
        for connections, rows_each in ((1, 5000), (50, 200)):
            elapsed, latencies, used = raw_inserts(database_url, connections, rows_each)
            rows = connections * rows_each
            print(
                f"  (e) raw INSERT, {connections:>2} connection{'s' if connections > 1 else ' '}"
                f", 50-row transactions {rows:>6} rows {elapsed:>6.2f} s"
                f" {rows / elapsed:>7.0f} rows/s  p50 {percentile(latencies, 50) * 1000:.0f} ms"
                f"  p99 {percentile(latencies, 99) * 1000:.0f} ms"
            )
            print("      CPU seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in used.items()))
    print(f"  load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
