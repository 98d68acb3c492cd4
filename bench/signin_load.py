"""Sign-in under load: does a burst of sign-ins push other requests past a phone's 15 s timeout?

100 people sign in at the same moment (100 threads, each its own account, each first fetching
the sign-in form for its CSRF token, then all POSTing together) against `homeward serve`
(gunicorn gthread, 1 worker, 8 threads: the defaults), while a second client, already signed in,
times a stream of ordinary page loads (GET /account, one after another). Printed, per database:
the page loads' p50/p99/max before and during the burst, the sign-ins' own latencies and answers,
and how long the burst took. Nothing is asserted.

Password checks are Argon2id (webapp/accounts/service.py: t=2, 46 MiB, 1 lane) and at most one
per core at a time per process, so sign-ins queue among themselves.

    .venv/bin/python bench/signin_load.py                   # SQLite, then PostgreSQL
    .venv/bin/python bench/signin_load.py --only sqlite
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter

import requests
from harness import (
    DEFAULT_POSTGRES_URL,
    DEMO_PASSWORD,
    app_env,
    cli,
    fresh_database,
    instance_folder,
    percentile,
    remove_tree,
    serve,
    sign_in,
)

PAGE = "/account"


def seed_accounts(env: dict[str, str], count: int) -> list[str]:
    """`count` extra workers of the demo authority with the demo password (tests/factories.py
    hashes it once for them all: seeding stays quick)."""
    import os

    old = dict(os.environ)
    os.environ.update(env)
    try:
        from sqlalchemy import select

        from tests import factories
        from webapp import create_app
        from webapp.accounts.models import User
        from webapp.extensions import db

        app = create_app()
        with app.app_context():
            worker = db.session.scalar(select(User).where(User.email == "worker@demo.test"))
            emails = [f"bench.signin.{i}@demo.test" for i in range(count)]
            for email in emails:
                factories.worker(
                    worker.organisation,
                    team_=None,
                    email=email,
                    name="Bench Person",
                    password=DEMO_PASSWORD,
                )
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        return emails
    finally:
        os.environ.clear()
        os.environ.update(old)


def page_stream(http: requests.Session, url: str, stop: threading.Event, out: list[float]):
    while not stop.is_set():
        started = time.perf_counter()
        try:
            http.get(url, timeout=60).raise_for_status()
        except requests.RequestException:
            out.append(float("inf"))
            continue
        out.append(time.perf_counter() - started)


def one_sign_in(base: str, email: str, barrier: threading.Barrier, out: list, codes: Counter):
    import re

    http = requests.Session()
    form = http.get(base + "/sign-in", timeout=60)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text)
    barrier.wait()
    started = time.perf_counter()
    for _ in range(60):  # a person told "busy" tries again after Retry-After
        try:
            r = http.post(
                base + "/sign-in",
                data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token[1]},
                allow_redirects=False,
                timeout=60,
            )
        except requests.RequestException as exc:
            # gunicorn closes idle keep-alive connections after 2 s, the Retry-After: a browser
            # simply opens a new connection, and so does this.
            codes[type(exc).__name__] += 1
            continue
        codes[r.status_code] += 1
        if r.status_code != 503:
            break
        time.sleep(int(r.headers.get("Retry-After", "1")))
    out.append(time.perf_counter() - started)


def figures(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"  {label:<30} n={len(ms):<5} p50={percentile(ms, 50):8.0f} ms  "
        f"p99={percentile(ms, 99):8.0f} ms  max={max(ms):8.0f} ms"
    )


def run(name: str, database_url: str | None, clients: int) -> None:
    instance = instance_folder()
    try:
        url = fresh_database(database_url, instance)
        env = app_env(instance, url)
        cli(["init-db"], env)
        cli(["demo-data"], env)
        emails = seed_accounts(env, clients)
        with serve(env, instance, workers=1, threads=8) as server:
            reader = sign_in(server.url, "manager@demo.test", DEMO_PASSWORD)
            baseline: list[float] = []
            stop = threading.Event()
            t = threading.Thread(
                target=page_stream, args=(reader, server.url + PAGE, stop, baseline)
            )
            t.start()
            time.sleep(3)
            stop.set()
            t.join()

            during: list[float] = []
            signins: list[float] = []
            codes: Counter = Counter()
            barrier = threading.Barrier(clients + 1)
            threads = [
                threading.Thread(target=one_sign_in, args=(server.url, e, barrier, signins, codes))
                for e in emails
            ]
            for th in threads:
                th.start()
            stop = threading.Event()
            stream = threading.Thread(
                target=page_stream, args=(reader, server.url + PAGE, stop, during)
            )
            barrier.wait()
            started = time.perf_counter()
            stream.start()
            for th in threads:
                th.join()
            burst = time.perf_counter() - started
            stop.set()
            stream.join()
        print(f"{name}: {clients} concurrent sign-ins, gunicorn 1 worker x 8 threads")
        print(figures(f"GET {PAGE} before the burst", baseline))
        print(figures(f"GET {PAGE} during the burst", during))
        print(figures("sign-in, first POST to 302", signins))
        print(f"  sign-in answers (503 = busy, retried): {dict(codes)}; burst took {burst:.1f} s")
        over = sum(1 for v in during if v > 15)
        print(f"  page loads over 15 s during the burst: {over}")
    finally:
        remove_tree(instance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_POSTGRES_URL.replace("homeward_bench", "homeward_bench_signin"),
    )
    args = parser.parse_args()
    if args.only in (None, "sqlite"):
        run("SQLite", None, args.clients)
    if args.only in (None, "postgresql"):
        run("PostgreSQL", args.database_url, args.clients)


if __name__ == "__main__":
    main()
