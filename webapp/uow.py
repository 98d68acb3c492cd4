"""One transaction per unit of work, and the work done once just before it commits.

Services end their changes with `uow.commit()`. On its own that commits; inside `uow.batch()`
(a sync push applies many mutations in one transaction) it only flushes, so the whole batch
commits or rolls back together.

Features note what a transaction touched (`notes`) as it flushes, and act on it once, just before
the real commit. Two SQLAlchemy behaviours make that subtle:

- `before_commit` also fires when a SAVEPOINT is released. Running the work there appended the
  change log (and took its PostgreSQL lock) at a sync batch's first mutation and held the lock to
  the batch's end, so every phone queued behind every other. The work runs at the outermost
  commit only.
- `after_rollback` also fires when a SAVEPOINT rolls back. Forgetting every note there would lose
  what the batch's earlier, kept mutations changed. Notes are snapshotted when a savepoint begins
  and put back when it rolls back: what it undid is forgotten, nothing else.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from webapp.extensions import db

_BATCH = "homeward_batch"
_NOTES = "homeward_notes"
_SNAPSHOTS = "homeward_note_snapshots"


def notes(session: Session, key: str, factory: Callable[[], Any]) -> Any:
    """This transaction's notes under `key` (created by `factory`), rolled back with savepoints."""
    return session.info.setdefault(_NOTES, {}).setdefault(key, factory())


def take_notes(session: Session, key: str) -> Any:
    """Remove and return the notes under `key` (None if there are none)."""
    return session.info.get(_NOTES, {}).pop(key, None)


@event.listens_for(Session, "after_transaction_create")
def _snapshot(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        snapshots = session.info.setdefault(_SNAPSHOTS, {})
        snapshots[id(transaction)] = copy.deepcopy(session.info.get(_NOTES, {}))


@event.listens_for(Session, "after_soft_rollback")
def _restore(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested:
        saved = session.info.get(_SNAPSHOTS, {}).get(id(previous_transaction))
        if saved is not None:
            session.info[_NOTES] = copy.deepcopy(saved)
    elif previous_transaction.parent is None:
        session.info.pop(_NOTES, None)


@event.listens_for(Session, "after_transaction_end")
def _drop_snapshot(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.get(_SNAPSHOTS, {}).pop(id(transaction), None)
    elif transaction.parent is None:
        session.info.pop(_SNAPSHOTS, None)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """What every transaction does last, in this order: reminders follow the facts (they may add
    rows), then the sync change log is appended under its lock, which is held from there to the
    commit and no longer."""
    if session.in_nested_transaction():
        return  # a savepoint being released: the real commit comes later
    from webapp.fieldsync import changes
    from webapp.reminders import hooks

    hooks.refresh_noted(session)
    session.flush()
    changes.append_log(session)


def commit() -> None:
    if db.session.info.get(_BATCH):
        db.session.flush()
    else:
        db.session.commit()


@contextmanager
def batch() -> Iterator[None]:
    db.session.info[_BATCH] = True
    try:
        yield
        db.session.info.pop(_BATCH, None)
        db.session.commit()
    except BaseException:
        db.session.info.pop(_BATCH, None)
        db.session.rollback()
        raise
