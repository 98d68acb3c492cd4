"""Work before every commit: registered by each feature's init_app, on the app's session only."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import factories
from webapp import uow
from webapp.extensions import db
from webapp.fieldsync.models import ChangeLog
from webapp.interviews.models import Interview

pytestmark = pytest.mark.both_databases


def _log_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(ChangeLog))


def _interview() -> Interview:
    """An allocated interview, committed: its own creation is already in the change log."""
    i = factories.interview()
    db.session.commit()
    return i


def test_the_apps_session_logs_its_changes(app):
    interview = _interview()
    before = _log_rows()
    interview.offered = "NA"
    db.session.commit()
    assert _log_rows() == before + 1


def test_a_bare_sqlalchemy_session_is_not_the_apps_unit_of_work(app):
    """A script's or a migration's own session does its own work: the app's before-commit work
    (change log, reminders) listens on Flask-SQLAlchemy's session class only."""
    interview_id = _interview().id
    before = _log_rows()
    with Session(db.engine) as other:
        other.get(Interview, interview_id).offered = "NA"
        other.commit()
    assert _log_rows() == before


def test_before_commit_work_runs_in_its_registered_order_whatever_the_feature_order(app):
    interview = _interview()
    calls = []
    uow.register_before_commit(app, "late", lambda s: calls.append("late"), order=1000)
    uow.register_before_commit(app, "early", lambda s: calls.append("early"), order=1)
    interview.offered = "NA"
    db.session.commit()
    assert calls == ["early", "late"]
    with pytest.raises(ValueError, match="twice"):
        uow.register_before_commit(app, "early", lambda s: None, order=2)


def test_a_batch_inside_a_batch_commits_nothing_of_its_own(app):
    """A service that makes its changes in one batch (a pupil missing in the school day), called
    inside a sync push's batch: its changes commit or roll back with the outer batch."""
    interview = _interview()
    before = _log_rows()
    with pytest.raises(RuntimeError, match="outer"):
        with uow.batch():
            with uow.batch():
                interview.offered = "NA"
                uow.commit()
            # The inner batch has ended; the outer one fails after it.
            raise RuntimeError("the outer batch fails")
    db.session.expire_all()
    assert db.session.get(Interview, interview.id).offered is None
    assert _log_rows() == before  # no commit ran, so no change log row either
    # And when the outer batch ends well, the inner batch's changes commit with it.
    with uow.batch():
        with uow.batch():
            db.session.get(Interview, interview.id).offered = "NA"
    db.session.expire_all()
    assert db.session.get(Interview, interview.id).offered == "NA"
    assert _log_rows() == before + 1


def _logged_since(before: int) -> list[str]:
    db.session.expire_all()
    return db.session.scalars(
        select(ChangeLog.record_id).where(ChangeLog.seq > before).order_by(ChangeLog.seq)
    ).all()


def test_a_rolled_back_savepoint_takes_its_notes_with_it(app):
    """What a savepoint noted goes when it rolls back; what a released one noted stays, and so
    does what came before. (SQLAlchemy ends a savepoint before it reports the rollback: the
    notes' snapshot is carried across, or the undone change was still logged.)"""
    kept, undone, released = _interview(), _interview(), _interview()
    before = db.session.scalar(select(func.max(ChangeLog.seq)))
    with uow.batch():
        kept.offered = "Y"
        db.session.flush()
        savepoint = db.session.begin_nested()
        undone.offered = "Y"
        inner = db.session.begin_nested()
        released.offered = "N"  # released inside the savepoint that then rolls back: undone too
        db.session.flush()
        inner.commit()
        savepoint.rollback()
        with db.session.begin_nested():
            released.offered = "N"
            db.session.flush()
    assert _logged_since(before) == sorted([kept.id, released.id])  # one commit, in id order
