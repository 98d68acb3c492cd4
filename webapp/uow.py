"""One transaction per unit of work.

Services end their changes with `uow.commit()`. On its own that commits; inside `uow.batch()`
(a sync push applies many mutations in one transaction) it only flushes, so the whole batch
commits or rolls back together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.extensions import db

_KEY = "homeward_batch"


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """What every transaction does last, in this order: reminders follow the facts (they may add
    rows), then the sync change log is appended under its lock, which is held from there to the
    commit and no longer."""
    from webapp.fieldsync import changes
    from webapp.reminders import hooks

    hooks.refresh_noted(session)
    session.flush()
    changes.append_log(session)


def commit() -> None:
    if db.session.info.get(_KEY):
        db.session.flush()
    else:
        db.session.commit()


@contextmanager
def batch() -> Iterator[None]:
    db.session.info[_KEY] = True
    try:
        yield
        db.session.info.pop(_KEY, None)
        db.session.commit()
    except BaseException:
        db.session.info.pop(_KEY, None)
        db.session.rollback()
        raise
