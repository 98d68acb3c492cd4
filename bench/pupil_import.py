"""How long a school's MIS export takes to import: `import_pupils` for 2,000 and 10,000 pupils.

For each size, on a fresh school of its own, three imports of one generated export (valid UPNs,
a BOM, DD/MM/YYYY dates, "Year 7" year groups, as SIMS writes them), each in one transaction:

  create     every pupil new: bulk INSERTs of the children, their profile rows and change log
  unchanged  the same file again: every row matched by UPN, nothing written
  update     every pupil moved up a year group: every row matched and updated through the ORM

and the command line (`homeward import pupils --school URN FILE.csv`, a new process, app start-up
included) for a fresh school of the first size, as an operator would run it. The issue asks for
2,000 pupils well under 10 s: the figures are printed, never asserted, so they can be compared
between machines.

The PostgreSQL scratch database (default homeward_bench_pupils, so a run never collides with
another benchmark's) is created and dropped here; the SQLite one is a file in a temp folder.
Only 127.0.0.1 is contacted.

    .venv/bin/python bench/pupil_import.py                    # SQLite, then PostgreSQL
    .venv/bin/python bench/pupil_import.py --sizes 2000 --databases sqlite
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time

from harness import (
    ROOT,
    app_env,
    cli,
    drop_database,
    fresh_database,
    instance_folder,
    load_average,
    machine,
    remove_tree,
)

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/homeward_bench_pupils"
HEADER = "UPN,Legal Surname,Legal Forename,DOB,Gender,Year\r\n"
# Fictional names only.
SURNAMES = ("Ashdown", "Brierley", "Calloway", "Dunmore", "Ellery", "Fenwick", "Garside")
FORENAMES = ("Alex", "Bea", "Cal", "Dara", "Eden", "Finn", "Gwen", "Hari", "Ivy", "Jude")


def export(size: int, school_number: int, year_shift: int = 0) -> bytes:
    """An MIS export of `size` pupils of one school, as its bytes (UTF-8 with Excel's BOM)."""
    from webapp.schools.pupil_rules import upn_check_letter

    rng = random.Random(size * 1000 + school_number)
    lines = [HEADER]
    for n in range(size):
        # LA 999 (none), the school's number, issued in 2020, a serial: 12 characters.
        body = f"999{school_number:04d}{20 + n // 1000:02d}{n % 1000:03d}"
        year = 1 + (n % 11)
        lines.append(
            f"{upn_check_letter(body)}{body},{rng.choice(SURNAMES)},{rng.choice(FORENAMES)},"
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{2025 - 5 - year},"
            f"{rng.choice('MF')},Year {year + year_shift}\r\n"
        )
    return "\ufeff".encode() + "".join(lines).encode()


def run_database(url: str | None, sizes: list[int]) -> list[str]:
    instance = instance_folder()
    try:
        database_url = fresh_database(url, instance)
        env = app_env(instance, database_url)
        cli(["init-db"], env)
        rows = in_process(env, sizes)
        rows.append(command_line(env, sizes[0], instance))
        return rows
    finally:
        if url is not None:
            drop_database(url)
        remove_tree(instance)


def in_process(env: dict[str, str], sizes: list[int]) -> list[str]:
    from tests import factories
    from webapp import create_app
    from webapp.extensions import db
    from webapp.schools import pupils

    app = create_app(environ=env)
    rows = []
    with app.app_context():
        la = factories.local_authority("Bench Council")
        engine = db.engine
        version = ".".join(map(str, engine.dialect.server_version_info or ()))
        label = f"{engine.dialect.name} {version}"
        for number, size in enumerate(sizes, start=1):
            school = factories.organisation(factories.OrgKind.SCHOOL, la, urn=f"9{number:07d}")
            db.session.commit()
            first = export(size, number)
            moved_up = export(size, number, year_shift=1)
            timings = []
            for data, expect in ((first, "created"), (first, "unchanged"), (moved_up, "updated")):
                db.session.expire_all()
                start = time.perf_counter()
                result = pupils.import_pupils(None, school, data)
                timings.append(time.perf_counter() - start)
                if not result.ok or getattr(result, expect) != size:
                    raise SystemExit(f"unexpected result for {size} ({expect}): {result}")
            rows.append(
                f"  {label:<16} {size:>6} pupils   create {timings[0]:6.2f} s   "
                f"unchanged {timings[1]:6.2f} s   update {timings[2]:6.2f} s   "
                f"({size / timings[0]:,.0f} pupils/s created)"
            )
        db.session.remove()
        engine.dispose()
    return rows


def command_line(env: dict[str, str], size: int, instance) -> str:
    from tests import factories
    from webapp import create_app
    from webapp.extensions import db

    app = create_app(environ=env)
    with app.app_context():
        la = factories.local_authority("Bench Council CLI")
        school = factories.organisation(factories.OrgKind.SCHOOL, la, urn="98000001")
        db.session.commit()
        urn = school.urn
        db.session.remove()
        db.engine.dispose()
    path = instance / "export.csv"
    path.write_bytes(export(size, 900))
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603  (our own CLI, fixed arguments)
        [sys.executable, "-m", "webapp.cli", "import", "pupils", "--school", urn, str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"homeward import pupils failed:\n{done.stdout}\n{done.stderr}")
    return (
        f"  {'':<16} {size:>6} pupils   `homeward import pupils` {wall:6.2f} s (start-up included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10_000])
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"scratch PostgreSQL database, created and dropped (default {DEFAULT_POSTGRES_URL})",
    )
    args = parser.parse_args()
    if not all(1 <= s <= 50_000 for s in args.sizes) or len(args.sizes) > 4:
        parser.error("--sizes: at most 4 sizes of 1 to 50000 pupils")
    print(f"Homeward pupil import benchmark: {machine()}")
    for name in args.databases:
        for row in run_database(None if name == "sqlite" else args.database_url, args.sizes):
            print(row)
    print(f"  load average after: {load_average()}")


if __name__ == "__main__":
    main()
