"""Where a sync push spends its time: cProfile around the server's own code for one batch.

sync_push.py measures from outside; this runs the same work as POST /api/v1/sync/push in-process
(validate the batch, apply it in one unit of work, commit) for one device's outbox, and prints
the application functions (webapp/ and sync/) by cumulative time. HTTP, gunicorn and the session
cookie are left out, so the figures are the push's own cost.

    .venv/bin/python bench/profile_push.py                 # SQLite in a temp folder
    .venv/bin/python bench/profile_push.py --records 500 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import sys
import time
import uuid
from collections import Counter

from harness import ROOT, app_env, cli, fresh_database, instance_folder, machine, remove_tree
from sync_push import PASSWORD, answers_for, mutations_for, seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="scratch database, dropped and recreated (default: SQLite in a temp folder)",
    )
    parser.add_argument("--records", type=int, default=200, help="mutations, 50 a batch")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument(
        "--sort",
        choices=("cumulative", "tottime"),
        default="cumulative",
        help="cumulative (where the time goes, callers included) or tottime (the function's own)",
    )
    parser.add_argument(
        "--per-request",
        action="store_true",
        help="one mutation per request, through the whole HTTP stack (the Flask test client: "
        "session, CSRF, device cookie, JSON), every module's functions listed",
    )
    args = parser.parse_args()
    if not 1 <= args.records <= 5000:
        parser.error("--records must be between 1 and 5000")

    print(f"Machine: {machine()}")
    instance = instance_folder()
    try:
        env = app_env(instance, fresh_database(args.database_url, instance))
        cli(["init-db"], env)
        # Twice the interviews: half are pushed without the profiler for the true cost, half with.
        [device] = seed(env, [2 * args.records])
        if args.per_request:
            profile_requests(env, device, args.records, args.top, args.sort)
        else:
            profile(env, device, args.records, args.top, args.sort)
    finally:
        remove_tree(instance)


def profile(env: dict[str, str], device, records: int, top: int, sort: str) -> None:
    from flask import g
    from flask_login import login_user
    from sqlalchemy import event, select
    from sqlalchemy.engine import Engine

    from sync import engine
    from sync.protocol import read_push
    from webapp import create_app, uow
    from webapp.accounts import sessions
    from webapp.accounts.models import User
    from webapp.extensions import db
    from webapp.fieldsync.store import SqlStore

    app = create_app(environ=env)
    statements = Counter()

    # Every statement sent to the database, by its first word: each is a round trip on PostgreSQL.
    @event.listens_for(Engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        statements[statement.split(None, 1)[0].upper()] += 1

    bodies = [json.loads(b) for b in mutations_for(device)]
    plain, profiled = bodies[: len(bodies) // 2], bodies[len(bodies) // 2 :]
    profiler = cProfile.Profile()
    seconds, cpu = {}, {}
    with app.test_request_context("/api/v1/sync/push", method="POST"):
        user = db.session.scalar(select(User).where(User.email == device.email))
        g.device_id = str(uuid.uuid4())
        sessions.start(user, g.device_id)  # a server-side session, as signing in makes
        login_user(user)
        for name, batches, prof in (("without", plain, None), ("with", profiled, profiler)):
            statements.clear()
            started, cpu_started = time.perf_counter(), time.process_time()
            for body in batches:
                # What sync_views.push does between parsing the JSON and answering.
                if prof:
                    prof.enable()
                batch = read_push(body)
                with uow.batch():
                    results = engine.apply_batch(SqlStore(g.device_id), user, batch)
                if prof:
                    prof.disable()
                statuses = {r.status for r in results}
                if statuses != {"applied"}:
                    raise SystemExit(f"Expected every mutation applied, got {statuses}")
            seconds[name] = time.perf_counter() - started
            # CPU time too: other work on the machine stretches wall time, not this process's CPU.
            cpu[name] = time.process_time() - cpu_started
            if name == "without":
                sent = dict(statements)

    ms = {k: v / records * 1000 for k, v in seconds.items()}
    cpu_ms = {k: v / records * 1000 for k, v in cpu.items()}
    print(
        f"{records} mutations, batches of 50, a mutation takes {ms['without']:.1f} ms "
        f"({cpu_ms['without']:.1f} ms of CPU in this process, the database's included on SQLite)"
        f"; under the profiler {ms['with']:.1f} ms"
    )
    per = ", ".join(
        f"{k} {v / records:.1f}" for k, v in sorted(sent.items(), key=lambda kv: -kv[1])
    )
    print(f"SQL statements a mutation: {sum(sent.values()) / records:.1f} ({per})")
    # The server's own functions only: a batch's library calls are the same whatever the batch.
    print_profile(
        profiler, records, sort, top, per="mutation", only=re.escape(str(ROOT)) + r"/(webapp|sync)/"
    )


def profile_requests(env: dict[str, str], device, records: int, top: int, sort: str) -> None:
    """One mutation per POST /api/v1/sync/push, through the test client: what a phone sending
    each change as it is made costs the server, request overhead included."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from webapp import create_app

    app = create_app(environ=env)
    statements = Counter()
    last: list[str] = []

    @event.listens_for(Engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        statements[statement.split(None, 1)[0].upper()] += 1
        last.append(" ".join(statement.split())[:160])

    client = signed_in_client(app, device)
    csrf = client.get("/api/v1/session").get_json()["csrf_token"]
    single = []
    for n, (interview_id, version) in enumerate(device.queue[: 2 * records]):
        single.append(
            json.dumps(
                {
                    "protocol": 1,
                    "device_id": device.device_id,
                    "mutations": [
                        {
                            "mutation_id": str(uuid.uuid4()),
                            "record_type": "interview",
                            "record_id": interview_id,
                            "op": "upsert",
                            "base_version": version,
                            # What the phone sends: every answer so far (sync_load's too).
                            "payload": {"answers": answers_for(n), "submit": False},
                        }
                    ],
                }
            )
        )
    headers = {"Content-Type": "application/json", "X-CSRFToken": csrf}
    plain, profiled = single[:records], single[records:]
    profiler = cProfile.Profile()
    seconds, cpu, sent = {}, {}, {}
    for name, bodies, prof in (("without", plain, None), ("with", profiled, profiler)):
        statements.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        for body in bodies:
            last.clear()
            if prof:
                prof.enable()
            answer = client.post("/api/v1/sync/push", data=body, headers=headers)
            if prof:
                prof.disable()
            if answer.status_code != 200 or answer.get_json()["results"][0]["status"] != "applied":
                raise SystemExit(f"Expected applied, got {answer.status_code} {answer.data[:300]}")
        seconds[name] = time.perf_counter() - started
        cpu[name] = time.process_time() - cpu_started
        sent[name] = dict(statements)
    last_request = list(last)
    # Function calls a request by phase: unlike time, the same on a busy machine as on a quiet
    # one, so a change's effect shows in one run. Counted on requests already made once (an
    # interview's second change), after the profiler has warmed every cache.
    phase_counts, counted = count_phases(
        lambda body: client.post("/api/v1/sync/push", data=body, headers=headers),
        _second_changes(single[:COUNTED]),
    )
    print(
        f"{records} requests of one mutation: {seconds['without'] / records * 1000:.1f} ms a "
        f"request ({cpu['without'] / records * 1000:.1f} ms of CPU in this process); under the "
        f"profiler {seconds['with'] / records * 1000:.1f} ms"
    )
    per = ", ".join(
        f"{k} {v / records:.1f}" for k, v in sorted(sent["without"].items(), key=lambda kv: -kv[1])
    )
    print(f"SQL statements a request: {sum(sent['without'].values()) / records:.1f} ({per})")
    print("The last request's statements, in order:")
    for n, statement in enumerate(last_request, 1):
        print(f"  {n:2}. {statement}")
    print_phases(phase_counts, counted)
    print_profile(profiler, records, sort, top)


COUNTED = 50


def signed_in_client(app, device):
    """The Flask test client signed in as the device's worker through the sign-in form."""
    client = app.test_client()
    form = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)[1]
    signed = client.post(
        "/sign-in", data={"email": device.email, "password": PASSWORD, "csrf_token": token}
    )
    if signed.status_code != 302:
        raise SystemExit(f"Sign-in failed: HTTP {signed.status_code}")
    return client


