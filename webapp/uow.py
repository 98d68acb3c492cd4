"""One transaction per unit of work, and the work done once just before it commits.

Services end their changes with `uow.commit()`. On its own that commits; inside `uow.batch()`
(a sync push applies many mutations in one transaction) it only flushes, so the whole batch
commits or rolls back together; inside `uow.deferred()` as well (a sync batch tried whole) it
does not even flush: the batch's writes go to the database together, in one flush at its end
(queries still flush what they need first: autoflush is on).

Features note what a transaction touched (`notes`) as it flushes, and act on it once, just before
the real commit: each registers that work from its own `init_app` (`register_after_flush`,
`register_before_commit` with an order). Two SQLAlchemy behaviours make that subtle:

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
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_sqlalchemy.session import Session as AppSession
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from webapp.extensions import db

_BATCH = "homeward_batch"
_DEFER = "homeward_defer_flush"
_NOTES = "homeward_notes"
_SNAPSHOTS = "homeward_note_snapshots"
_ENDED = "homeward_note_snapshot_ended"


def notes(session: Session, key: str, factory: Callable[[], Any]) -> Any:
    """This transaction's notes under `key` (created by `factory`), rolled back with savepoints."""
    return session.info.setdefault(_NOTES, {}).setdefault(key, factory())


def take_notes(session: Session, key: str) -> Any:
    """Remove and return the notes under `key` (None if there are none)."""
    return session.info.get(_NOTES, {}).pop(key, None)


@dataclass(order=True, frozen=True)
class Work:
    order: int
    name: str
    fn: Callable[[Session], None] = field(compare=False)


@dataclass
class _Registry:
    after_flush: list[Work] = field(default_factory=list)
    before_commit: list[Work] = field(default_factory=list)


_EXTENSION = "homeward_uow"


def init_app(app: Flask) -> None:
    """Give the app its (empty) list of work; features add theirs in their own init_app."""
    app.extensions[_EXTENSION] = _Registry()
    # On Flask-SQLAlchemy's session class only: a bare SQLAlchemy session (a migration, a
    # script, the dispatcher's own connections) is not the app's unit of work.
    for name, fn in _LISTENERS.items():
        if not event.contains(AppSession, name, fn):
            event.listen(AppSession, name, fn)


def _add(app: Flask, kind: str, work: Work) -> None:
    works: list[Work] = getattr(app.extensions[_EXTENSION], kind)
    if any(w.name == work.name for w in works):
        raise ValueError(f"{kind} work {work.name!r} is registered twice")
    works.append(work)
    works.sort()


def register_after_flush(app: Flask, name: str, fn: Callable[[Session], None]) -> None:
    """`fn(session)` after every flush: note what the flush touched (uow.notes)."""
    _add(app, "after_flush", Work(0, name, fn))


def register_before_commit(
    app: Flask, name: str, fn: Callable[[Session], None], *, order: int
) -> None:
    """`fn(session)` once just before the outermost commit, lowest `order` first, after a flush
    (so every change so far has been noted)."""
    _add(app, "before_commit", Work(order, name, fn))


def _registry() -> _Registry | None:
    if not has_app_context():
        return None
    return current_app.extensions.get(_EXTENSION)


def _after_flush(session: Session, _flush_context) -> None:
    registry = _registry()
    for work in registry.after_flush if registry else ():
        work.fn(session)


def _snapshot(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        snapshots = session.info.setdefault(_SNAPSHOTS, {})
        snapshots[id(transaction)] = copy.deepcopy(session.info.get(_NOTES, {}))


def _restore(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested:
        # SQLAlchemy ends the savepoint (after_transaction_end, below) before it reports the
        # rollback here: its snapshot was carried over for this moment.
        ended, saved = session.info.pop(_ENDED, (None, None))
        if ended == id(previous_transaction) and saved is not None:
            session.info[_NOTES] = saved
    elif previous_transaction.parent is None:
        session.info.pop(_NOTES, None)


def _drop_snapshot(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        saved = session.info.get(_SNAPSHOTS, {}).pop(id(transaction), None)
        # Kept for _restore if this savepoint is being rolled back (a release never asks).
        session.info[_ENDED] = (id(transaction), saved)
    elif transaction.parent is None:
        session.info.pop(_SNAPSHOTS, None)
        session.info.pop(_ENDED, None)


def _before_commit(session: Session) -> None:
    """What every transaction does last, in the registered order (reminders follow the facts,
    then the sync change log is appended under its lock, held from there to the commit)."""
    if session.in_nested_transaction():
        return  # a savepoint being released: the real commit comes later
    registry = _registry()
    for work in registry.before_commit if registry else ():
        session.flush()
        work.fn(session)


_LISTENERS = {
    "after_flush": _after_flush,
    "after_transaction_create": _snapshot,
    "after_soft_rollback": _restore,
    "after_transaction_end": _drop_snapshot,
    "before_commit": _before_commit,
}


def commit() -> None:
    if db.session.info.get(_BATCH):
        if not db.session.info.get(_DEFER):
            db.session.flush()
    else:
        db.session.commit()


def deferring() -> bool:
    """Whether writes are being held for one flush at the end of a batch (uow.deferred)."""
    return bool(db.session.info.get(_DEFER))


@contextmanager
def deferred() -> Iterator[None]:
    """Inside a batch: services' commits neither commit nor flush until the block ends (the
    caller flushes once, inside a savepoint that can undo the lot)."""
    if not db.session.info.get(_BATCH):
        raise RuntimeError("uow.deferred() is for work inside uow.batch()")
    previous = db.session.info.get(_DEFER, False)
    db.session.info[_DEFER] = True
    try:
        yield
    finally:
        db.session.info[_DEFER] = previous


@contextmanager
def batch() -> Iterator[None]:
    if db.session.info.get(_BATCH):
        # Inside a batch already (a service that makes its changes in one go, called by a sync
        # push): the outer batch commits or rolls back, with everything else in it.
        yield
        return
    db.session.info[_BATCH] = True
    try:
        yield
        db.session.info.pop(_BATCH, None)
        db.session.commit()
    except BaseException:
        db.session.info.pop(_BATCH, None)
        db.session.rollback()
        raise
