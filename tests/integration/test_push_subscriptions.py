"""A push address (endpoint) registered by one person never moves to another silently.

The page sends its browser's subscription again on every start, so before this rule whoever signed
in last on a shared phone or a children's home tablet took over the first person's reminders,
and anyone who learned an endpoint could redirect it to their own account. Both databases.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from tests.support.fake_push import FakePushService
from webapp.audit import AuditEvent
from webapp.extensions import db
from webapp.push.models import PushSubscription
from webapp.push.service import public_key

# An endpoint unique across devices: a constraint each database enforces.
pytestmark = pytest.mark.both_databases

SUBS = "/api/v1/push/subscriptions"


@pytest.fixture
def fake_push():
    with FakePushService(hang_seconds=3) as service:
        yield service


def holders(endpoint: str) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(PushSubscription.user_id).where(PushSubscription.endpoint == endpoint)
        )
    )


def test_a_shared_device_moves_reminders_only_when_the_new_person_turns_them_on(as_user, fake_push):
    authority = factories.local_authority()
    first_user = factories.worker(authority)
    second_user = factories.worker(authority, team_=first_user.team)
    db.session.commit()
    tablet = as_user(first_user)
    phone = fake_push.browser(application_server_key=public_key())
    body = phone.subscription_json()
    assert tablet.api("POST", SUBS, body).status_code == 201
    assert holders(phone.endpoint) == [first_user.id]

    # Someone else signs in on the same tablet (same browser, same device cookie).
    assert tablet.post("/sign-out").status_code == 302
    tablet.login(second_user.email, factories.PASSWORD)
    assert tablet.get("/api/v1/push/key").json["this_device"] == "another account"

    # The page's automatic re-registration at start must not take the first person's reminders.
    r = tablet.api("POST", SUBS, body)
    assert r.status_code == 409, r.get_data(as_text=True)
    assert r.json["error"] == "subscription_in_use"
    assert "another account" in r.json["message"]
    assert holders(phone.endpoint) == [first_user.id]

    # Tapping "Turn on reminders" there moves them, on the record (ids only).
    r = tablet.api("POST", SUBS, dict(body, take_over=True))
    assert r.status_code == 201, r.get_data(as_text=True)
    assert holders(phone.endpoint) == [second_user.id]
    assert tablet.get("/api/v1/push/key").json["this_device"] == "you"
    moved = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "take_over", AuditEvent.object_type == "push_subscription"
        )
    ).all()
    assert [(e.user_id, e.detail) for e in moved] == [
        (second_user.id, f"from user {first_user.id}")
    ]

    # The first person's settings no longer list the tablet.
    first = as_user(first_user)
    assert "No device has reminders turned on" in first.get("/notifications/settings").get_data(
        as_text=True
    )


def test_an_endpoint_presented_from_another_device_is_refused_even_when_asked(as_user, fake_push):
    owner_user, intruder_user = factories.worker(), factories.worker()
    db.session.commit()
    owner = as_user(owner_user)
    phone = fake_push.browser(application_server_key=public_key())
    assert owner.api("POST", SUBS, phone.subscription_json()).status_code == 201
    original = db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == phone.endpoint)
    )
    keys = (original.p256dh, original.auth)

    # Another account, on its own device, re-registers the copied endpoint with its own keys.
    intruder = as_user(intruder_user)
    own_keys = fake_push.browser(application_server_key=public_key()).subscription_json()["keys"]
    for extra in ({}, {"take_over": True}):
        r = intruder.api("POST", SUBS, {"endpoint": phone.endpoint, "keys": own_keys, **extra})
        assert r.status_code == 409, r.get_data(as_text=True)
        assert r.json["error"] == "subscription_in_use"
    db.session.expire_all()
    still = db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == phone.endpoint)
    )
    assert (still.user_id, still.p256dh, still.auth) == (owner_user.id, *keys)
    assert intruder.get("/api/v1/push/key").json["this_device"] is None

    # The owner's own refresh still works.
    assert owner.api("POST", SUBS, phone.subscription_json()).status_code == 201
