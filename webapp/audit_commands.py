"""`homeward audit ...`: the audit trail's upkeep (issue 15).

`homeward audit verify` walks the whole trail in id order, a batch at a time (the trail grows by
every page view: it is never read into memory whole), recomputing each entry's keyed hash from
its columns and the previous entry's hash. Exit 0: intact, and the head printed as ID:HASH for
the operator to keep elsewhere; exit 1: broken, naming the first entry that does not fit; exit 2:
it could not check (no key, a malformed --expect-head). Only ids, counts and hashes are printed:
never what an entry says.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

import click

BATCH = 1000


@click.group("audit", help="The audit trail: verify its hash chain.")
def audit() -> None:
    pass


def _fetch(engine, table, after: int | None, size: int) -> list[dict]:
    from sqlalchemy import select

    query = select(table).order_by(table.c.id).limit(size)
    if after is not None:
        query = query.where(table.c.id > after)
    # One short transaction a batch: a walk over millions of entries holds no snapshot (and no
    # PostgreSQL vacuum back) for its whole length; entries appended meanwhile follow the head.
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _watch(entries, expected: tuple[int, str] | None, seen: dict) -> Iterator[Mapping]:
    for entry in entries:
        if expected and entry["id"] == expected[0]:
            seen["hash"] = entry["entry_hash"]
        yield entry


@audit.command("verify")
@click.option(
    "--expect-head",
    metavar="ID:HASH",
    help="The head an earlier verify printed: fail if that entry is gone or no longer the same "
    "(catches the newest entries cut off, which the chain alone cannot show).",
)
@click.option(
    "--batch", default=BATCH, show_default=True, type=click.IntRange(1), help="Entries a query."
)
def verify(expect_head: str | None, batch: int) -> None:
    """Check every entry's hash, oldest first; print the count and the head."""
    from webapp import audit_chain, create_app
    from webapp.audit import AuditEvent, chain_key
    from webapp.extensions import db

    expected = None
    if expect_head:
        try:
            expected = audit_chain.parse_head(expect_head)
        except ValueError as exc:
            raise click.UsageError(f"--expect-head: {exc}") from None

    app = create_app()
    with app.app_context():
        key = chain_key()
        table = AuditEvent.__table__
        seen: dict = {}
        entries = audit_chain.batches(
            lambda after, size: _fetch(db.engine, table, after, size), batch
        )
        verdict = audit_chain.walk(key, _watch(entries, expected, seen))
        db.engine.dispose()

    if key.created and (verdict.count or not verdict.intact):
        # The key was only just made, so no entry can have been written with it: the key that
        # wrote this trail is missing here, which is not the same as a tampered trail.
        click.echo(
            f"Cannot verify: no audit key was found, so a new one was made at {key.source}. "
            f"Put back the instance's audit-key file (or set {audit_chain.ENV_KEY}) that "
            "wrote this trail, and remove the new one.",
            err=True,
        )
        sys.exit(2)
    if not verdict.intact:
        good = f"{verdict.head_id}:{verdict.head_hash}" if verdict.head_id is not None else "none"
        click.echo(
            f"Audit trail BROKEN at entry {verdict.broken_id}: {verdict.reason}. "
            f"{verdict.count} entries before it hold; the last good entry is {good}.",
            err=True,
        )
        sys.exit(1)
    if expected and seen.get("hash") != expected[1]:
        what = "is missing" if "hash" not in seen else "has changed"
        click.echo(
            f"Audit trail BROKEN at entry {expected[0]}: the head noted earlier {what} "
            "(the newest entries were cut off, or the trail was rebuilt).",
            err=True,
        )
        sys.exit(1)
    if verdict.head_id is None:
        click.echo("Audit trail intact: 0 entries.")
        return
    click.echo(
        f"Audit trail intact: {verdict.count} entries. Head: {verdict.head_id}:{verdict.head_hash}"
    )
