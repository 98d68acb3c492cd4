"""Audited commits a second on PostgreSQL: the audit lock held exclusively to the commit (as the
trail was chained before) against held shared (chained after the commit), side by side in one
run, with plain inserts as the ceiling.

Each of `--threads` threads has its own connection and commits one audit entry a transaction for
`--seconds`, exactly as each way appends it:

- before:  pg_advisory_xact_lock, read the head, hash, insert with id = head + 1, commit (the
  lock held through the commit and its disk flush: one commit at a time);
- after:   pg_advisory_xact_lock_shared, insert with a sequence id and no hash, commit; while a
  chainer (webapp.audit.chain_pending, the real one) runs every `--chain-every` seconds, as the
  reminder dispatcher's round does; at the end the trail is chained and walked (intact or not);
- plain:   insert, commit (no lock: the machine's ceiling).

Runs in a scratch database (`homeward_bench_audit`, dropped after) on the local PostgreSQL; the
table has audit_events' columns only, no app. Usage:

    .venv/bin/python bench/audit_commits.py [--threads 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from webapp import audit, audit_chain  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NAME = "homeward_bench_audit"
TABLE = """
CREATE TABLE audit_events (
    id SERIAL PRIMARY KEY,
    at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    user_id VARCHAR(36), action VARCHAR(40) NOT NULL, object_type VARCHAR(30) NOT NULL,
    object_id VARCHAR(36), child_id VARCHAR(36), device_id VARCHAR(36),
    user_agent VARCHAR(200), ip VARCHAR(45), detail VARCHAR(200), entry_hash VARCHAR(64)
)
"""
# Constant SQL, written out (parameters for every value).
INSERT_CHAINED = text(
    "INSERT INTO audit_events (id, at, user_id, action, object_type, object_id, child_id, "
    "device_id, user_agent, ip, detail, entry_hash) VALUES (:id, :at, :user_id, :action, "
    ":object_type, :object_id, :child_id, :device_id, :user_agent, :ip, :detail, :entry_hash)"
)
INSERT_UNCHAINED = text(
    "INSERT INTO audit_events (at, action, object_type, object_id, child_id, user_agent, ip) "
    "VALUES (:at, 'view', 'child', :oid, :oid, 'bench', '127.0.0.1')"
)
KEY = audit_chain.ChainKey(b"b" * 32, "bench")


def _admin(statement: str) -> None:
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def _entry(n: int) -> dict:
    from datetime import UTC, datetime

    return {"at": datetime.now(UTC).replace(tzinfo=None), "oid": f"{n:036d}"}


def _before(conn, n: int) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit.AUDIT_LOCK})
    last = conn.execute(
        text("SELECT id, entry_hash FROM audit_events ORDER BY id DESC LIMIT 1")
    ).first()
    last_id, last_hash = last if last else (0, audit_chain.GENESIS)
    entry = _entry(n)
    row = {
        "id": last_id + 1,
        "at": entry["at"],
        "user_id": None,
        "action": "view",
        "object_type": "child",
        "object_id": entry["oid"],
        "child_id": entry["oid"],
        "device_id": None,
        "user_agent": "bench",
        "ip": "127.0.0.1",
        "detail": None,
    }
    row["entry_hash"] = audit_chain.entry_hash(KEY, row, last_hash)
    conn.execute(INSERT_CHAINED, row)


def _after(conn, n: int) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": audit.AUDIT_LOCK})
    conn.execute(INSERT_UNCHAINED, _entry(n))


def _plain(conn, n: int) -> None:
    conn.execute(INSERT_UNCHAINED, _entry(n))


def run(url: str, mode: str, threads: int, seconds: float, chain_every: float) -> dict:
    engine = create_engine(url, pool_size=threads + 2)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS audit_events")
        conn.exec_driver_sql(TABLE)
    step = {"before": _before, "after": _after, "plain": _plain}[mode]
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(threads)]
    chained = []

    def work(t: int) -> None:
        with engine.connect() as conn:
            barrier.wait()
            n = 0
            while not stop.is_set():
                begun = time.perf_counter()
                with conn.begin():
                    step(conn, t * 10_000_000 + n)
                latencies[t].append(time.perf_counter() - begun)
                n += 1

    def chainer() -> None:
        while not stop.wait(chain_every):
            chained.append(audit.chain_pending(engine, KEY))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    side = threading.Thread(target=chainer) if mode == "after" else None
    barrier.wait()
    started = time.perf_counter()
    if side:
        side.start()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if side:
        side.join()
    all_lat = sorted(x for lat in latencies for x in lat)
    result = {
        "mode": mode,
        "commits": len(all_lat),
        "per_s": len(all_lat) / elapsed,
        "p50_ms": statistics.median(all_lat) * 1000,
        "p99_ms": all_lat[int(len(all_lat) * 0.99) - 1] * 1000,
    }
    if mode == "after":
        begun = time.perf_counter()
        last = audit.chain_pending(engine, KEY)
        result["chained_meanwhile"] = sum(chained)
        result["chain_rest_s"] = time.perf_counter() - begun
        result["chain_rate"] = last / result["chain_rest_s"] if last else 0.0
        with engine.connect() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(text("SELECT * FROM audit_events ORDER BY id"))
            ]
        result["intact"] = audit_chain.walk(KEY, rows).intact and all(r["entry_hash"] for r in rows)
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--chain-every", type=float, default=1.0)
    parser.add_argument(
        "--rounds", type=int, default=2, help="each mode this many times, interleaved"
    )
    args = parser.parse_args()

    _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{NAME}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{NAME}"
    try:
        print(f"{args.threads} threads, {args.seconds:g} s each, PostgreSQL, one entry a commit")
        print(f"{'mode':8} {'commits/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
        for _ in range(args.rounds):
            for mode in ("before", "after", "plain"):
                r = run(url, mode, args.threads, args.seconds, args.chain_every)
                line = f"{mode:8} {r['per_s']:10.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}"
                if mode == "after":
                    line += (
                        f"   chained meanwhile {r['chained_meanwhile']}, the rest at "
                        f"{r['chain_rate']:.0f}/s, chain intact: {r['intact']}"
                    )
                print(line, flush=True)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
