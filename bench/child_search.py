"""How long finding a child takes among 100,000: `children.service.find_children` as a manager.

A scratch database with two authorities and N children (default 100,000: 80% in the manager's
authority, some placed there by the other), fictional names, dates of birth, the authority's
identifiers; then, for each kind of search a person types (a surname's first letters, a first
and last name, a full date of birth, an identifier, a UPN, nothing at all), the median and the
slowest of 20 runs through the service (the access rule, the ORM, the audit row and its commit
included), and PostgreSQL's plan for the name search (does it use the name index?).

The issue asks for under a second at 100,000 children: the figures are printed, never asserted.
The PostgreSQL scratch database (default homeward_bench_search) is created and dropped here.

    .venv/bin/python bench/child_search.py                       # PostgreSQL, 100,000 children
    .venv/bin/python bench/child_search.py --children 20000 --database-url sqlite
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import date, timedelta

from harness import (
    app_env,
    cli,
    drop_database,
    fresh_database,
    instance_folder,
    machine,
    remove_tree,
)
from sqlalchemy import insert, text

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/homeward_bench_search"
SURNAMES = [
    f"{a}{b}"
    for a in (
        "Ash",
        "Brier",
        "Call",
        "Dun",
        "Eller",
        "Fen",
        "Gar",
        "Hol",
        "Ing",
        "Jar",
        "Kell",
        "Lind",
    )
    for b in ("down", "ley", "way", "more", "wick", "side", "ton", "by")
]
FORENAMES = (
    "Alex",
    "Bea",
    "Cal",
    "Dara",
    "Eden",
    "Finn",
    "Gwen",
    "Hari",
    "Ivy",
    "Jude",
    "Kit",
    "Lena",
    "Milo",
    "Nia",
    "Omar",
    "Pia",
)
RUNS = 20


def populate(size: int) -> dict:
    """Two authorities, a manager, and `size` children inserted in bulk (Core INSERTs)."""
    from tests import factories
    from webapp.accounts.models import OrgKind
    from webapp.children.models import FLAG_LABELS, Child
    from webapp.db_types import new_id, utcnow
    from webapp.extensions import db
    from webapp.sealed import seal

    ours = factories.local_authority("Benchshire")
    other = factories.local_authority("Otherham")
    manager = factories.manager(ours)
    school = factories.organisation(OrgKind.SCHOOL, ours)
    db.session.commit()
    rng = random.Random(7)
    now = utcnow()
    rows, sample = [], None
    no_flags = {key: 0 for key in FLAG_LABELS}
    for n in range(size):
        child_id = new_id()
        mine = n % 5 != 0
        row = {
            "id": child_id,
            "first_name": rng.choice(FORENAMES),
            "last_name": rng.choice(SURNAMES),
            "date_of_birth": date(2008, 1, 1) + timedelta(days=rng.randrange(365 * 10)),
            "sex": rng.choice(("female", "male")),
            "legal_status": "none",
            "looked_after": False,
            "responsible_authority_id": ours.id if mine else other.id,
            "host_authority_id": None if mine or n % 10 else ours.id,
            "school_id": school.id if n % 3 == 0 else None,
            "upn": f"B{n:012d}" if n % 3 == 0 else None,
            "authority_child_id": f"C{n:07d}",
            "flags_enc": seal(no_flags, "child", child_id, "flags"),
            "created_at": now,
            "updated_at": now,
        }
        rows.append(row)
        if n == size // 2:
            sample = row
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Child.__table__), rows[start : start + 5000])
    db.session.commit()
    return {"manager_id": manager.id, "sample": sample}


def measure(env: dict, size: int) -> list[str]:
    from webapp import create_app
    from webapp.accounts.models import User
    from webapp.children import service
    from webapp.extensions import db

    app = create_app(environ=env)
    out = []
    with app.app_context():
        started = time.perf_counter()
        facts = populate(size)
        out.append(f"  {size:,} children inserted in {time.perf_counter() - started:.1f} s")
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE children"))
            db.session.commit()
        manager = db.session.get(User, facts["manager_id"])
        s = facts["sample"]
        searches = {
            "surname's first letters": s["last_name"][:3].lower(),
            "first and last name": f"{s['first_name']} {s['last_name']}",
            "date of birth (DD/MM/YYYY)": s["date_of_birth"].strftime("%d/%m/%Y"),
            "authority's identifier": s["authority_child_id"],
            "UPN": "B" + "0" * 12,
            "nothing (the first 200)": "",
        }
        for label, query in searches.items():
            times, found = [], 0
            for _ in range(RUNS):
                t0 = time.perf_counter()
                children, more = service.find_children(manager, query)
                times.append((time.perf_counter() - t0) * 1000)
                found = f"{len(children)}{'+' if more else ''}"
                db.session.expunge_all()
                manager = db.session.get(User, facts["manager_id"])
            out.append(
                f"  {label:<28} median {statistics.median(times):7.1f} ms, slowest "
                f"{max(times):7.1f} ms, {found} found"
            )
        if db.engine.dialect.name == "postgresql":
            plan = db.session.execute(
                text(
                    "EXPLAIN SELECT id FROM children WHERE lower(last_name) LIKE :p "
                    "AND (responsible_authority_id = :a OR host_authority_id = :a)"
                ),
                {"p": s["last_name"][:3].lower() + "%", "a": manager.authority_id},
            ).scalars()
            uses = [line.strip() for line in plan if "Index" in line or "Scan" in line]
            out.append(f"  plan of the name search: {'; '.join(uses[:3])}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        default=DEFAULT_POSTGRES_URL,
        help='a scratch PostgreSQL database on 127.0.0.1, or "sqlite"',
    )
    args = parser.parse_args()
    url = None if args.database_url == "sqlite" else args.database_url
    print(
        f"Homeward child search benchmark: {'SQLite' if url is None else 'PostgreSQL'}, "
        + machine()
    )
    instance = instance_folder()
    try:
        database_url = fresh_database(url, instance)
        env = app_env(instance, database_url)
        cli(["init-db"], env)
        os.environ.update(env)
        for line in measure(env, args.children):
            print(line)
    finally:
        if url is not None:
            drop_database(url)
        remove_tree(instance)


if __name__ == "__main__":
    main()
