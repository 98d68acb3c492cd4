from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm.exc import StaleDataError

from tests.integration.helpers import episodes_of


@pytest.mark.both_databases
def test_episode_json_has_times_with_offsets_and_escalations(as_user, ids):
    manager = as_user("manager@demo.test")
    episode = episodes_of(ids["kai"])[0]
    r = manager.get(f"/api/v1/episodes/{episode.id}")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    data = r.json
    returned = datetime.fromisoformat(data["returned_at"])
    due = datetime.fromisoformat(data["rhi_due_at"])
    assert returned.utcoffset() is not None and due.utcoffset() is not None
    assert due - returned == timedelta(hours=72)
    assert data["last_seen_at"][-6:] in ("+00:00", "+01:00")
    # Kai was missing 20 hours, once: no escalation about time missing or repeats.
    assert {e["code"] for e in data["escalations"]} == set()


@pytest.mark.both_databases
def test_third_episode_in_30_days_calls_an_intervention_meeting(as_user, ids):
    latest = episodes_of(ids["mia"])[-1]
    data = as_user("manager@demo.test").get(f"/api/v1/episodes/{latest.id}").json
    codes = {e["code"] for e in data["escalations"]}
    assert {"intervention_meeting", "repeat_episodes", "lac_visit"} <= codes
    for esc in data["escalations"]:
        assert datetime.fromisoformat(esc["due_at"]).utcoffset() is not None


def test_open_episode_has_no_rhi_due_yet(as_user, ids):
    episode = episodes_of(ids["leah"])[0]
    data = as_user("manager@demo.test").get(f"/api/v1/episodes/{episode.id}").json
    assert data["returned_at"] is None and data["rhi_due_at"] is None
    assert "need_to_know" in {e["code"] for e in data["escalations"]}


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [(PermissionError, 404, "not_found"), (StaleDataError, 409, "conflict")],
)
def test_api_answers_domain_refusals_in_its_own_shape_not_as_500(
    app, as_user, monkeypatch, raised, status, code
):
    """The API blueprint's catch-all handler is found before the app's: a NotAllowed (a
    PermissionError) or a version clash under /api/ once came back as a JSON 500."""
    phone = as_user("worker@demo.test")

    def refuse(*args, **kwargs):
        raise raised("refused")

    monkeypatch.setitem(app.view_functions, "api.pull", refuse)
    r = phone.get("/api/v1/sync/pull")
    assert r.status_code == status
    assert r.json["error"] == code
