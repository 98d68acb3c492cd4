"""Each return starts its own 72-hour clock (issue 12): a new return joins the child's interview
not yet held while that interview is not overdue (one interview, the earliest deadline shown),
but never one already overdue nor one held and sent back for changes, which keeps its original
deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from webapp.db_types import utcnow
from webapp.episodes import service as episodes
from webapp.extensions import db
from webapp.interviews.models import Interview, InterviewStatus

H = timedelta(hours=1)

pytestmark = pytest.mark.both_databases


@pytest.fixture
def setting(app):
    authority = factories.local_authority()
    manager = factories.manager(authority)
    child = factories.child(authority)
    db.session.commit()
    return manager, child


def _new_return(manager, child, hours_ago: float):
    """The child goes missing again and is back `hours_ago`."""
    again = factories.episode(child, last_seen_hours_ago=hours_ago + 3, missing_hours=None)
    db.session.commit()
    return episodes.record_return(manager, again, utcnow() - hours_ago * H, "own_accord")


def test_a_return_joins_an_interview_not_yet_held_and_not_overdue(setting):
    manager, child = setting
    first = factories.interview(child_=child, returned_hours_ago=30, manager_=manager)
    db.session.commit()
    due = first.due_at
    joined = _new_return(manager, child, 1)
    assert joined.id == first.id
    assert joined.due_at == due  # the earliest return's deadline is shown
    assert len(joined.episodes) == 2


def test_a_return_does_not_join_an_overdue_interview(setting):
    manager, child = setting
    overdue = factories.interview(child_=child, returned_hours_ago=80, manager_=manager)
    db.session.commit()
    assert overdue.due_at < utcnow()
    fresh = _new_return(manager, child, 1)
    assert fresh.id != overdue.id
    assert abs(fresh.due_at - (utcnow() - H + 72 * H)) < timedelta(minutes=1)  # its own clock
    assert (
        len(db.session.scalars(select(Interview).where(Interview.child_id == child.id)).all()) == 2
    )


def test_an_interview_sent_back_keeps_its_deadline_and_is_not_joined(setting):
    manager, child = setting
    held = factories.interview(
        child_=child, returned_hours_ago=10, manager_=manager, status=InterviewStatus.SENT_BACK
    )
    db.session.commit()
    due = held.due_at
    fresh = _new_return(manager, child, 1)
    assert fresh.id != held.id
    db.session.refresh(held)
    assert held.due_at == due and held.status == InterviewStatus.SENT_BACK


def test_the_childs_page_lists_open_interviews_first_most_urgent_on_top(as_user, setting):
    manager, child = setting
    done = factories.interview(
        child_=child, returned_hours_ago=5, manager_=manager, status=InterviewStatus.AUTHORISED
    )
    later = factories.interview(child_=child, returned_hours_ago=10, manager_=manager)
    overdue = factories.interview(child_=child, returned_hours_ago=90, manager_=manager)
    db.session.commit()
    page = as_user(manager).get(f"/children/{child.id}").get_data(as_text=True)
    order = sorted(
        (page.index(f"/interviews/{i.id}"), name)
        for name, i in (("done", done), ("later", later), ("overdue", overdue))
    )
    assert [name for _, name in order] == ["overdue", "later", "done"]
