from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm.exc import StaleDataError

from tests import factories
from webapp.children.models import LegalStatus
from webapp.errors import ChangedMeanwhile, NotAllowed, NotFound
from webapp.extensions import db


def _manager_reading(as_user, child):
    """A manager of the child's authority, signed in."""
    manager = factories.manager(child.responsible_authority)
    db.session.commit()
    return as_user(manager)


def _signed_in_worker(as_user):
    person = factories.worker()
    db.session.commit()
    return as_user(person)


@pytest.mark.both_databases
def test_episode_json_has_times_with_offsets_and_escalations(as_user):
    # Missing 20 hours, once, and back: no escalation about time missing or repeats.
    child = factories.child()
    episode = factories.episode(child, last_seen_hours_ago=100, missing_hours=20)
    episode.found_place = "friend"
    manager = _manager_reading(as_user, child)
    r = manager.get(f"/api/v1/episodes/{episode.id}")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    data = r.json
    returned = datetime.fromisoformat(data["returned_at"])
    due = datetime.fromisoformat(data["rhi_due_at"])
    assert returned.utcoffset() is not None and due.utcoffset() is not None
    assert due - returned == timedelta(hours=72)
    assert data["last_seen_at"][-6:] in ("+00:00", "+01:00")
    assert {e["code"] for e in data["escalations"]} == set()
    assert (data["how_returned"], data["found_place"]) == ("own_accord", "friend")


@pytest.mark.both_databases
def test_third_episode_in_30_days_calls_an_intervention_meeting(as_user):
    child = factories.child(legal_status=LegalStatus.LOOKED_AFTER)
    for hours_ago in (24 * 20, 24 * 9):
        factories.episode(child, last_seen_hours_ago=hours_ago, missing_hours=6)
    latest = factories.episode(child, last_seen_hours_ago=70, missing_hours=10)
    data = _manager_reading(as_user, child).get(f"/api/v1/episodes/{latest.id}").json
    codes = {e["code"] for e in data["escalations"]}
    assert {"intervention_meeting", "repeat_episodes", "lac_visit"} <= codes
    for esc in data["escalations"]:
        assert datetime.fromisoformat(esc["due_at"]).utcoffset() is not None


def test_open_episode_has_no_rhi_due_yet(as_user):
    child = factories.child()
    episode = factories.episode(child, last_seen_hours_ago=30, missing_hours=None)
    data = _manager_reading(as_user, child).get(f"/api/v1/episodes/{episode.id}").json
    assert data["returned_at"] is None and data["rhi_due_at"] is None
    assert "need_to_know" in {e["code"] for e in data["escalations"]}


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (NotAllowed, 404, "not_found"),
        (NotFound, 404, "not_found"),
        (StaleDataError, 409, "conflict"),
        (ChangedMeanwhile, 409, "conflict"),
    ],
)
def test_api_answers_domain_refusals_in_its_own_shape_not_as_500(
    app, as_user, monkeypatch, raised, status, code
):
    """The API blueprint's catch-all handler is found before the app's: a NotAllowed or a
    version clash under /api/ once came back as a JSON 500."""
    phone = _signed_in_worker(as_user)

    def refuse(*args, **kwargs):
        raise raised("refused")

    monkeypatch.setitem(app.view_functions, "api.sync.pull", refuse)
    r = phone.get("/api/v1/sync/pull")
    assert r.status_code == status
    assert r.json["error"] == code


SYNC_500 = "Something went wrong; nothing was saved. It will be sent again automatically."


@pytest.mark.parametrize(
    ("endpoint", "method", "url"),
    [
        ("api.push.push_subscribe", "POST", "/api/v1/push/subscriptions"),
        ("api.session_info", "GET", "/api/v1/session"),
        ("api.episode", "GET", "/api/v1/episodes/x"),
    ],
)
def test_a_failure_outside_sync_does_not_answer_with_the_sync_text(
    app, as_user, monkeypatch, endpoint, method, url
):
    """Only a sync push or pull is sent again by the phone on its own."""
    person = _signed_in_worker(as_user)

    def fail(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setitem(app.view_functions, endpoint, fail)
    r = person.api(method, url, json={})
    assert r.status_code == 500 and r.json["error"] == "server_error"
    assert r.json["message"] != SYNC_500 and "try again" in r.json["message"]


def test_a_sync_failure_says_it_will_be_sent_again(app, as_user, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setitem(app.view_functions, "api.sync.pull", fail)
    r = _signed_in_worker(as_user).get("/api/v1/sync/pull")
    assert r.status_code == 500 and r.json["message"] == SYNC_500