def _second_changes(bodies: list[str]) -> list[str]:
    """The same interviews changed once more (each is at version + 1 now), new mutation ids."""
    again = []
    for body in bodies:
        data = json.loads(body)
        for mutation in data["mutations"]:
            mutation["mutation_id"] = str(uuid.uuid4())
            mutation["base_version"] += 1
            mutation["payload"]["answers"]["feel_now"] += " Again."
        again.append(json.dumps(data))
    return again


# Where a one-change push's work goes: the innermost of these running when a function is called.
PHASES = {
    ("webapp/accounts/sessions.py", "load"): "session (cookie -> user, device)",
    ("flask_wtf/csrf.py", "protect"): "CSRF",
    ("flask_limiter/_extension.py", "_check_request_limit"): "rate limit",
    ("webapp/api/sync_views.py", "push"): "view: read the batch, answer",
    ("webapp/fieldsync/store.py", "serialise"): "device's push lock",
    ("webapp/fieldsync/store.py", "get_mutations"): "mutation ids seen",
    ("webapp/fieldsync/store.py", "prepare"): "load the record",
    ("sync/engine.py", "_run"): "apply (rules, answers)",
    ("sqlalchemy/orm/session.py", "flush"): "flush (UPDATE, INSERTs)",
    ("webapp/uow.py", "_before_commit"): "change log + audit",
    ("sqlalchemy/orm/session.py", "commit"): "commit",
    ("webapp/api/sync_views.py", "_note_sync"): "device's last sync",
    ("flask/app.py", "finalize_request"): "after the view (cookie, headers, log)",
}


