"""Re-encrypt every sealed value under the active key, online, in short batches.

How it stays safe while the app keeps serving:

* Each batch is read in one short transaction and written in another, so no lock is held while
  values are decrypted and no request waits long behind the rotation.
* Each write is a compare-and-set on the old token (`UPDATE ... WHERE pk = :pk AND col = :old`).
  If the app changed the value after the batch was read, the update matches no row and the
  newer value stays: the rotation never writes back what a person has since replaced. Such rows
  are counted and picked up by the next pass (they may already be under the active key). On
  PostgreSQL an UPDATE that waited for the app's row lock re-checks its WHERE against the row the
  app committed, so the same holds under real concurrency; SQLite runs one writer at a time.
* Only the sealed column is written, through SQLAlchemy Core: no ORM version counter
  (`version_id_col`), `updated_at` (kept as it was, though it has an onupdate), change-log entry
  or derived table (interview factors) moves, because the plaintext did not change. A phone
  therefore sees nothing to pull, and an open form's "changed since you opened it" check is
  not tripped.
* The associated data is rebuilt from the registry (webapp/keyring/registry.py) exactly as
  `seal()` built it, and every old token is authenticated before it is re-sealed
  (FieldCipher.rotate), so a tampered value is reported, never laundered into a valid one.
* Resumable: there is no state besides the data. A run killed at any point has committed whole
  batches only; the next run looks again for values not under the active key and carries on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select, tuple_, update
from sqlalchemy.engine import Engine

from webapp.crypto import CryptoError, FieldCipher
from webapp.keyring.usage import under_key
from webapp.sealed import SealedColumn

# A value changed by the app during a pass is retried by the next; a column whose values keep
# changing under us (a server still writing with an old active key) is not chased for ever.
MAX_PASSES = 3


@dataclass
class ColumnResult:
    name: str
    to_do: int = 0
    rotated: int = 0
    changed_meanwhile: int = 0
    # Record ids (opaque UUIDs, never content) of values that would not open: tampered, bound
    # to another record, or sealed with a key this process does not hold.
    failed: set[str] = field(default_factory=set)
    remaining: int = 0


@dataclass
class RotationReport:
    active_key_id: str
    columns: list[ColumnResult] = field(default_factory=list)

    @property
    def rotated(self) -> int:
        return sum(c.rotated for c in self.columns)

    @property
    def remaining(self) -> int:
        return sum(c.remaining for c in self.columns)

    @property
    def complete(self) -> bool:
        return self.remaining == 0


# Called with (column, rows read) after a batch is read and before it is written: the tests use
# it to change a row in between, as a person saving a form at that moment would.
BeforeWrite = Callable[[SealedColumn, Sequence], None]
Progress = Callable[[ColumnResult], None]


def _not_under(column, kid: str):
    return and_(column.is_not(None), ~under_key(column, kid))


def pending(engine: Engine, col: SealedColumn, active_key_id: str) -> int:
    c = col.model.__table__.c[col.column]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(_not_under(c, active_key_id))).scalar_one()


def _one_pass(
    engine: Engine,
    cipher: FieldCipher,
    col: SealedColumn,
    result: ColumnResult,
    *,
    batch_size: int,
    pause: float,
    progress: Progress | None,
    before_write: BeforeWrite | None,
) -> int:
    """Walk the column once in primary-key order; returns how many rows changed meanwhile."""
    table = col.model.__table__
    c = table.c[col.column]
    ids = [table.c[name] for name in col.id_columns]
    # The registry's id columns are the table's primary key: keyset paging over them visits
    # each row once even though rows leave the "not rotated" set as we go.
    assert {x.name for x in ids} == {x.name for x in table.primary_key.columns}, col.name
    # SET updated_at = updated_at: Core would otherwise apply the column's onupdate default.
    unchanged = {x.name: x for x in table.c if x.onupdate is not None}
    changed_meanwhile = 0
    after: tuple | None = None
    while True:
        query = select(*ids, c).where(_not_under(c, cipher.active_key_id))
        if after is not None:
            query = query.where(_after(ids, after))
        with engine.connect() as conn:
            rows = conn.execute(query.order_by(*ids).limit(batch_size)).all()
        if not rows:
            return changed_meanwhile
        after = tuple(rows[-1][: len(ids)])
        writes = []
        for row in rows:
            key, token = tuple(row[: len(ids)]), row[-1]
            try:
                new = cipher.rotate(token, col.aad(key))
            except CryptoError:
                result.failed.add(":".join(str(v) for v in key))
                continue
            if new != token:
                writes.append((key, token, new))
        if before_write is not None:
            before_write(col, rows)
        with engine.begin() as conn:
            for key, old, new in writes:
                stmt = (
                    update(table)
                    .where(*(x == v for x, v in zip(ids, key, strict=True)), c == old)
                    .values({col.column: new, **unchanged})
                )
                if conn.execute(stmt).rowcount == 1:
                    result.rotated += 1
                else:
                    changed_meanwhile += 1
                    result.changed_meanwhile += 1
        if progress is not None:
            progress(result)
        if pause:
            time.sleep(pause)


def _after(ids, values: tuple):
    if len(ids) == 1:
        return ids[0] > values[0]
    # Row-value comparison, (a, b) > (x, y): PostgreSQL and SQLite (3.15+) both have it.
    return tuple_(*ids) > tuple_(*values)


def rotate_column(
    engine: Engine,
    cipher: FieldCipher,
    col: SealedColumn,
    *,
    batch_size: int = 500,
    pause: float = 0.0,
    progress: Progress | None = None,
    before_write: BeforeWrite | None = None,
) -> ColumnResult:
    result = ColumnResult(col.name, to_do=pending(engine, col, cipher.active_key_id))
    for _ in range(MAX_PASSES):
        if not result.to_do:
            break
        changed = _one_pass(
            engine,
            cipher,
            col,
            result,
            batch_size=batch_size,
            pause=pause,
            progress=progress,
            before_write=before_write,
        )
        if not changed:
            break
    result.remaining = pending(engine, col, cipher.active_key_id)
    return result


def rotate_all(
    engine: Engine,
    cipher: FieldCipher,
    columns: Sequence[SealedColumn],
    *,
    batch_size: int = 500,
    pause: float = 0.0,
    progress: Progress | None = None,
    before_write: BeforeWrite | None = None,
    on_column_done: Progress | None = None,
) -> RotationReport:
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    report = RotationReport(cipher.active_key_id)
    for col in columns:
        result = rotate_column(
            engine,
            cipher,
            col,
            batch_size=batch_size,
            pause=pause,
            progress=progress,
            before_write=before_write,
        )
        report.columns.append(result)
        if on_column_done is not None:
            on_column_done(result)
    return report
