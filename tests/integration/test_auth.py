"""Sign-in, throttling, session rotation, idle timeout, sign out everywhere, CSRF, headers."""

import time

import pytest

from tests import factories
from tests.conftest import Browser
from tests.factories import PASSWORD
from webapp.extensions import db


def _committed(person):
    db.session.commit()
    return person


@pytest.fixture
def person(app):
    """Whoever signs in: a worker with the factories' password."""
    return _committed(factories.worker())


def test_wrong_password_is_refused_clearly(browser, person):
    browser.get("/sign-in")
    r = browser.post("/sign-in", {"email": person.email, "password": "wrong-password"})
    assert r.status_code == 401
    body = r.get_data(as_text=True)
    assert "The email address or password is not right" in body
    assert f'value="{person.email}"' in body  # the email stays; the password never echoes
    assert "wrong-password" not in body


class FakeClock:
    """The sign-in throttle's clock, moved by the test instead of waiting minutes."""

    def __init__(self, monkeypatch):
        from webapp.db_types import utcnow

        self.now = utcnow()
        monkeypatch.setattr("webapp.accounts.service.utcnow", lambda: self.now)

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)


def sign_in(browser, email, password, address="127.0.0.1"):
    return browser.post(
        "/sign-in",
        {"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def sign_out(browser):
    browser.get("/", follow_redirects=True)  # the signed-in page's CSRF token
    assert browser.post("/sign-out").status_code == 302
    browser.get("/sign-in")


@pytest.mark.both_databases
def test_failures_make_the_next_attempt_wait_ever_longer_up_to_a_minute(
    app, browser, monkeypatch, person
):
    clock = FakeClock(monkeypatch)
    browser.get("/sign-in")
    waits = []
    for _ in range(8):
        assert sign_in(browser, person.email, "not-this-one").status_code == 401
        r = sign_in(browser, person.email, PASSWORD)  # right, but too soon
        assert r.status_code == 429
        waits.append(int(r.headers["Retry-After"]))
        body = r.get_data(as_text=True)
        assert f"Try again in {waits[-1]} seconds" in body
        assert f'value="{person.email}"' in body and PASSWORD not in body
        clock.advance(waits[-1])
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]
    # Waiting out the delay is enough: the right password is never locked out.
    assert sign_in(browser, person.email, PASSWORD).status_code == 302


@pytest.mark.both_databases
def test_a_success_resets_the_count_and_other_accounts_elsewhere_are_untouched(
    app, browser, monkeypatch, person
):
    other_person = _committed(factories.worker())
    clock = FakeClock(monkeypatch)
    browser.get("/sign-in")
    for _ in range(3):
        assert sign_in(browser, person.email, "nope-nope-nope").status_code == 401
        clock.advance(60)
    # Another person, at another address, is not slowed down by it.
    other = type(browser)(app.test_client())
    other.get("/sign-in")
    assert sign_in(other, other_person.email, PASSWORD, "10.1.1.2").status_code == 302
    assert sign_in(browser, person.email, PASSWORD).status_code == 302
    sign_out(browser)
    # After the success the count starts again: one failure waits 2 s, not 16.
    assert sign_in(browser, person.email, "wrong-again-1").status_code == 401
    r = sign_in(browser, person.email, PASSWORD)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def _parallel(app, requests):
    """POST /sign-in for each (email, password, address) at once, each from its own client."""
    import threading

    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def run(i, email, password, address):
        b = Browser(app.test_client())
        b.get("/sign-in")
        barrier.wait()
        results[i] = sign_in(b, email, password, address).status_code

    threads = [threading.Thread(target=run, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.both_databases
def test_parallel_wrong_guesses_all_count(app, monkeypatch):
    """Five guesses at once from one address, at five accounts: every guess that was checked
    counts against the address (an UPDATE that reads and adds, never read-then-write)."""
    from webapp.accounts.models import Role

    FakeClock(monkeypatch)
    roles = [Role.WORKER, Role.WORKER, Role.SOCIAL_WORKER, Role.DSL, Role.CARER]
    emails = [factories.user(role).email for role in roles]
    last = _committed(factories.manager())
    codes = _parallel(app, [(e, "a-wrong-guess-1", "10.9.9.9") for e in emails])
    checked = codes.count(401)
    # 503: "busy", past the per-process waiting room for password checks; checked nothing.
    assert checked >= 1 and checked + codes.count(429) + codes.count(503) == len(codes), codes
    b = Browser(app.test_client())
    b.get("/sign-in")
    r = sign_in(b, last.email, PASSWORD, "10.9.9.9")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == str(min(2**checked, 60)), (codes, r.headers["Retry-After"])


@pytest.mark.both_databases
def test_parallel_guesses_at_one_account_are_checked_one_at_a_time(app, monkeypatch, person):
    """Many guesses at once at one account, from many addresses: only one password is checked;
    the rest wait as if it had failed, so a burst gains an attacker nothing."""
    FakeClock(monkeypatch)
    codes = _parallel(app, [(person.email, f"guess-number-{i}", f"10.8.0.{i}") for i in range(6)])
    assert codes.count(401) == 1 and codes.count(429) == 5, codes


@pytest.mark.both_databases
def test_only_failures_use_up_an_address_allowance(app, browser, monkeypatch, person):
    """Flask-Limiter caps failed sign-ins per address whatever the accounts (password spraying),
    while an office signing in from one address is never stopped by it."""
    other_person = _committed(factories.worker())
    clock = FakeClock(monkeypatch)  # the growing delay is waited out; the limiter's clock is real
    app.config["HOMEWARD_SIGNIN_RATE_LIMIT"] = "3 per minute"
    browser.get("/sign-in")
    for _ in range(5):
        assert sign_in(browser, person.email, PASSWORD, "10.7.7.7").status_code == 302
        sign_out(browser)
    for email in ["a@x.test", "b@x.test", "c@x.test"]:
        assert sign_in(browser, email, "wrong-password-1", "10.7.7.7").status_code == 401
        clock.advance(120)
    r = sign_in(browser, other_person.email, PASSWORD, "10.7.7.7")
    assert r.status_code == 429
    body = r.get_data(as_text=True)
    assert "Too many failed attempts from your network" in body
    assert f'value="{other_person.email}"' in body
    assert 0 < int(r.headers["Retry-After"]) <= 60
    # Another address is not affected.
    assert sign_in(browser, other_person.email, PASSWORD, "10.7.7.9").status_code == 302


@pytest.mark.both_databases
def test_new_hashes_use_the_chosen_argon2_parameters_and_old_ones_are_upgraded(
    app, browser, person, monkeypatch
):
    from argon2 import PasswordHasher

    from tests.conftest import PRODUCTION_HASHER
    from webapp.accounts import service
    from webapp.accounts.models import User

    monkeypatch.setattr(service, "_hasher", PRODUCTION_HASHER)  # the suite hashes cheaply

    person.password_hash = PasswordHasher().hash(PASSWORD)  # the library default
    db.session.commit()
    browser.get("/sign-in")
    assert sign_in(browser, person.email, PASSWORD).status_code == 302
    db.session.expire_all()
    assert "$m=47104,t=2,p=1$" in db.session.get(User, person.id).password_hash


def test_password_checks_are_bounded_per_process(monkeypatch):
    """A burst of sign-ins hashes at most one password per core at a time, so the requests
    that only read a page keep a core."""
    import os
    import threading

    from webapp.accounts import service

    running = 0
    peak = 0
    lock = threading.Lock()

    def slow_verify(h, p):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return False

    class SlowHasher:
        verify = staticmethod(slow_verify)

    monkeypatch.setattr(service, "_hasher", SlowHasher())
    answers = []

    def sign_in_attempt():
        try:
            answers.append(service._verify("h", "p"))
        except service.ServerBusy:
            answers.append("busy")  # past the waiting room: told at once, no thread held

    threads = [threading.Thread(target=sign_in_attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= peak <= (os.cpu_count() or 1)
    assert len(answers) == 12 and answers.count(False) >= 1
    assert answers.count(False) + answers.count("busy") == 12


def test_session_is_replaced_at_sign_in(app, person):
    client = app.test_client()
    b = Browser(client)
    b.get("/sign-in")
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    b.post("/sign-in", {"email": person.email, "password": PASSWORD})
    with client.session_transaction() as s:
        assert "planted" not in s
        assert "_user_id" in s


def test_idle_timeout_signs_out(app, as_user, person):
    worker = as_user(person)
    assert worker.get("/returns").status_code == 200
    with worker.client.session_transaction() as s:
        s["last_active"] = time.time() - app.permanent_session_lifetime.total_seconds() - 5
    r = worker.get("/returns")
    assert r.status_code == 302 and "/sign-in" in r.headers["Location"]
    assert worker.get("/returns").status_code == 302


def _session_cookie_set(response) -> bool:
    return any(c.startswith("homeward_session=") for c in response.headers.getlist("Set-Cookie"))


def test_the_session_cookie_is_rewritten_once_a_minute_not_on_every_request(app, as_user, person):
    worker = as_user(person)
    worker.get("/returns")
    # Within the minute: the signed cookie is left as it is (it was 5% of a sync push's work).
    assert not _session_cookie_set(worker.get("/returns"))
    with worker.client.session_transaction() as s:
        s["last_active"] = time.time() - 61
    # A minute on: rewritten, with the activity and so a fresh expiry, and still signed in.
    response = worker.get("/returns")
    assert response.status_code == 200 and _session_cookie_set(response)
    with worker.client.session_transaction() as s:
        assert time.time() - s["last_active"] < 5


def test_sign_out_everywhere_ends_other_sessions(as_user, person):
    phone = as_user(person)
    laptop = as_user(person)
    assert phone.get("/returns").status_code == 200
    assert laptop.post("/account/sign-out-everywhere").status_code == 302
    assert phone.get("/returns").status_code == 302


def test_sign_out(as_user, person):
    worker = as_user(person)
    assert worker.post("/sign-out").status_code == 302
    assert worker.get("/returns").status_code == 302


def test_post_without_csrf_token_is_refused(as_user, person):
    worker = as_user(person)
    r = worker.raw_post("/sign-out", data={})
    assert r.status_code == 400
    r = worker.raw_post("/account/sign-out-everywhere", data={"csrf_token": "forged"})
    assert r.status_code == 400


def test_csrf_header_is_accepted_for_htmx(as_user):
    interview = factories.interview()
    db.session.commit()
    worker = as_user(interview.allocated_to)
    r = worker.raw_post(
        f"/interviews/{interview.id}/sections/why",
        data={"why_details": "hdr"},
        headers={"X-CSRFToken": worker.csrf, "HX-Request": "true"},
    )
    assert r.status_code == 302 or r.status_code == 200


def test_open_redirect_is_ignored(browser, person):
    browser.get("/sign-in")
    r = browser.post(
        "/sign-in?next=//evil.example/x", {"email": person.email, "password": PASSWORD}
    )
    assert r.status_code == 302 and r.headers["Location"] == "/"


def _manager_and_child():
    """A manager and a child of their authority."""
    manager = factories.manager()
    child = factories.child(manager.organisation, first_name="Marigold")
    db.session.commit()
    return manager, child


def test_security_headers_and_no_store(as_user):
    manager, child = _manager_and_child()
    r = as_user(manager).get(f"/children/{child.id}")
    assert r.status_code == 200
    h = r.headers
    assert "script-src 'self'" in h["Content-Security-Policy"]
    assert "unsafe-inline" not in h["Content-Security-Policy"]
    assert h["Cache-Control"] == "no-store"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert "HX-Request" in h.get("Vary", "")
    cookie = r.headers.get("Set-Cookie", "")
    assert child.first_name not in cookie


def test_production_refuses_to_start_without_secret_key(tmp_path):
    import pytest

    from webapp import create_app
    from webapp.config import ConfigError

    with pytest.raises(ConfigError):
        create_app({"INSTANCE_PATH": str(tmp_path)}, environ={"HOMEWARD_ENV": "production"})


def test_no_inline_script_or_style_in_pages(as_user):
    import re

    boss, child = _manager_and_child()
    manager = as_user(boss)
    for url in ("/manage/", f"/children/{child.id}", "/children/"):
        body = manager.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert " style=" not in body and "<style" not in body, url


def test_oversized_bodies_are_refused_before_they_are_read(browser):
    r = browser.raw_post("/sign-in", data={"email": "x" * (6 * 1024 * 1024)})
    assert r.status_code == 413


def test_the_address_allowance_is_shared_by_servers_through_redis(database, instance_dir):
    """HOMEWARD_RATELIMIT_STORAGE_URI=redis://...: failures seen by one server count on the next
    (here a second app started after the first: nothing is left in process memory)."""
    import os
    import uuid

    import pytest
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis is not running at 127.0.0.1:6379 (.ci/run starts it)")
        pytest.skip("Redis is not running on this machine")

    from webapp import create_app

    db_url, _ = database
    # An address of this test's own: the store outlives the test, and other tests share it.
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    settings = {
        "SQLALCHEMY_DATABASE_URI": db_url,
        "INSTANCE_PATH": str(instance_dir),
        "HOMEWARD_ENV": "testing",
        "TESTING": True,
        "RATELIMIT_STORAGE_URI": url,
        "HOMEWARD_SIGNIN_RATE_LIMIT": "2 per minute",
    }

    def server():
        return create_app(dict(settings), environ={"HOMEWARD_INSTANCE_PATH": str(instance_dir)})

    first = server()
    with first.app_context():
        # Whoever signs in on the second server (the servers share the database).
        email = _committed(factories.worker()).email
        b = Browser(first.test_client())
        b.get("/sign-in")
        for guess in ["a@x.test", "b@x.test"]:
            assert sign_in(b, guess, "wrong-password-1", address).status_code in (401, 429)
        db.session.remove()
    second = server()
    with second.app_context():
        b = Browser(second.test_client())
        b.get("/sign-in")
        r = sign_in(b, email, PASSWORD, address)
        assert r.status_code == 429
        assert "from your network" in r.get_data(as_text=True)
        db.session.remove()
        db.engine.dispose()
    store = redis.Redis.from_url(url)
    keys = store.keys(f"LIMITS:*/{address}/*")
    assert keys
    store.delete(*keys)