def _applied(answer) -> None:
    if answer.status_code != 200 or answer.get_json()["results"][0]["status"] != "applied":
        raise SystemExit(f"Expected applied, got {answer.status_code} {answer.data[:300]}")


def count_phases(send, bodies: list, *, phases=PHASES, check=_applied) -> tuple[Counter, int]:
    """Function calls made while `send(body)` runs for each body, by the innermost of `phases`
    running at the call; `check` looks at each answer."""
    codes: dict = {}
    counts: Counter = Counter()
    stack = ["request (Flask, Werkzeug, other)"]

    def label(code):
        if code not in codes:
            path = code.co_filename.replace("\\", "/")
            codes[code] = next(
                (
                    name
                    for (tail, fn), name in phases.items()
                    if code.co_name == fn and path.endswith(tail)
                ),
                None,
            )
        return codes[code]

    def hook(frame, event, _arg):
        if event == "call":
            counts[stack[-1]] += 1
            name = label(frame.f_code)
            if name:
                stack.append(name)
        elif event == "return":
            if label(frame.f_code) and len(stack) > 1:
                stack.pop()
        elif event == "c_call":
            counts[stack[-1]] += 1

    for body in bodies:
        sys.setprofile(hook)
        try:
            answer = send(body)
        finally:
            sys.setprofile(None)
        check(answer)
    return counts, len(bodies)


def print_phases(counts: Counter, requests: int, per: str = "request") -> None:
    total = sum(counts.values())
    print(
        f"Function calls a {per} by phase ({total / requests:,.0f} in all; each phase counts "
        "its own calls, not those of a phase inside it):"
    )
    for name, n in counts.most_common():
        print(f"  {name:40} {n / requests:7,.0f}  {n / total:4.0%}")


def print_profile(
    profiler: cProfile.Profile,
    runs: int,
    sort: str,
    top: int,
    per: str = "request",
    only: str | None = None,
) -> None:
    """Each package's own time a run, then the `top` functions by `sort` (those whose path
    matches the regex `only`, if given), paths shortened."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    print_by_package(stats, runs, per)
    stats.sort_stats(sort)
    stats.print_stats(*([only] if only else []), top)
    print(out.getvalue().replace(str(ROOT) + "/", ""))


def print_by_package(stats: pstats.Stats, requests: int, per: str = "request") -> None:
    """Each package's own time (tottime) a request, under the profiler: which library the time
    is spent in, whoever called it."""
    own: Counter = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        path = filename.replace("\\", "/")
        if "site-packages/" in path:
            package = path.split("site-packages/", 1)[1].split("/", 1)[0]
        elif path.startswith(str(ROOT)):
            package = path[len(str(ROOT)) + 1 :].split("/", 1)[0]
        elif path.startswith("~") or path.startswith("<"):
            package = "builtins"
        else:
            package = "stdlib"
        own[package.removesuffix(".py")] += tottime
    total = sum(own.values())
    print(f"Own time a {per} under the profiler, by package ({total / requests * 1000:.2f} ms):")
    for package, seconds in own.most_common(14):
        print(f"  {package:24} {seconds / requests * 1000:6.2f} ms  {seconds / total:4.0%}")


if __name__ == "__main__":
    main()
