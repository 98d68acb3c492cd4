"""Revoking a device revokes its access, on SQLite and PostgreSQL, over real HTTP.

A revoked device keeps only what it needs to finish cleanly: learn its standing, upload the work
it made before the revocation, and report that it has wiped itself. Then nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import Browser
from tests.integration.helpers import fresh
from webapp.accounts.models import User
from webapp.audit import DEVICE_COOKIE, AuditEvent
from webapp.devices.models import Device
from webapp.extensions import db

# Sync pushes from a revoked device: the sync store and per-mutation refusals.
pytestmark = pytest.mark.both_databases


class Phone:
    """Field mode on one phone: a signed-in Browser speaking the sync protocol."""

    def __init__(self, browser: Browser):
        self.b = browser
        r = self.b.get("/api/v1/session")
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
        self.csrf = r.json["csrf_token"]
        self.device_id = self.b.client.get_cookie(DEVICE_COOKIE).value

    def row(self) -> Device:
        db.session.expire_all()
        return db.session.scalars(select(Device).where(Device.id == self.device_id)).one()

    def push(self, *mutations):
        body = {"protocol": 1, "device_id": self.device_id, "mutations": list(mutations)}
        return self.b.raw_post(
            "/api/v1/sync/push",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf},
        )

    def pull(self):
        return self.b.get("/api/v1/sync/pull")

    def report_wiped(self):
        return self.b.raw_post("/api/v1/devices/wiped", headers={"X-CSRFToken": self.csrf})


def edit(interview, text, at=None, base=None):
    m = {
        "mutation_id": str(uuid.uuid4()),
        "record_type": "interview",
        "record_id": interview.id,
        "op": "upsert",
        "base_version": base or interview.version,
        "payload": {"answers": {"why_details": text}, "submit": False},
    }
    if at is not None:
        m["client_time"] = at.isoformat()
    return m


@pytest.fixture
def mine(me):
    """Two interviews allocated to me, on the phone since its first pull."""
    interviews = [factories.interview(worker_=me), factories.interview(worker_=me)]
    db.session.commit()
    return interviews


@pytest.fixture
def phone(as_user, me, mine):
    p = Phone(as_user(me))
    assert p.pull().status_code == 200
    return p


def revoke(as_user, phone: Phone) -> Device:
    """Revoked by a manager of the phone's owner's authority."""
    owner = db.session.get(User, phone.row().user_id)
    boss = factories.manager(owner.organisation)
    db.session.commit()
    manager = as_user(boss)
    r = manager.post(f"/devices/{phone.row().user_id}/{phone.device_id}/revoke")
    assert r.status_code == 302
    device = phone.row()
    assert device.revoked_at is not None
    return device


def test_a_revoked_phone_loses_pages_data_and_keys(as_user, phone):
    revoke(as_user, phone)
    r = phone.b.get("/returns")
    assert r.status_code == 302 and "/sign-in" in r.headers["Location"]
    assert phone.b.get("/").status_code == 302
    r = phone.pull()
    assert r.status_code == 410 and r.json["wipe"] is True
    assert phone.b.get("/api/v1/devices/recovery-key").status_code in (401, 410)
    # What it still may do: learn that it is revoked (and get the CSRF token to finish with).
    r = phone.b.get("/api/v1/session")
    assert r.status_code == 200 and r.json["device"]["revoked"] is True


def test_work_made_before_revocation_is_uploaded_and_later_work_refused_alone(as_user, phone, mine):
    uploaded, untouched = mine
    device = revoke(as_user, phone)
    before = device.revoked_at - timedelta(minutes=5)
    after = device.revoked_at + timedelta(seconds=1)
    r = phone.push(
        edit(uploaded, "written on the bus", at=before),
        edit(untouched, "written by whoever has the phone now", at=after),
        edit(untouched, "no time given"),
    )
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    first, late, undated = r.json["results"]
    assert first["status"] == "applied"
    for result in (late, undated):
        assert result["status"] == "rejected"
        assert result["error"]["code"] == "device_revoked"
        assert result["client_action"] == "keep_and_show"

    from webapp.interviews import service

    assert service.answers(fresh(uploaded))["why_details"] == "written on the bus"
    assert (
        service.answers(fresh(untouched)).get("why_details")
        != "written by whoever has the phone now"
    )


def test_after_the_wipe_is_reported_even_early_work_is_refused(as_user, phone, mine):
    interview = mine[0]
    device = revoke(as_user, phone)
    r = phone.report_wiped()
    assert r.status_code == 200
    assert phone.row().wiped_at is not None
    r = phone.push(edit(interview, "too late", at=device.revoked_at - timedelta(minutes=5)))
    assert r.status_code == 410 and r.json["wipe"] is True
    assert phone.pull().status_code == 410
    assert phone.b.get("/returns").status_code == 302


def test_the_same_users_other_device_is_unaffected(as_user, phone, me, mine):
    laptop = Phone(as_user(me))
    assert laptop.device_id != phone.device_id
    revoke(as_user, phone)
    assert laptop.b.get("/returns").status_code == 200
    assert laptop.pull().status_code == 200
    interview = mine[0]
    assert laptop.push(edit(interview, "from the laptop")).json["results"][0]["status"] == "applied"


def test_a_new_device_cookie_in_a_revoked_devices_session_gets_nothing(app, as_user, phone):
    revoke(as_user, phone)
    name = app.config["SESSION_COOKIE_NAME"]
    other = Browser(app.test_client())
    other.client.set_cookie(name, phone.b.client.get_cookie(name).value)
    r = other.get("/api/v1/session")  # no device cookie: the server hands out a new one
    assert r.status_code == 401
    assert other.client.get_cookie(DEVICE_COOKIE).value != phone.device_id
    assert other.get("/api/v1/sync/pull").status_code == 401
    assert other.get("/api/v1/devices/recovery-key").status_code == 401
    assert other.get("/returns").status_code == 302


def test_revocation_ends_the_devices_sessions_and_is_audited(as_user, phone, me):
    from webapp.accounts.models import UserSession

    revoke(as_user, phone)
    rows = db.session.scalars(
        select(UserSession).where(UserSession.device_id == phone.device_id)
    ).all()
    assert rows and all(r.ended_at is not None and r.end_reason == "device_revoked" for r in rows)
    ended = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "session_end", AuditEvent.user_id == me.id)
    ).all()
    assert any(e.detail == "device_revoked" for e in ended)


def test_signing_in_again_on_a_wiped_device_starts_afresh(app, as_user, phone, me):
    revoke(as_user, phone)
    assert phone.report_wiped().status_code == 200
    again = phone.b.login(me.email, factories.PASSWORD)
    assert again.client.get_cookie(DEVICE_COOKIE).value != phone.device_id
    assert again.get("/returns").status_code == 200
    assert Phone(again).pull().status_code == 200


def test_signing_in_again_on_a_revoked_device_before_the_wipe_keeps_it_revoked(
    app, as_user, phone, me
):
    revoke(as_user, phone)
    assert phone.b.post("/sign-out").status_code == 302
    phone.b.login(me.email, factories.PASSWORD)
    assert phone.b.client.get_cookie(DEVICE_COOKIE).value == phone.device_id
    r = phone.b.get("/api/v1/session")
    assert r.status_code == 200 and r.json["device"]["revoked"] is True
    assert phone.pull().status_code == 410
    assert phone.b.get("/returns").status_code == 302


@pytest.mark.parametrize("back", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/"])
def test_revoking_returns_only_to_a_page_of_this_site(as_user, phone, back):
    """The revoke form's `back` field goes through the one safe-path check like every other."""
    owner = db.session.get(User, phone.row().user_id)
    boss = factories.manager(owner.organisation)
    db.session.commit()
    r = as_user(boss).post(
        f"/devices/{phone.row().user_id}/{phone.device_id}/revoke", {"back": back}
    )
    assert r.status_code == 302
    assert r.headers["Location"] == "/devices/"
