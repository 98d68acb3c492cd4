"""`homeward audit ...`: the audit trail's upkeep (issue 15).

`homeward audit chain` hashes the entries committed since the last run (the reminder dispatcher
does this every round; this is for cron where none runs). Exit 0 with the count; 2 if it cannot
(the key does not fit the trail).

`homeward audit verify` chains first (unless --no-chain), then walks the chained trail in id
order, a batch at a time (the trail grows by
every page view: it is never read into memory whole), recomputing each entry's keyed hash from
its columns and the previous entry's hash. Exit 0: intact, and the head printed as ID:HASH for
the operator to keep elsewhere; exit 1: broken, naming the first entry that does not fit; exit 2:
it could not check (no key, a malformed --expect-head). Entries above the chained head, not
chained yet, are counted and said, not a failure; an entry without a hash BELOW the head is one
(nothing leaves one there but an entry inserted into the past). Only ids, counts and hashes are
printed: never what an entry says.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping

import click

BATCH = 1000


@click.group("audit", help="The audit trail: chain and verify its hash chain.")
def audit() -> None:
    pass


def _fetch(engine, table, upto: int, after: int | None, size: int) -> list[dict]:
    from sqlalchemy import select

    query = select(table).where(table.c.id <= upto).order_by(table.c.id).limit(size)
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


def _missing_key(key) -> None:
    # The key was only just made, so no entry can have been written with it: the key that
    # wrote this trail is missing here, which is not the same as a tampered trail.
    from webapp import audit_chain

    click.echo(
        f"Cannot verify: no audit key was found, so a new one was made at {key.source}. "
        f"Put back the instance's audit-key file (or set {audit_chain.ENV_KEY}) that "
        "wrote this trail, and remove the new one.",
        err=True,
    )
    sys.exit(2)


def _any_entry(engine) -> bool:
    from sqlalchemy import select

    from webapp.audit import AuditEvent

    with engine.connect() as conn:
        return conn.scalar(select(AuditEvent.id).limit(1)) is not None


@audit.command("chain")
@click.option(
    "--batch", default=BATCH, show_default=True, type=click.IntRange(1), help="Entries a commit."
)
def chain(batch: int) -> None:
    """Hash the entries committed and not yet chained, in id order (for cron: the reminder
    dispatcher does it every round). One chainer at a time: another at work, this one returns."""
    from webapp import audit, create_app
    from webapp.extensions import db

    app = create_app()
    with app.app_context():
        key = audit.chain_key()
        try:
            if key.created and _any_entry(db.engine):
                # Never chain under a key made just now: it would seal the entries under the
                # wrong key for good.
                _missing_key(key)
            done = audit.chain_pending(db.engine, key, batch)
        except audit.ChainError as exc:
            click.echo(f"Cannot chain: {exc}", err=True)
            sys.exit(2)
        finally:
            db.engine.dispose()
    click.echo(f"{done} entries chained.")


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
@click.option(
    "--no-chain",
    is_flag=True,
    help="Only read: do not chain the entries committed since the last chaining first.",
)
def verify(expect_head: str | None, batch: int, no_chain: bool) -> None:
    """Chain what is waiting, then check every chained entry's hash, oldest first; print the
    count, the head and how many entries wait to be chained."""
    from sqlalchemy import func, select

    from webapp import audit, audit_chain, create_app
    from webapp.audit import AuditEvent
    from webapp.extensions import db

    expected = None
    if expect_head:
        try:
            expected = audit_chain.parse_head(expect_head)
        except ValueError as exc:
            raise click.UsageError(f"--expect-head: {exc}") from None

    app = create_app()
    with app.app_context():
        key = audit.chain_key()
        if not no_chain and not key.created:
            try:
                audit.chain_pending(db.engine, key, batch)
            except audit.ChainError:
                # The head does not fit the key: nothing chained; the walk says where and why.
                pass
        table = AuditEvent.__table__
        with db.engine.connect() as conn:
            head_id, _ = audit.chained_head(conn)
        seen: dict = {}
        entries = audit_chain.batches(
            lambda after, size: _fetch(db.engine, table, head_id, after, size), batch
        )
        verdict = audit_chain.walk(key, _watch(entries, expected, seen))
        with db.engine.connect() as conn:
            waiting = conn.scalar(
                select(func.count())
                .select_from(table)
                .where(table.c.id > head_id, table.c.entry_hash.is_(None))
            )
        db.engine.dispose()

    if key.created and (verdict.count or waiting or not verdict.intact):
        _missing_key(key)
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
    else:
        click.echo(
            f"Audit trail intact: {verdict.count} entries. "
            f"Head: {verdict.head_id}:{verdict.head_hash}"
        )
    if waiting:
        # Its own line: scripts read the head from the line above.
        click.echo(f"{waiting} entries not yet chained (checked once chained).")
