"""Account life cycle by administrators (deactivate, reactivate, set-password links, role and
team), people changing their own password, and the password policy. Real HTTP, real database
(SQLite and PostgreSQL), real Argon2."""

from __future__ import annotations

import random
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import Browser
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.devices.models import Device
from webapp.extensions import db

STRONG = "lantern-orbit-kettle-42"


def user_id(email):
    from webapp.accounts.models import User

    db.session.expire_all()
    return db.session.scalar(select(User.id).where(User.email == email))


def user_row(email):
    from webapp.accounts.models import User

    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def audited(action, object_id):
    db.session.expire_all()
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action, AuditEvent.object_id == object_id)
    ).all()


def can_sign_in(app, email, password):
    # Each from an address of its own: a failure's delay on the address is not under test here.
    b = Browser(app.test_client())
    b.get("/sign-in")
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    r = b.post(
        "/sign-in", {"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )
    assert r.status_code in (302, 401), r.status_code
    return r.status_code == 302


def reset_link(admin, email):
    r = admin.post(f"/admin/users/{user_id(email)}/reset-password")
    assert r.status_code == 200
    match = re.search(
        r'id="reset-link-value" type="text" value="([^"]+)"', r.get_data(as_text=True)
    )
    assert match, "the page shows the link"
    return match.group(1).replace("&amp;", "&")


def test_administrators_find_the_users_page_and_see_their_authority_only(as_user):
    la = factories.local_authority()
    ours = [factories.worker(la), factories.user(Role.DSL, authority=la)]
    ours.append(factories.user(Role.CARER, authority=la))
    elsewhere = factories.manager()  # of another authority
    admin_user = factories.user(Role.ADMIN, authority=la)
    db.session.commit()

    admin = as_user(admin_user)
    home = admin.get("/", follow_redirects=True)
    assert home.request.path == "/admin/users"
    body = home.get_data(as_text=True)
    assert 'href="/admin/users"' in body  # in the navigation
    for person in ours:
        assert person.email in body
    assert elsewhere.email not in body
    # Another authority's account does not exist as far as this administrator can tell.
    assert admin.get(f"/admin/users/{elsewhere.id}").status_code == 404
    assert admin.post(f"/admin/users/{elsewhere.id}/deactivate").status_code == 404
    assert user_row(elsewhere.email).active


@pytest.mark.parametrize("role", [Role.MANAGER, Role.WORKER, Role.DSL])
def test_only_administrators_manage_accounts(as_user, role):
    la = factories.local_authority()
    target_user = factories.worker(la)
    person_user = factories.user(role, authority=la)
    db.session.commit()
    person = as_user(person_user)
    assert person.get("/admin/users").status_code == 404
    target = target_user.id
    assert person.get(f"/admin/users/{target}").status_code == 404
    assert person.post(f"/admin/users/{target}/deactivate").status_code == 404
    assert person.post(f"/admin/users/{target}/reset-password").status_code == 404
    assert user_row(target_user.email).active


def worker_and_admin():
    """A worker and an administrator of their authority, committed."""
    la = factories.local_authority()
    pair = factories.worker(la), factories.user(Role.ADMIN, authority=la)
    db.session.commit()
    return pair


@pytest.mark.both_databases
def test_deactivation_ends_sessions_and_devices_and_reactivation_restores_sign_in(app, as_user):
    worker_user, admin_user = worker_and_admin()
    email = worker_user.email
    worker = as_user(worker_user)
    assert worker.get("/api/v1/session").status_code == 200  # registers this device
    assert worker.get("/returns").status_code == 200
    admin = as_user(admin_user)
    wid = worker_user.id
    r = admin.post(f"/admin/users/{wid}/deactivate", follow_redirects=True)
    assert r.status_code == 200 and "is deactivated" in r.get_data(as_text=True)
    # The open session is over, pages and API alike.
    page = worker.get("/returns")
    assert page.status_code == 302 and "/sign-in" in page.headers["Location"]
    assert worker.get("/api/v1/session").status_code in (401, 410)
    devices = db.session.scalars(select(Device).where(Device.user_id == wid)).all()
    assert devices and all(d.revoked_at is not None for d in devices)
    assert not can_sign_in(app, email, factories.PASSWORD)
    assert audited("deactivate", wid)
    # No set-password link for a deactivated account.
    assert admin.post(f"/admin/users/{wid}/reset-password").status_code == 302
    assert not audited("password_reset_issued", wid)

    assert admin.post(f"/admin/users/{wid}/reactivate").status_code == 302
    assert can_sign_in(app, email, factories.PASSWORD)
    assert audited("reactivate", wid)


def test_an_administrator_cannot_deactivate_themselves(as_user):
    admin_user = factories.user(Role.ADMIN)
    db.session.commit()
    admin = as_user(admin_user)
    admin.post(f"/admin/users/{admin_user.id}/deactivate")
    assert user_row(admin_user.email).active
    assert admin.get("/admin/users").status_code == 200


@pytest.mark.both_databases
def test_a_set_password_link_works_once_and_ends_the_old_password(app, as_user):
    worker_user, admin_user = worker_and_admin()
    email = worker_user.email
    worker = as_user(worker_user)
    admin = as_user(admin_user)
    link = reset_link(admin, email)
    parts = urlsplit(link)
    assert parts.path == "/set-password" and parts.query.startswith("code=")
    wid = worker_user.id
    assert audited("password_reset_issued", wid)
    # Issuing a link changes nothing yet: the old password still works.
    assert can_sign_in(app, email, factories.PASSWORD)

    person = Browser(app.test_client())
    page = person.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and email in page.get_data(as_text=True)
    code = dict(p.split("=", 1) for p in parts.query.split("&"))["code"]
    form = {"code": code, "new_password": "password1234", "confirm_password": "password1234"}
    weak = person.post("/set-password", form)
    assert weak.status_code == 422
    assert "common password" in weak.get_data(as_text=True)
    form = {"code": code, "new_password": STRONG, "confirm_password": STRONG}
    assert person.post("/set-password", form).status_code == 302

    assert can_sign_in(app, email, STRONG)
    assert not can_sign_in(app, email, factories.PASSWORD)
    assert worker.get("/returns").status_code == 302  # sessions from before the reset ended
    assert audited("password_reset", wid)
    # Used once: the same link is dead.
    assert person.get(f"{parts.path}?{parts.query}").status_code == 410
    assert person.post("/set-password", form).status_code == 410
    # So is a made-up or tampered one.
    assert person.get("/set-password?code=" + code[:-3] + "abc").status_code == 410
    assert person.get("/set-password").status_code == 410


def test_role_and_team_changes_are_checked_and_audited(as_user):
    worker_user, admin_user = worker_and_admin()
    assert worker_user.team_id is not None
    admin = as_user(admin_user)
    wid = worker_user.id
    page = admin.get(f"/admin/users/{wid}")
    assert page.status_code == 200
    r = admin.post(f"/admin/users/{wid}", {"role": "social_worker", "team": ""})
    assert r.status_code == 302
    row = user_row(worker_user.email)
    assert row.role == "social_worker" and row.team_id is None
    events = audited("update", wid)
    assert events and events[-1].detail == "role,team"
    # A role that does not belong in the user's organisation is refused, with the reason.
    r = admin.post(f"/admin/users/{wid}", {"role": "dsl", "team": ""})
    assert r.status_code == 422
    assert user_row(worker_user.email).role == "social_worker"
    # An administrator cannot change their own role (and lock everyone out of this page).
    aid = admin_user.id
    r = admin.post(f"/admin/users/{aid}", {"role": "manager", "team": ""})
    assert r.status_code == 422 and user_row(admin_user.email).role == "admin"


@pytest.mark.both_databases
def test_people_change_their_own_password(app, as_user):
    # A name of their own, for a new password that contains it.
    me = factories.worker(name="Ada Kowalczyk")
    db.session.commit()
    email = me.email
    laptop = as_user(me)
    phone = as_user(me)
    assert laptop.get("/account").status_code == 200
    assert "/account/password" in laptop.get("/account").get_data(as_text=True)
    laptop.get("/account/password")
    form = {"current_password": "not-my-password", "new_password": STRONG}
    form["confirm_password"] = STRONG
    r = laptop.post("/account/password", form)
    assert r.status_code == 422 and "current password is not right" in r.get_data(as_text=True)
    form = {"current_password": factories.PASSWORD, "new_password": "kowalczyk-ada1"}
    form["confirm_password"] = "kowalczyk-ada1"
    r = laptop.post("/account/password", form)
    assert r.status_code == 422
    form["new_password"], form["confirm_password"] = STRONG, STRONG + "x"
    r = laptop.post("/account/password", form)
    assert r.status_code == 422 and "not the same" in r.get_data(as_text=True)
    form["confirm_password"] = STRONG
    r = laptop.post("/account/password", form)
    assert r.status_code == 302 and "/sign-in" in r.headers["Location"]
    assert phone.get("/returns").status_code == 302  # other sessions ended
    assert can_sign_in(app, email, STRONG)
    assert not can_sign_in(app, email, factories.PASSWORD)
    assert audited("password_change", me.id)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-1", "at least 12 characters"),
        ("password1234", "common password"),
        ("qwertyuiop123", "common"),
        ("aaaaaaaaaaaaaaaa", "Repeats"),
    ],
)
def test_the_password_policy_says_what_is_wrong(password, message):
    from webapp.accounts.service import PasswordRejected, check_password_policy

    with pytest.raises(PasswordRejected, match=f"(?i){message}"):
        check_password_policy(password)


def test_the_password_policy_knows_the_person(backend):
    from webapp.accounts.service import PasswordRejected, check_password_policy

    with pytest.raises(PasswordRejected):
        check_password_policy("okafor-samuel1", email="sam.okafor@demo.test", name="Sam Okafor")
    check_password_policy(STRONG, email="sam.okafor@demo.test", name="Sam Okafor")
    # Long passphrases are fine, past what zxcvbn itself accepts (72 characters).
    check_password_policy("the heron waits by the grey canal while trams hum past " * 4)
