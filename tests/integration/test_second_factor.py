"""The second factor at sign-in, through the real HTTP stack, on SQLite and PostgreSQL: set up at
sign-in when the role requires it, the code after the password, throttling, replay, recovery
codes, the pending state, the administrator's reset, set-password links and the gate."""

from __future__ import annotations

import re
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from tests import factories
from tests.conftest import Browser
from webapp.accounts import second_factor as factor
from webapp.accounts import signin_flow
from webapp.accounts.models import RecoveryCode, SecondFactor, User, UserSession
from webapp.audit import AuditEvent
from webapp.errors import RuleError
from webapp.extensions import db

pytestmark = pytest.mark.both_databases

CODES = re.compile(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>")
SETUP_KEY = re.compile(r'id="setup-key">([A-Z2-7 ]+)<')


def _password(b: Browser, email: str, password: str = factories.PASSWORD, next_=None):
    b.get("/sign-in")
    url = "/sign-in" + (f"?next={next_}" if next_ else "")
    answer = b.post(url, {"email": email, "password": password})
    if answer.headers.get("Location", "").startswith(("/sign-in/code", "/sign-in/set-up")):
        b.get(answer.headers["Location"])  # as a browser follows it (and its CSRF token)
    return answer


def _now_code(secret: str, offset: int = 0) -> str:
    return factor.code_at(secret, factor.step_at(time.time()) + offset)


def _audit(action: str, user_id: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.user_id == user_id)
        )
    )


def _signed_in(b: Browser) -> bool:
    r = b.get("/account")
    return r.status_code == 200


def _enrol_through_pages(app, person) -> tuple[Browser, str, list[str]]:
    """A manager with no second factor signs in and sets one up: (browser, secret, codes)."""
    b = Browser(app.test_client())
    r = _password(b, person.email)
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in/set-up"
    page = b.get("/sign-in/set-up")
    secret = SETUP_KEY.search(page.get_data(as_text=True))[1].replace(" ", "")
    r = b.post("/sign-in/set-up", {"code": _now_code(secret)})
    assert r.status_code == 200, r.get_data(as_text=True)[:800]
    codes = CODES.findall(r.get_data(as_text=True))
    return b, secret, codes


def test_a_manager_without_one_sets_it_up_straight_after_the_password(app):
    person = factories.manager(second_factor=False)
    db.session.commit()
    b = Browser(app.test_client())
    r = _password(b, person.email, next_="/manage/")
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in/set-up"
    # Not signed in: nothing else is reachable before the app is set up.
    for path in ("/", "/account", "/manage/", "/account/second-factor/set-up"):
        r = b.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/sign-in"), path
    assert b.api("GET", "/api/v1/session").status_code == 401

    page = b.get("/sign-in/set-up")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and 'aria-label="QR code' in html
    secret = SETUP_KEY.search(html)[1].replace(" ", "")
    assert len(secret) == 32
    # The secret is sealed at rest: the raw column holds a token, not the key.
    raw = db.session.execute(
        text("SELECT secret_enc FROM second_factors WHERE user_id = :u"), {"u": person.id}
    ).scalar_one()
    assert secret not in raw and secret.lower() not in raw.lower()
    # Reloading shows the same key (an app may already hold it).
    again = b.get("/sign-in/set-up").get_data(as_text=True)
    assert SETUP_KEY.search(again)[1].replace(" ", "") == secret

    r = b.post("/sign-in/set-up", {"code": "000000" if _now_code(secret) != "000000" else "1"})
    assert r.status_code in (401, 422)
    assert not _signed_in(b)
    time.sleep(2.1)  # the wrong code's wait (2 s)
    r = b.post("/sign-in/set-up", {"code": _now_code(secret)})
    assert r.status_code == 200
    codes = CODES.findall(r.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert _signed_in(b)
    db.session.expire_all()
    row = db.session.get(SecondFactor, person.id)
    assert row.confirmed_at is not None and row.last_step is not None
    hashes = db.session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == person.id)
    ).all()
    assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(c.replace("-", "") in h for c in codes for h in hashes)
    assert _audit("second_factor_enrol", person.id)


def test_sign_in_with_a_code_and_nothing_reachable_in_between(app):
    person = factories.manager()
    db.session.commit()
    secret = factories.second_factor_secret(person.email)
    b = Browser(app.test_client())
    r = _password(b, person.email, next_="/account")
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in/code"
    assert _audit("sign_in_password", person.id) and not _audit("sign_in", person.id)
    assert (
        db.session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.user_id == person.id)
        )
        == 0
    ), "no server-side session before the code"
    for path in ("/", "/account", "/manage/", "/account/second-factor"):
        r = b.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/sign-in"), path
    assert b.api("GET", "/api/v1/session").status_code == 401
    assert b.get("/sign-in/set-up").headers["Location"] == "/sign-in"  # the wrong step

    r = b.post("/sign-in/code", {"code": _now_code(secret)})
    assert r.status_code == 302 and r.headers["Location"] == "/account"
    assert _signed_in(b)
    events = _audit("sign_in", person.id)
    assert [e.detail for e in events] == ["second_factor:totp"]
    # A drifting phone clock: one step either side is taken (the next step here).
    b2 = Browser(app.test_client())
    _password(b2, person.email)
    assert b2.post("/sign-in/code", {"code": _now_code(secret, +1)}).status_code == 302


