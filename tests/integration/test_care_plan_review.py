"""A looked-after child missing a third time in 90 days prompts the IRO's care plan review
(issue 12): a task owned by the child's IRO, who records it from the episode page; it closes,
and its reminder goes to the IRO."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from webapp.children.models import LegalStatus
from webapp.extensions import db
from webapp.reminders.models import Reminder

pytestmark = pytest.mark.both_databases


@pytest.fixture
def world(app):
    authority = factories.local_authority()
    iro = factories.iro(authority)
    child = factories.child(authority, legal_status=LegalStatus.LOOKED_AFTER, iro_id=iro.id)
    for days in (40, 20):
        factories.episode(child, last_seen_hours_ago=days * 24, missing_hours=5)
    latest = factories.episode(child, last_seen_hours_ago=60, missing_hours=5)  # review due in 12 h
    manager = factories.manager(authority)
    db.session.commit()
    return {"iro": iro, "child": child, "latest": latest, "manager": manager}


def test_the_iro_is_prompted_and_records_the_review(as_user, world):
    latest, iro = world["latest"], world["iro"]
    page = as_user(world["manager"]).get("/manage/").get_data(as_text=True)
    assert (
        "Care plan review" in page
        and f"Owner:</strong> Independent reviewing officer: {iro.name}" in page
    )
    assert db.session.scalars(
        select(Reminder).where(Reminder.kind == "care_plan_review", Reminder.recipient_id == iro.id)
    ).all()
    browser = as_user(iro)
    assert "Record action" in browser.get(f"/episodes/{latest.id}").get_data(as_text=True)
    form = browser.get(f"/episodes/{latest.id}/escalations/care_plan_review")
    assert form.status_code == 200
    from webapp import deadlines
    from webapp.db_types import utcnow

    r = browser.post(
        f"/episodes/{latest.id}/escalations/care_plan_review",
        {
            "kind": "reviewed",
            "done_at": deadlines.to_local(utcnow()).strftime("%Y-%m-%dT%H:%M"),
            "who": "The IRO with the social worker",
            "note": "Contact plan changed; a new placement meeting is set",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    assert "Care plan review" not in as_user(world["manager"]).get("/manage/").get_data(
        as_text=True
    )
