"""Where a fresh phone's full pull spends its work: function calls by phase, and cProfile.

pull_load.py measures pulls from outside, over HTTP, beside pushes; this makes the same requests
in-process through the Flask test client (GET /api/v1/sync/pull?limit=200, then with the cursor
while has_more, as static/js/sync/client.js does) for one worker with --records allocated
interviews, answers and all, and prints:

- the SQL statements a full copy sends, in order;
- the function calls a full copy makes, by phase (the session, the page of ids, loading the
  records, building their payloads, decrypting, noting the deliveries, the JSON answer, ...):
  a count, the same on a busy machine as on a quiet one, so a change's effect shows in one run;
- each package's own time and the top functions under cProfile.

    .venv/bin/python bench/profile_pull.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_prof
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import logging
import time

from harness import app_env, cli, fresh_database, instance_folder, machine, remove_tree
from profile_push import count_phases, print_phases, print_profile, signed_in_client
from sync_push import mutations_for, seed

PAGE = 200  # static/js/sync/client.js
LONG_RUN = 30  # full copies timed

# Where a full pull's work goes: the innermost of these running when a function is called.
PHASES = {
    ("webapp/accounts/sessions.py", "load"): "session (cookie -> user, device)",
    ("flask_limiter/_extension.py", "_check_request_limit"): "rate limit",
    ("webapp/api/sync_views.py", "pull"): "view, cursor",
    ("webapp/fieldsync/store.py", "horizon"): "log horizon",
    ("webapp/interviews/sync.py", "visible_ids"): "page of ids",
    ("webapp/interviews/sync.py", "prepare"): "load the records",
    ("webapp/interviews/sync.py", "interview_payload"): "build the payload",
    ("webapp/access.py", "interview_actions"): "payload: actions allowed",
    ("webapp/access.py", "can_edit_interview"): "payload: editable",
    ("webapp/sealed.py", "unseal"): "decrypt",
    ("webapp/fieldsync/store.py", "_deliver"): "note the deliveries",
    ("webapp/api/sync_views.py", "_answer"): "answer: JSON",
    ("sqlalchemy/orm/session.py", "commit"): "commit",
    ("webapp/api/sync_views.py", "_note_sync"): "device's last sync",
    ("flask/app.py", "finalize_request"): "after the view (cookie, headers, log)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="scratch database, dropped and recreated (default: SQLite in a temp folder)",
    )
    parser.add_argument("--records", type=int, default=500, help="the phone's interviews")
    parser.add_argument("--copies", type=int, default=3, help="full copies counted and profiled")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="tottime")
    args = parser.parse_args()
    if not 1 <= args.records <= 5000:
        parser.error("--records must be between 1 and 5000")

    # The app's request log, not this bench's output.
    logging.getLogger("homeward").setLevel(logging.WARNING)
    print(f"Machine: {machine()}")
    instance = instance_folder()
    try:
        env = app_env(instance, fresh_database(args.database_url, instance))
        cli(["init-db"], env)
        [device] = seed(env, [args.records])
        client = _signed_in(env, device)
        _answer_them(client, device)
        profile_pulls(client, args.records, args.copies, args.top, args.sort)
    finally:
        remove_tree(instance)


def _signed_in(env: dict[str, str], device):
    from webapp import create_app

    client = signed_in_client(create_app(environ=env), device)
    client.csrf = client.get("/api/v1/session").get_json()["csrf_token"]
    return client


def _answer_them(client, device) -> None:
    """Every interview answered as a phone would have (a pull then decrypts real content)."""
    headers = {"Content-Type": "application/json", "X-CSRFToken": client.csrf}
    for body in mutations_for(device):
        answer = client.post("/api/v1/sync/push", data=body, headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"Push failed: HTTP {answer.status_code} {answer.data[:300]}")


def full_copy(client, records: int) -> int:
    """A fresh phone's pull, page by page, each answer checked; the pages it took."""
    pages, cursor, received = 0, None, 0
    while True:
        url = f"/api/v1/sync/pull?limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(url)
        if answer.status_code != 200:
            raise SystemExit(f"Pull failed: HTTP {answer.status_code} {answer.data[:300]}")
        body = answer.get_json()
        received += len(body["changes"])
        pages += 1
        if not body["has_more"]:
            break
        cursor = body["cursor"]
    if received != records:
        raise SystemExit(f"Expected {records} records, got {received}")
    return pages


def profile_pulls(client, records: int, copies: int, top: int, sort: str) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from webapp.cli import freeze_heap

    full_copy(client, records)  # warm every cache once
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split())[:160])

    event.listen(Engine, "before_cursor_execute", note)
    pages = full_copy(client, records)
    event.remove(Engine, "before_cursor_execute", note)
    print(
        f"A full copy of {records} records: {pages} pages of up to {PAGE}, "
        f"{len(statements)} SQL statements, in order:"
    )
    for n, statement in enumerate(statements, 1):
        print(f"  {n:2}. {statement}")

    # A long run as the process stood, then with its heap frozen as `homeward serve` freezes its
    # workers' (webapp.cli.freeze_heap): the collector's cost grows with the heap it walks,
    # which a short run does not show.
    for label in ("as it was", "heap frozen"):
        if label == "heap frozen":
            freeze_heap()
        collected = _gc_timer()
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(LONG_RUN):
            full_copy(client, records)
        seconds = (time.perf_counter() - started) / LONG_RUN
        cpu = (time.process_time() - cpu_started) / LONG_RUN
        gc_runs, gc_seconds = collected()
        print(
            f"{LONG_RUN} full copies, {label}: {seconds:.3f} s a copy, {cpu * 1000:.0f} ms of "
            f"CPU in this process ({cpu / records * 1000:.2f} ms a record); the garbage "
            f"collector ran {gc_runs / LONG_RUN:.0f} times a copy for "
            f"{gc_seconds / LONG_RUN * 1000:.1f} ms"
        )

    counts, _ = count_phases(
        lambda _: full_copy(client, records), [None] * copies, phases=PHASES, check=lambda _: None
    )
    print_phases(counts, copies, per="copy")
    print(f"  ({sum(counts.values()) / copies / records:,.0f} calls a record)")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(copies):
        full_copy(client, records)
    profiler.disable()
    print_profile(profiler, copies, sort, top, per="copy")


def _gc_timer():
    """Count the garbage collector's runs and time from now; call the result to read them."""
    runs, spent, began = [0], [0.0], [0.0]

    def timer(phase, _info):
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            runs[0] += 1
            spent[0] += time.perf_counter() - began[0]

    gc.callbacks.append(timer)

    def read():
        gc.callbacks.remove(timer)
        return runs[0], spent[0]

    return read


if __name__ == "__main__":
    main()
