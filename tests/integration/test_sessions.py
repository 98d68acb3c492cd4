"""Server-side sessions: sign-out that signs out, sessions bound to their device, a cookie with
nothing personal in it. Over real HTTP and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import Browser
from webapp.audit import DEVICE_COOKIE, AuditEvent
from webapp.db_types import utcnow
from webapp.extensions import db

# Server-side session rows: idle times compared in SQL, ended in bulk.
pytestmark = pytest.mark.both_databases


def session_cookie_name(app) -> str:
    return app.config["SESSION_COOKIE_NAME"]


def copy_of(app, browser: Browser, *, device: str | None = "same") -> Browser:
    """Another browser holding a copy of `browser`'s session cookie (as a thief would), with the
    same device cookie, another one, or none at all."""
    name = session_cookie_name(app)
    other = Browser(app.test_client())
    other.client.set_cookie(name, browser.client.get_cookie(name).value)
    if device == "same":
        other.client.set_cookie(DEVICE_COOKIE, browser.client.get_cookie(DEVICE_COOKIE).value)
    elif device is not None:
        other.client.set_cookie(DEVICE_COOKIE, device)
    return other


def signed_in(b: Browser) -> bool:
    page = b.get("/returns")
    api = b.get("/api/v1/session")
    assert (page.status_code == 200) == (api.status_code == 200), (
        page.status_code,
        api.status_code,
    )
    if page.status_code == 200:
        return True
    assert page.status_code == 302 and "/sign-in" in page.headers["Location"]
    assert api.status_code == 401
    return False


@pytest.fixture
def person(app):
    """A worker, committed: anyone whose session is under test."""
    someone = factories.worker()
    db.session.commit()
    return someone


def test_a_copied_cookie_works_until_sign_out_and_never_after(app, as_user, person):
    worker = as_user(person)
    thief = copy_of(app, worker)
    assert signed_in(thief)  # the copy is the session: it works while the session lasts
    assert worker.post("/sign-out").status_code == 302
    assert not signed_in(thief)
    assert not signed_in(worker)


def test_sign_out_everywhere_ends_copied_cookies_too(app, as_user, person):
    phone = as_user(person)
    laptop = as_user(person)
    thief = copy_of(app, phone)
    assert laptop.post("/account/sign-out-everywhere").status_code == 302
    assert not signed_in(thief)
    assert not signed_in(phone)


def test_a_session_is_bound_to_the_device_it_was_started_on(app, as_user, person):
    worker = as_user(person)
    assert not signed_in(copy_of(app, worker, device=str(uuid.uuid4())))
    assert not signed_in(copy_of(app, worker, device=None))  # a new device cookie
    assert not signed_in(copy_of(app, worker, device="not-a-uuid"))
    assert signed_in(worker)  # the owner is not signed out by someone else's attempt


def test_sessions_are_recorded_ended_and_audited(app, as_user, person):
    from webapp.accounts.models import UserSession

    worker = as_user(person)
    device_id = worker.client.get_cookie(DEVICE_COOKIE).value
    (row,) = db.session.scalars(select(UserSession).where(UserSession.user_id == person.id))
    assert row.device_id == device_id and row.ended_at is None
    # Only a hash of the token is stored: a copy of the database signs no one in.
    raw_cookie = worker.client.get_cookie(session_cookie_name(app)).value
    payload = app.session_interface.get_signing_serializer(app).loads(raw_cookie)
    assert payload["_user_id"] != row.id and row.id not in raw_cookie

    worker.post("/sign-out")
    db.session.expire_all()
    row = db.session.get(UserSession, row.id)
    assert row.ended_at is not None and row.end_reason == "sign_out"
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.user_id == person.id)
    ).all()
    assert "sign_in" in actions and "sign_out" in actions


def test_idle_sessions_end_on_the_server_whatever_the_cookie_says(app, as_user, person):
    from webapp.accounts.models import UserSession

    worker = as_user(person)
    row = db.session.scalars(select(UserSession).where(UserSession.user_id == person.id)).one()
    row.last_seen_at = utcnow() - app.permanent_session_lifetime - timedelta(minutes=1)
    db.session.commit()
    # The cookie's own idle clock is fresh: only the server's record can tell.
    assert not signed_in(worker)


def test_a_deactivated_account_is_signed_out(app, as_user, person):
    from webapp.accounts.models import User

    worker = as_user(person)
    db.session.get(User, person.id).active = False
    db.session.commit()
    assert not signed_in(worker)


@pytest.mark.parametrize("how", ["deactivated", "password_change", "password_reset"])
def test_every_way_of_ending_all_sessions_records_the_rows_and_why(app, as_user, person, how):
    """Deactivation and a new password ended sessions through the epoch alone, leaving their
    rows open with no reason; every path now goes through sessions.end_all."""
    from webapp.accounts import service
    from webapp.accounts.models import User, UserSession

    worker = as_user(person)
    user = db.session.get(User, person.id)
    if how == "deactivated":
        service.deactivate(None, user)
    elif how == "password_change":
        service.change_own_password(user, factories.PASSWORD, "a fresh kettle orbit 8812")
    else:
        secret = app.config["SECRET_KEY"]
        service.set_password_with_token(
            service.issue_reset_token(None, user, secret), "a fresh kettle orbit 8812", secret
        )
    db.session.expire_all()
    rows = db.session.scalars(select(UserSession).where(UserSession.user_id == person.id)).all()
    assert rows and all(r.ended_at is not None and r.end_reason == how for r in rows)
    assert not signed_in(worker)


def _cookie_text(app, b: Browser) -> str:
    cookie = b.client.get_cookie(session_cookie_name(app))
    if cookie is None:
        return ""
    payload = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    return cookie.value + json.dumps(payload, default=str)


def test_no_child_name_in_the_session_cookie(app, as_user):
    """Flask's session cookie is signed, not encrypted: anything in it (flash messages included)
    can be read by whoever sees the cookie. The flows that flash must leave no name there."""
    from webapp.accounts.models import OrgKind, Role

    boss = factories.manager()
    authority = boss.organisation
    school = factories.organisation(OrgKind.SCHOOL, authority)
    social_worker = factories.user(Role.SOCIAL_WORKER, authority=authority)
    child = factories.child(authority, first_name="Ottoline", last_name="Fairweather")
    interview = factories.interview(child_=child, manager_=boss)
    colleague = factories.worker(authority)
    db.session.commit()

    manager = as_user(boss)
    r = manager.post(
        "/children/new",
        {
            "first_name": "Zephyrine",
            "last_name": "Quartermaine",
            "date_of_birth": ["4", "7", "2011"],
            "sex": "female",
            "legal_status": "looked_after",
            "school_id": school.id,
            "social_worker_id": social_worker.id,
            "carer_id": "",
            "flags": [],
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    seen = [_cookie_text(app, manager)]

    # Reallocating flashes a message about the child's interview: it must not name the child.
    r = manager.post(f"/interviews/{interview.id}/allocate", {"worker_id": colleague.id})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    seen.append(_cookie_text(app, manager))

    worker = as_user(interview.allocated_to)
    seen.append(_cookie_text(app, worker))
    for text in seen:
        for name in ("Zephyrine", "Quartermaine", child.first_name, child.last_name):
            assert name not in text
    assert any("_flashes" in text for text in seen)  # the check saw the flashes themselves
