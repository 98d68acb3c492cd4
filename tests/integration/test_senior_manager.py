"""The Assistant Director or senior manager (issue 12): told of Need to Know when a child of
their authority has been missing 24 hours, reads the authority's children and episodes, and acts
on nothing (the managers do); another authority's senior manager hears and sees nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from webapp.accounts.models import Role
from webapp.extensions import db
from webapp.reminders.models import Reminder

pytestmark = pytest.mark.both_databases


@pytest.fixture
def world(app):
    authority = factories.local_authority()
    people = {
        "ad": factories.user(Role.SENIOR_MANAGER, authority=authority),
        "elsewhere": factories.user(Role.SENIOR_MANAGER, authority=factories.local_authority()),
        "manager": factories.manager(authority),
        "child": factories.child(authority, first_name="Marigold"),
    }
    people["episode"] = factories.episode(
        people["child"], last_seen_hours_ago=30, missing_hours=None
    )
    db.session.commit()
    return people


def recipients(kind: str) -> set[str]:
    return set(
        db.session.scalars(
            select(Reminder.recipient_id).where(Reminder.kind == kind, Reminder.status == "pending")
        )
    )


def test_need_to_know_reaches_the_authoritys_senior_manager_and_only_theirs(world):
    told = recipients("need_to_know")
    assert world["ad"].id in told and world["manager"].id in told
    assert world["elsewhere"].id not in told
    # Meetings are the managers' to convene: the senior manager is not reminded of them.
    assert world["ad"].id not in recipients("urgent_strategy_meeting")


def test_the_senior_manager_reads_the_child_and_acts_on_nothing(as_user, world):
    ad = as_user(world["ad"])
    child, episode = world["child"], world["episode"]
    assert ad.get(f"/children/{child.id}").status_code == 200
    assert ad.get(f"/episodes/{episode.id}").status_code == 200
    assert "Marigold" in ad.post("/children/", {"q": "mari"}).get_data(as_text=True)
    for path in (
        f"/episodes/{episode.id}/escalations/need_to_know",
        f"/episodes/{episode.id}/correct",
        f"/children/{child.id}/edit",
        "/manage/",
    ):
        assert ad.get(path).status_code in (403, 404), path
    # Reach: the oversight pages from the navigation, read only; no field mode offered.
    page = ad.get(f"/children/{child.id}").get_data(as_text=True)
    assert 'href="/manage/figures/"' in page and 'href="/manage/meeting/"' in page
    assert 'href="/app/"' not in page
    assert ad.get("/manage/figures/").status_code == 200
    assert "Record the action" not in ad.get("/manage/meeting/").get_data(as_text=True)
    elsewhere = as_user(world["elsewhere"])
    assert elsewhere.get(f"/children/{child.id}").status_code == 404
