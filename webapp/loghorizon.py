"""Append-only logs read in order while their writers run side by side: the sync change log
(webapp.fieldsync.changes) and the audit trail (webapp.audit).

Rows take their numbers from a sequence as they are written, and on PostgreSQL two transactions
can take 10 and 11 and commit 11 first: a reader that moved past 11 would never see 10. Each
writer therefore holds its log's advisory lock *shared* from drawing its numbers to its commit
(`hold_shared`: writers never wait for each other, and their commits can share one disk flush),
and a reader reads only up to a `horizon`: the last number at a moment when no writer was
between drawing and committing. SQLite has one writer at a time: its horizon is the last number.

Both logs share one lock, taken once per transaction: a sync push writes to both, and one lock
is one round trip to the database instead of two (each push is ~10 of them). The cost is that a
reader's horizon also waits for the other log's writers in flight, for the time of their commit.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

# Any constant shared by every writer of either log ("Home").
LOCK = 0x486F6D65
_HELD = "homeward_log_lock_held"


def hold_shared(conn: Connection) -> None:
    """Before a writer draws its numbers: the logs' lock, shared, to the end of the transaction
    (taken once: the second log's append in the same transaction finds it held)."""
    if conn.dialect.name != "postgresql":
        return
    transaction = conn.get_transaction()
    # `info` belongs to the pooled DBAPI connection and outlives the transaction: the
    # transaction object itself is the mark (kept alive by it, so never mistaken for a later
    # one). Taken inside a savepoint, a rollback to it would let the lock go: not remembered.
    if transaction is not None and conn.info.get(_HELD) is transaction:
        return
    conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": LOCK})
    if transaction is not None and not conn.in_nested_transaction():
        conn.info[_HELD] = transaction


def horizon(conn: Connection, table: str, column: str) -> int:
    """The largest number such that every row up to it is committed or will never be.

    PostgreSQL, one statement: the largest number as its snapshot (taken first) sees it, then the
    lock taken exclusively and let go at once. Any smaller number not yet committed was drawn by
    a writer holding the lock shared since before the snapshot, so taking it waits for that
    writer to commit or roll back (and holds new writers back for that instant only); the
    reader's next statements see its rows. `table` and `column` are the callers' constants."""
    largest = f"SELECT coalesce(max({column}), 0) FROM {table}"  # noqa: S608 (constants)
    if conn.dialect.name != "postgresql":
        return conn.execute(text(largest)).scalar_one()
    try:
        return conn.execute(
            text(
                f"SELECT coalesce(max({column}), 0), "  # noqa: S608 (constants)
                "(SELECT pg_advisory_unlock(:k) FROM (SELECT pg_advisory_lock(:k)) AS held) "
                f"FROM {table}"
            ),
            {"k": LOCK},
        ).first()[0]
    except BaseException:
        # A session-level lock outlives a failed statement: closing the connection is the one
        # sure way to let go of it (a pooled connection holding it would stop every writer).
        conn.invalidate()
        raise
