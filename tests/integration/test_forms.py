"""Bad input is refused with a clear message beside the field, and nothing typed is lost."""

from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from tests.integration.helpers import fresh
from webapp import deadlines, sealed
from webapp.accounts.models import Role
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus


def local(dt):
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


def _committed(obj):
    db.session.commit()
    return obj


@pytest.fixture
def boss(app):
    """A manager of an authority of their own."""
    return _committed(factories.manager())


@pytest.fixture
def manager(as_user, boss):
    return as_user(boss)


def _child_back_home(authority):
    """A child of `authority` whose one episode is over: a new one may be reported."""
    child = factories.child(authority)
    factories.episode(child)
    return _committed(child)


def _missing_child(authority):
    """A child of `authority` missing now, for 30 hours: their only episode is open."""
    child = factories.child(authority)
    episode = factories.episode(child, last_seen_hours_ago=30, missing_hours=None)
    db.session.commit()
    return child, episode


def _allocated_interview():
    """An allocated interview; its worker, signed in, is `as_user(i.allocated_to)`."""
    return _committed(factories.interview())


def test_child_form_keeps_what_was_typed(manager):
    r = manager.post(
        "/children/new",
        {
            "first_name": "Zephyrine",
            "last_name": "",
            "date_of_birth": ["31", "2", "2011"],
            "sex": "female",
            "legal_status": "none",
            "school_id": "",
            "social_worker_id": "",
            "carer_id": "",
        },
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "There is a problem" in body
    assert "Enter the child&#39;s last name" in body or "Enter the child's last name" in body
    assert 'value="Zephyrine"' in body
    assert 'value="31"' in body  # the impossible date is shown back, not blanked


def test_episode_in_the_future_is_refused_and_kept(manager, boss):
    child = _child_back_home(boss.organisation)
    future = local(datetime.now(UTC) + timedelta(days=2))
    r = manager.post(
        f"/children/{child.id}/episodes/new",
        {
            "reported_type": "missing",
            "missing_from": "home",
            "last_seen_at": future,
            "circumstances": "Kept text 4471",
            "police_category": "",
        },
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "The time last seen must be in the past" in body
    assert future in body and "Kept text 4471" in body


def test_clock_change_gap_time_is_explained(manager, boss):
    child = _child_back_home(boss.organisation)
    r = manager.post(
        f"/children/{child.id}/episodes/new",
        {
            "reported_type": "missing",
            "missing_from": "home",
            "last_seen_at": "2026-03-29T01:30",
            "police_category": "",
        },
    )
    assert r.status_code == 422
    assert "clocks" in r.get_data(as_text=True).lower()


@pytest.mark.both_databases
def test_second_open_episode_is_refused(manager, boss):
    child, _ = _missing_child(boss.organisation)
    r = manager.post(
        f"/children/{child.id}/episodes/new",
        {
            "reported_type": "missing",
            "missing_from": "home",
            "last_seen_at": local(datetime.now(UTC) - timedelta(hours=1)),
            "police_category": "",
        },
    )
    assert r.status_code == 422
    assert "already has an open episode" in r.get_data(as_text=True)


def test_return_before_last_seen_is_refused(manager, boss):
    _, episode = _missing_child(boss.organisation)
    before = local(episode.last_seen_at - timedelta(hours=1))
    r = manager.post(
        f"/episodes/{episode.id}/return", {"returned_at": before, "how_returned": "own_accord"}
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "The return must be after the time last seen" in body
    assert before in body
    assert fresh(episode).returned_at is None


@pytest.mark.both_databases
def test_section_saves_valid_answers_and_keeps_the_invalid_one(as_user):
    interview = _allocated_interview()
    worker = as_user(interview.allocated_to)
    r = worker.post(
        f"/interviews/{interview.id}/sections/arrangements",
        {
            "offered": "Y",
            "held_at": "not a date",
            "location": "x" * 201,
            "overview": "Overview text 9912",
        },
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "not a date" in body  # typed value shown back
    assert "200 characters or fewer" in body
    assert "Overview text 9912" in body
    interview = fresh(interview)
    assert interview.offered == "Y"  # the valid answers were saved anyway
    content = sealed.unseal(interview.content_enc, "interview", interview.id, "content")
    assert content["overview"] == "Overview text 9912"
    assert "location" not in content


@pytest.mark.both_databases
def test_autosave_returns_a_status_line(as_user):
    interview = _allocated_interview()
    worker = as_user(interview.allocated_to)
    r = worker.post(
        f"/interviews/{interview.id}/sections/why",
        {"why_details": "autosaved words", "_autosave": "1"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert "Saved at" in r.get_data(as_text=True)
    assert "<html" not in r.get_data(as_text=True)


def test_interview_before_return_is_refused(as_user):
    interview = _allocated_interview()
    worker = as_user(interview.allocated_to)
    before = local(interview.episodes[0].returned_at - timedelta(hours=3))
    r = worker.post(f"/interviews/{interview.id}/sections/arrangements", {"held_at": before})
    assert r.status_code == 422
    assert "cannot be before the child returned" in r.get_data(as_text=True)


def test_unknown_worker_allocation_is_refused(manager, boss):
    authority = boss.organisation
    waiting = factories.interview(
        status=InterviewStatus.AWAITING_ALLOCATION, child_=factories.child(authority)
    )
    # A social worker of the same authority is a person, but not a return interview worker.
    social_worker = _committed(factories.user(Role.SOCIAL_WORKER, authority=authority))
    for bad in ("", social_worker.id, "nonsense"):
        r = manager.post(f"/interviews/{waiting.id}/allocate", {"worker_id": bad})
        assert r.status_code == 422
        assert "Choose a return interview worker" in r.get_data(as_text=True)
    assert fresh(waiting).allocated_to_id is None
