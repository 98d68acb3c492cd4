"""The police's safe-and-well check after a return (issue 12): recorded with the police details,
after the return and not in the future; who did it is sealed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from tests import factories
from webapp import deadlines
from webapp.extensions import db

pytestmark = pytest.mark.both_databases
H = timedelta(hours=1)
OFFICER = "PC 4471, Canary-Constabulary"


def local(dt) -> str:
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


def test_a_safe_and_well_check_is_recorded_after_the_return(as_user, app):
    authority = factories.local_authority()
    manager = factories.manager(authority)
    child = factories.child(authority)
    episode = factories.episode(child, last_seen_hours_ago=20, missing_hours=6)
    db.session.commit()
    browser = as_user(manager)
    page = f"/episodes/{episode.id}"
    base = {
        "reported_to_police_at": local(episode.last_seen_at + H),
        "police_log_number": "L-1",
        "police_category": "",
    }
    too_early = browser.post(
        f"{page}/police",
        base | {"safe_and_well_at": local(episode.returned_at - H), "safe_and_well_by": OFFICER},
    )
    assert too_early.status_code == 422
    assert "must be after the return" in too_early.get_data(as_text=True)
    r = browser.post(
        f"{page}/police",
        base | {"safe_and_well_at": local(episode.returned_at + H), "safe_and_well_by": OFFICER},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    shown = browser.get(page).get_data(as_text=True)
    assert "Police safe-and-well check" in shown and OFFICER in shown
    raw = db.session.execute(
        text("SELECT safe_and_well_by_enc FROM episodes WHERE id = :id"), {"id": episode.id}
    ).scalar()
    assert raw and "Canary" not in raw


def test_no_safe_and_well_check_before_the_child_is_back(as_user, app):
    authority = factories.local_authority()
    manager = factories.manager(authority)
    episode = factories.episode(
        factories.child(authority), last_seen_hours_ago=5, missing_hours=None
    )
    db.session.commit()
    r = as_user(manager).post(
        f"/episodes/{episode.id}/police",
        {
            "police_category": "",
            "safe_and_well_at": local(episode.last_seen_at + H),
            "safe_and_well_by": OFFICER,
        },
    )
    assert r.status_code == 422
    assert "A safe-and-well check follows the return" in r.get_data(as_text=True)
