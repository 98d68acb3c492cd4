"""How fast the figures page answers for a large authority: 100,000 episodes of 30,000 children
over five years, in PostgreSQL.

A scratch database with two authorities (80% of the children ours, a tenth of the others placed
here), four teams, N episodes spread over the last five years (most children once or twice, a
few many times; 1% withdrawn, the latest few still open), a return interview for about two
thirds of the returns (most held, some late), the reasons children gave (interview_factors) and
a few thousand schools' notifications; all inserted in bulk (Core INSERTs, no ORM).

Then the real server (`homeward serve`, gunicorn) and a signed-in manager open
/manage/figures/ for the last full calendar year with each filter, RUNS times each: the server's
own time per request (its access log: query, render, audit row, commit) as median and slowest,
and the client's wall time. The issue's goal is under 500 ms; the figures are printed, never
asserted. Last, PostgreSQL's plan for each query the page runs (EXPLAIN ANALYZE, its top nodes
and time), captured from figures.figures itself so it is the SQL the page sends.

    .venv/bin/python bench/dashboard.py                          # 100,000 episodes
    .venv/bin/python bench/dashboard.py --episodes 20000 --children 6000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from harness import (
    app_env,
    cli,
    drop_database,
    fresh_database,
    instance_folder,
    machine,
    remove_tree,
    serve,
    sign_in,
)
from sqlalchemy import event, insert

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/homeward_bench_figures"
RUNS = 7
BATCH = 5000
TYPES = (("missing", 70), ("not_back", 10), ("absent", 15), ("away", 5))
FROM = (("home", 55), ("placement", 35), ("school", 10))
HOW = (
    ("own_accord", 55),
    ("found_by_police", 15),
    ("returned_by_police", 10),
    ("collected_by_carer", 15),
    ("found_by_other", 3),
    (None, 2),
)
REASONS = (
    "planned",
    "bored",
    "home",
    "peer_pressure",
    "drugs_alcohol",
    "family_contact",
    "clear_head",
    "friends",
    "kept_against_will",
    "other",
)


def _pick(rng: random.Random, weighted):
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _bulk(db, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        db.session.execute(insert(table), rows[start : start + BATCH])


def populate(n_children: int, n_episodes: int, now: datetime) -> dict:
    from tests import factories
    from webapp import deadlines
    from webapp.accounts.models import OrgKind
    from webapp.children.models import FLAG_LABELS, Child
    from webapp.db_types import new_id
    from webapp.episodes.models import Episode
    from webapp.extensions import db
    from webapp.interviews.models import Interview, interview_episodes
    from webapp.oversight.factors import InterviewFactor
    from webapp.schools.absence_models import SchoolNotification
    from webapp.sealed import seal

    ours = factories.local_authority("Benchshire")
    other = factories.local_authority("Otherham")
    manager = factories.manager(ours)
    teams = [factories.team(ours, name=f"Bench team {n}") for n in range(4)]
    workers = [factories.worker(ours, team_=t) for t in teams]
    school = factories.organisation(OrgKind.SCHOOL, ours)
    db.session.commit()
    rng = random.Random(13)
    no_flags = {key: 0 for key in FLAG_LABELS}
    children = []
    for n in range(n_children):
        child_id = new_id()
        mine = n % 5 != 0
        looked_after = rng.random() < 0.3
        children.append(
            {
                "id": child_id,
                "first_name": f"Bench{n}",
                "last_name": "Child",
                "date_of_birth": (now - timedelta(days=rng.randrange(8 * 365, 18 * 365))).date(),
                "sex": rng.choice(("female", "male")),
                "legal_status": "looked_after" if looked_after else "none",
                "looked_after": looked_after,
                "responsible_authority_id": ours.id if mine else other.id,
                "host_authority_id": None if mine or n % 10 else ours.id,
                "school_id": school.id if n % 3 == 0 else None,
                "authority_child_id": f"B{n:07d}",
                "flags_enc": seal(no_flags, "child", child_id, "flags"),
                "created_at": now,
                "updated_at": now,
            }
        )
    _bulk(db, Child.__table__, children)
    # A few children go missing often: a Pareto-shaped share of the episodes.
    weights = [rng.paretovariate(1.6) for _ in children]
    owners = rng.choices(children, weights, k=n_episodes)
    span = 5 * 365 * 24 * 3600
    episodes, interviews, links, factor_rows = [], [], [], []
    for owner in owners:
        last_seen = now - timedelta(seconds=rng.randrange(span))
        hours = rng.expovariate(1 / 20)
        returned = last_seen + timedelta(hours=hours)
        still_open = returned > now or (now - last_seen < timedelta(days=10) and rng.random() < 0.2)
        withdrawn = rng.random() < 0.01
        episode_id = new_id()
        episodes.append(
            {
                "id": episode_id,
                "child_id": owner["id"],
                "reported_type": _pick(rng, TYPES),
                "missing_from": _pick(rng, FROM),
                "last_seen_at": last_seen,
                "returned_at": None if still_open else returned,
                "how_returned": None if still_open else _pick(rng, HOW),
                "status": "withdrawn" if withdrawn else ("missing" if still_open else "returned"),
                "created_at": last_seen,
                "updated_at": last_seen,
                "version": 1,
            }
        )
        if still_open or withdrawn or rng.random() > 0.65:
            continue
        interview_id = new_id()
        due = deadlines.rhi_due_at(returned)
        held = rng.random() < 0.8
        held_at = returned + timedelta(hours=rng.uniform(2, 110)) if held else None
        if held_at and held_at > now:
            held_at = None
        worker = rng.choice(workers)
        interviews.append(
            {
                "id": interview_id,
                "child_id": owner["id"],
                "status": "authorised" if held_at else rng.choice(("allocated", "sent_back")),
                "due_at": due,
                "allocated_to_id": worker.id,
                "team_id": worker.team_id,
                "offered": rng.choice(("Y", "Y", "Y", "N")),
                "outcome": "accepted" if held_at else rng.choice(("declined", None)),
                "held_at": held_at,
                "created_at": returned,
                "updated_at": returned,
                "version": 1,
            }
        )
        links.append({"interview_id": interview_id, "episode_id": episode_id})
        if held_at:
            for code in rng.sample(REASONS, rng.randint(1, 3)):
                factor_rows.append({"interview_id": interview_id, "code": code})
    _bulk(db, Episode.__table__, episodes)
    _bulk(db, Interview.__table__, interviews)
    _bulk(db, interview_episodes, links)
    _bulk(db, InterviewFactor.__table__, factor_rows)
    notices = [
        {
            "id": new_id(),
            "child_id": c["id"],
            "school_id": school.id,
            "kind": rng.choice(("notify_day10", "joint_enquiries_day20", "missing_in_school_day")),
            "sent_at": now - timedelta(seconds=rng.randrange(span)),
        }
        for c in rng.sample(children, min(3000, len(children)))
    ]
    _bulk(db, SchoolNotification.__table__, notices)
    db.session.commit()
    return {
        "manager_id": manager.id,
        "manager_email": manager.email,
        "team_id": teams[0].id,
        "interviews": len(interviews),
        "factors": len(factor_rows),
    }


FILTERS = {
    "no filter": {},
    "one team": {"team": "TEAM"},
    "missing from home": {"placement": "home"},
    "looked after": {"placement": "looked_after"},
    "aged 14 to 15": {"age": "14-15"},
    "team, care, 14 to 15": {"team": "TEAM", "placement": "placement", "age": "14-15"},
}


def measure_page(env, instance, facts: dict, period: str) -> list[str]:
    from tests.factories import PASSWORD

    out = []
    with serve(env, instance, workers=1, threads=4) as server:
        http = sign_in(server.url, facts["manager_email"], PASSWORD)
        for label, params in FILTERS.items():
            query = {"period": period, **params}
            if "team" in query:
                query["team"] = facts["team_id"]
            wall = []
            before = len(server.hits())
            for _ in range(RUNS + 1):  # the first warms the worker's caches: not counted
                t0 = time.perf_counter()
                answer = http.get(server.url + "/manage/figures/", params=query, timeout=60)
                wall.append((time.perf_counter() - t0) * 1000)
                answer.raise_for_status()
            hits = [h for h in server.hits()[before:] if h.path == "/manage/figures/"][1:]
            ms = [h.ms for h in hits]
            out.append(
                f"  {label:<22} server median {statistics.median(ms):5.0f} ms, slowest "
                f"{max(ms):5.0f} ms; client median {statistics.median(wall[1:]):5.0f} ms"
                f" (each: {' '.join(f'{m:.0f}' for m in ms)})"
            )
    return out


def explain(env: dict, facts: dict, period_code: str) -> list[str]:
    """EXPLAIN ANALYZE of every query figures.figures sends, without and with every filter."""
    from webapp import create_app
    from webapp.accounts.models import User
    from webapp.db_types import utcnow
    from webapp.extensions import db
    from webapp.oversight import figures

    app = create_app(environ=env)
    out = []
    with app.app_context():
        manager = db.session.get(User, facts["manager_id"])
        period = figures.parse_period(period_code, utcnow())
        for label, filters in (
            ("no filter", figures.Filters()),
            ("every filter", figures.Filters(facts["team_id"], "placement", "14-15")),
        ):
            captured: list[tuple[str, object]] = []

            def keep(conn, cursor, statement, parameters, context, executemany, captured=captured):
                if statement.lstrip().upper().startswith("SELECT"):
                    captured.append((statement, parameters))

            event.listen(db.engine, "before_cursor_execute", keep)
            try:
                figures.figures(manager, period, filters, utcnow())
            finally:
                event.remove(db.engine, "before_cursor_execute", keep)
            out.append(f"  {label}:")
            for statement, parameters in captured:
                if "FROM episodes" not in statement and "FROM (SELECT" not in statement:
                    continue  # the teams' names and the session's own reads
                with db.engine.connect() as conn:
                    plan = [
                        row[0]
                        for row in conn.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS OFF) " + statement, parameters
                        )
                    ]
                nodes = [line.strip() for line in plan if "->" in line or line[:1] != " "]
                top = "; ".join(n.split("  (")[0].lstrip("-> ") for n in nodes[:6])
                took = next((line for line in plan if line.startswith("Execution Time")), "")
                first = " ".join(statement.split())[:60]
                out.append(f"    {first}...\n      {took}: {top}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--children", type=int, default=30_000)
    parser.add_argument("--database-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args()
    print(f"Homeward figures benchmark: PostgreSQL, {machine()}")
    instance = instance_folder()
    try:
        database_url = fresh_database(args.database_url, instance)
        env = app_env(instance, database_url)
        cli(["init-db"], env)
        os.environ.update(env)
        from webapp import create_app
        from webapp.extensions import db

        now = datetime.now(UTC)
        app = create_app(environ=env)
        with app.app_context():
            started = time.perf_counter()
            facts = populate(args.children, args.episodes, now)
            db.session.commit()
        # As autovacuum leaves a settled database: statistics, and the visibility map an
        # index-only scan needs.
        with app.app_context(), db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        print(
            f"  seeded {args.children:,} children, {args.episodes:,} episodes, "
            f"{facts['interviews']:,} interviews, {facts['factors']:,} factor rows in "
            f"{time.perf_counter() - started:.1f} s"
        )
        year = now.year - 1
        print(f"The figures page for the calendar year {year} (y{year}), {RUNS} runs each:")
        for line in measure_page(env, instance, facts, f"y{year}"):
            print(line)
        print("Query plans (EXPLAIN ANALYZE):")
        for line in explain(env, facts, f"y{year}"):
            print(line)
    finally:
        drop_database(args.database_url)
        remove_tree(instance)


if __name__ == "__main__":
    main()