def test_a_code_is_taken_once(app):
    person = factories.manager()
    db.session.commit()
    secret = factories.second_factor_secret(person.email)
    code = _now_code(secret)
    first, second = Browser(app.test_client()), Browser(app.test_client())
    _password(first, person.email)
    _password(second, person.email)
    assert first.post("/sign-in/code", {"code": code}).status_code == 302
    r = second.post("/sign-in/code", {"code": code})
    assert r.status_code == 401 and "used already" in r.get_data(as_text=True)
    assert not _signed_in(second)
    assert [e.detail for e in _audit("second_factor_failed", person.id)] == ["replayed"]
    # An older step than the last accepted one is refused too.
    third = Browser(app.test_client())
    time.sleep(2.1)
    _password(third, person.email)
    assert third.post("/sign-in/code", {"code": _now_code(secret, -1)}).status_code == 401


def test_the_same_code_sent_twice_at_once_signs_in_once(app):
    person = factories.manager()
    db.session.commit()
    code = _now_code(factories.second_factor_secret(person.email))
    browsers = [Browser(app.test_client()) for _ in range(2)]
    for b in browsers:
        _password(b, person.email)
    barrier, answers = threading.Barrier(2), []

    def send(b):
        barrier.wait()
        answers.append(b.post("/sign-in/code", {"code": code}).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers)[0] == 302 and answers.count(302) == 1, answers


def test_wrong_codes_are_throttled_like_passwords_and_audited(app):
    person = factories.manager()
    db.session.commit()
    secret = factories.second_factor_secret(person.email)
    b = Browser(app.test_client())
    _password(b, person.email)
    wrong = "123456" if _now_code(secret) != "123456" else "654321"
    r = b.post("/sign-in/code", {"code": wrong})
    assert r.status_code == 401 and "not right" in r.get_data(as_text=True)
    # The next try waits, before anything is checked: even the right code.
    r = b.post("/sign-in/code", {"code": _now_code(secret)})
    assert r.status_code == 429 and r.headers["Retry-After"] in ("1", "2")
    assert "Try again in" in r.get_data(as_text=True)
    assert not _signed_in(b)
    assert len(_audit("second_factor_failed", person.id)) == 1
    time.sleep(2.1)
    assert b.post("/sign-in/code", {"code": _now_code(secret)}).status_code == 302


def test_a_recovery_code_signs_in_once(app):
    person = factories.manager(second_factor=False)
    db.session.commit()
    b, _secret, codes = _enrol_through_pages(app, person)
    b.post("/sign-out")
    one = Browser(app.test_client())
    _password(one, person.email)
    r = one.post("/sign-in/code", {"code": codes[3].upper().replace("-", " ")})
    assert r.status_code == 302
    assert "You have 9 left" in one.get("/", follow_redirects=True).get_data(as_text=True)
    assert [e.detail for e in _audit("sign_in", person.id)][-1] == "second_factor:recovery"
    again = Browser(app.test_client())
    _password(again, person.email)
    r = again.post("/sign-in/code", {"code": codes[3]})
    assert r.status_code == 401 and not _signed_in(again)
    assert factor.recovery_codes_left(person) == 9


