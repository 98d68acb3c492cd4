"""Sign-in, throttling, session rotation, idle timeout, sign out everywhere, CSRF, headers."""

import time

from tests.conftest import Browser


def test_wrong_password_is_refused_clearly(browser):
    browser.get("/sign-in")
    r = browser.post("/sign-in", {"email": "worker@demo.test", "password": "wrong-password"})
    assert r.status_code == 401
    body = r.get_data(as_text=True)
    assert "The email address or password is not right" in body
    assert 'value="worker@demo.test"' in body  # the email stays; the password never echoes
    assert "wrong-password" not in body


def test_throttled_after_repeated_failures_even_with_right_password(app, browser):
    browser.get("/sign-in")
    for _ in range(app.config["HOMEWARD_LOGIN_MAX_FAILURES"]):
        browser.post("/sign-in", {"email": "worker@demo.test", "password": "not-this-one"})
    r = browser.post("/sign-in", {"email": "worker@demo.test", "password": "homeward-demo"})
    assert r.status_code == 429
    assert "Too many failed attempts" in r.get_data(as_text=True)
    # Another account is not locked by it.
    r = browser.post("/sign-in", {"email": "worker2@demo.test", "password": "homeward-demo"})
    assert r.status_code == 302


def test_session_is_replaced_at_sign_in(app):
    client = app.test_client()
    b = Browser(client)
    b.get("/sign-in")
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    b.post("/sign-in", {"email": "worker@demo.test", "password": "homeward-demo"})
    with client.session_transaction() as s:
        assert "planted" not in s
        assert "_user_id" in s


def test_idle_timeout_signs_out(app, as_user):
    worker = as_user("worker@demo.test")
    assert worker.get("/returns").status_code == 200
    with worker.client.session_transaction() as s:
        s["last_active"] = time.time() - app.permanent_session_lifetime.total_seconds() - 5
    r = worker.get("/returns")
    assert r.status_code == 302 and "/sign-in" in r.headers["Location"]
    assert worker.get("/returns").status_code == 302


def test_sign_out_everywhere_ends_other_sessions(as_user):
    phone = as_user("worker@demo.test")
    laptop = as_user("worker@demo.test")
    assert phone.get("/returns").status_code == 200
    assert laptop.post("/account/sign-out-everywhere").status_code == 302
    assert phone.get("/returns").status_code == 302


def test_sign_out(as_user):
    worker = as_user("worker@demo.test")
    assert worker.post("/sign-out").status_code == 302
    assert worker.get("/returns").status_code == 302


def test_post_without_csrf_token_is_refused(as_user, ids):
    worker = as_user("worker@demo.test")
    r = worker.raw_post("/sign-out", data={})
    assert r.status_code == 400
    r = worker.raw_post("/account/sign-out-everywhere", data={"csrf_token": "forged"})
    assert r.status_code == 400


def test_csrf_header_is_accepted_for_htmx(as_user, ids):
    from tests.integration.helpers import interview_of

    worker = as_user("worker@demo.test")
    kai = interview_of(ids["kai"])
    r = worker.raw_post(
        f"/interviews/{kai.id}/sections/why",
        data={"why_details": "hdr"},
        headers={"X-CSRFToken": worker.csrf, "HX-Request": "true"},
    )
    assert r.status_code == 302 or r.status_code == 200


def test_open_redirect_is_ignored(browser):
    browser.get("/sign-in")
    r = browser.post(
        "/sign-in?next=//evil.example/x", {"email": "worker@demo.test", "password": "homeward-demo"}
    )
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_security_headers_and_no_store(as_user, ids):
    r = as_user("manager@demo.test").get(f"/children/{ids['mia']}")
    h = r.headers
    assert "script-src 'self'" in h["Content-Security-Policy"]
    assert "unsafe-inline" not in h["Content-Security-Policy"]
    assert h["Cache-Control"] == "no-store"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert "HX-Request" in h.get("Vary", "")
    cookie = r.headers.get("Set-Cookie", "")
    assert "Mia" not in cookie


def test_production_refuses_to_start_without_secret_key(tmp_path):
    import pytest

    from webapp import create_app
    from webapp.config import ConfigError

    with pytest.raises(ConfigError):
        create_app({"INSTANCE_PATH": str(tmp_path)}, environ={"HOMEWARD_ENV": "production"})


def test_no_inline_script_or_style_in_pages(as_user, ids):
    import re

    manager = as_user("manager@demo.test")
    for url in ("/manage/", f"/children/{ids['mia']}", "/children/"):
        body = manager.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert " style=" not in body and "<style" not in body, url


def test_oversized_bodies_are_refused_before_they_are_read(browser):
    r = browser.raw_post("/sign-in", data={"email": "x" * (6 * 1024 * 1024)})
    assert r.status_code == 413