def test_new_recovery_codes_replace_the_old_ones(app):
    person = factories.manager(second_factor=False)
    db.session.commit()
    b, secret, old = _enrol_through_pages(app, person)
    page = b.get("/account/second-factor").get_data(as_text=True)
    assert "10 recovery codes left" in page
    time.sleep(0.1)
    r = b.post("/account/second-factor/recovery-codes", {"code": _now_code(secret, +1)})
    assert r.status_code == 200, r.get_data(as_text=True)[:800]
    new = CODES.findall(r.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    other = Browser(app.test_client())
    _password(other, person.email)
    assert other.post("/sign-in/code", {"code": old[0]}).status_code == 401
    time.sleep(2.1)
    assert other.post("/sign-in/code", {"code": new[0]}).status_code == 302


def test_the_pending_state_expires_and_stays_on_its_device(app, monkeypatch):
    person = factories.manager()
    db.session.commit()
    secret = factories.second_factor_secret(person.email)
    b = Browser(app.test_client())
    _password(b, person.email)
    # Another browser given this one's session cookie (but not its device) gets nowhere.
    thief = Browser(app.test_client())
    session_cookie = b.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    thief.client.set_cookie(app.config["SESSION_COOKIE_NAME"], session_cookie.value)
    r = thief.get("/sign-in/code")
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in"
    # Five minutes later the code page sends the person back to the password.
    later = time.time() + signin_flow.TTL["code"].total_seconds() + 1
    monkeypatch.setattr(signin_flow, "_now", lambda: later)
    r = b.post("/sign-in/code", {"code": _now_code(secret)})
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in"
    assert "timed out" in b.get("/sign-in").get_data(as_text=True)
    assert not _signed_in(b)


def test_the_administrators_reset_ends_sessions_and_asks_for_set_up_again(
    app, database, instance_dir, monkeypatch
):
    from webapp import cli

    person = factories.manager()
    db.session.commit()
    b = Browser(app.test_client()).login(person.email, factories.PASSWORD)
    assert _signed_in(b)
    monkeypatch.setenv("DATABASE_URL", database[0])
    monkeypatch.setenv("HOMEWARD_INSTANCE_PATH", str(instance_dir))
    result = CliRunner().invoke(cli.main, ["users", "reset-second-factor", person.email])
    assert result.exit_code == 0, result.output
    assert "Second factor removed" in result.output and person.email not in result.output
    assert not _signed_in(b), "the lost phone's session ends"
    db.session.expire_all()
    assert db.session.get(SecondFactor, person.id) is None
    assert not db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == person.id)
    ).all()
    assert db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "second_factor_reset", AuditEvent.object_id == person.id)
    )
    r = _password(Browser(app.test_client()), person.email)
    assert r.headers["Location"] == "/sign-in/set-up"
    result = CliRunner().invoke(cli.main, ["users", "reset-second-factor", "nobody@x.test"])
    assert result.exit_code != 0 and "No user" in result.output


def test_a_set_password_link_does_not_sign_a_manager_in_without_the_code(app):
    from webapp.accounts import service

    person = factories.manager()
    db.session.commit()
    token = service.issue_reset_token(None, person, app.config["SECRET_KEY"])
    b = Browser(app.test_client())
    b.get(f"/set-password?code={token}")
    new = "otter-lantern-basalt-72"
    r = b.post("/set-password", {"code": token, "new_password": new, "confirm_password": new})
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in"
    assert not _signed_in(b)
    r = _password(b, person.email, new)
    assert r.headers["Location"] == "/sign-in/code"
    assert not _signed_in(b)


def test_a_signed_in_person_given_a_role_that_needs_it_can_only_set_it_up(app):
    from webapp.accounts import service

    person = factories.worker()
    db.session.commit()
    b = Browser(app.test_client()).login(person.email, factories.PASSWORD)
    service.change_role_and_team(None, db.session.get(User, person.id), "manager", None)
    r = b.get("/manage/")
    assert r.status_code == 302 and r.headers["Location"] == "/account/second-factor/set-up"
    api = b.api("GET", "/api/v1/session")
    assert api.status_code == 401
    page = b.get("/account/second-factor/set-up")
    assert page.status_code == 200
    secret = SETUP_KEY.search(page.get_data(as_text=True))[1].replace(" ", "")
    assert b.post("/account/second-factor/set-up", {"code": _now_code(secret)}).status_code == 200
    assert b.get("/manage/").status_code == 200


def test_a_worker_may_turn_it_on_and_off(app):
    person = factories.worker()
    db.session.commit()
    b = Browser(app.test_client()).login(person.email, factories.PASSWORD)
    assert "Set up a second factor" in b.get("/account").get_data(as_text=True)
    page = b.get("/account/second-factor/set-up")
    secret = SETUP_KEY.search(page.get_data(as_text=True))[1].replace(" ", "")
    r = b.post("/account/second-factor/set-up", {"code": _now_code(secret)})
    assert r.status_code == 200 and len(CODES.findall(r.get_data(as_text=True))) == 10
    other = Browser(app.test_client())
    assert _password(other, person.email).headers["Location"] == "/sign-in/code"
    # Off: the password and a current code.
    r = b.post(
        "/account/second-factor/turn-off",
        {"password": "not-my-password-1", "code": _now_code(secret, +1)},
    )
    assert r.status_code == 401 and "password is not right" in r.get_data(as_text=True)
    r = b.post(
        "/account/second-factor/turn-off",
        {"password": factories.PASSWORD, "code": _now_code(secret, +1)},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    assert _audit("second_factor_off", person.id)
    assert _password(Browser(app.test_client()), person.email).headers["Location"] == "/"


def test_a_manager_cannot_turn_it_off(app):
    person = factories.manager()
    db.session.commit()
    b = Browser(app.test_client()).login(person.email, factories.PASSWORD)
    page = b.get("/account/second-factor").get_data(as_text=True)
    assert "cannot be turned off" in page
    r = b.get("/account/second-factor/turn-off")
    assert r.status_code == 302 and r.headers["Location"] == "/account/second-factor"
    with pytest.raises(RuleError) as refused:
        factor.turn_off(person, factories.PASSWORD, "000000", "127.0.0.1", None)
    assert "cannot be turned off" in refused.value.message


def test_which_roles_require_it():
    assert {r.value for r in factor.REQUIRED_ROLES} == {
        "manager",
        "senior_manager",
        "admin",
        "cme",
    }
