"""Shared fixtures.

Integration tests run on SQLite. Tests of SQL behaviour (locking, concurrency, migrations,
constraints, NUL bytes, JSON columns, the sync store, raw reads of sealed columns...) carry
`@pytest.mark.both_databases` and run on the local PostgreSQL (the production database) too; the
rest would only repeat on PostgreSQL what SQLite already showed. `--all-databases` (or
HOMEWARD_TEST_ALL_DATABASES=1) runs every database test on both, e.g. before a release.

Each backend gets one template database per test session, built by running the Alembic
migrations and loading the demo data; every test then gets its own fresh copy (a file copy for
SQLite, CREATE DATABASE ... TEMPLATE for PostgreSQL, made ahead by PgCopies), so tests can commit
freely and never see each other's rows. Passwords are hashed at Argon2's lowest cost in the test
processes (pytest_configure).

CSRF protection stays on in tests: the Browser helper reads the token from the page like htmx does.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import threading
import uuid
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get(
    "HOMEWARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEMO_PASSWORD = "homeward-demo"


def _pg_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(_libpq(PG_ADMIN_URL), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _pg_exec(sql: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(sql)


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def _make_app(url: str, instance: Path):
    from webapp import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance),
            "HOMEWARD_ENV": "testing",
            "TESTING": True,
            # Subscriptions point at the local fake push service (tests/support/fake_push.py).
            "HOMEWARD_PUSH_ALLOW_LOCAL": True,
        },
        environ={"HOMEWARD_INSTANCE_PATH": str(instance)},
    )


def _build_template(url: str, instance: Path) -> dict:
    from flask_migrate import upgrade

    from webapp import demo
    from webapp.extensions import db

    app = _make_app(url, instance)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        objs = demo.load(DEMO_PASSWORD)
        _enrol_demo_second_factors()
        ids = {name: obj.id for name, obj in objs.items()}
        db.session.remove()
        db.engine.dispose()
    return ids


def _enrol_demo_second_factors() -> None:
    """The demo accounts whose role requires a second factor, enrolled as tests/factories.py
    enrols its own: Browser.login reads the secret back. (`make run` leaves them to set one up
    at their first sign-in, as a real manager would: docs/operations/sign-in.md.)"""
    from sqlalchemy import select

    from tests.factories import enrol_second_factor
    from webapp.accounts.models import User
    from webapp.accounts.second_factor import REQUIRED_ROLES
    from webapp.extensions import db

    for person in db.session.scalars(select(User).where(User.role.in_(REQUIRED_ROLES))):
        enrol_second_factor(person)
    db.session.commit()


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    # One instance folder (secret key, data key) per session: the template's sealed values
    # must stay readable by every test's app.
    from webapp.push.vapid import generate_keys

    path = tmp_path_factory.mktemp("instance")
    generate_keys(path)  # push on, as in production
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, instance_dir):
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    ids = _build_template(f"sqlite:///{path}", instance_dir)
    return path, ids


@pytest.fixture(scope="session")
def pg_template(instance_dir):
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable at " + PG_ADMIN_URL + " (CI must test it)")
        pytest.skip("PostgreSQL is not running on this machine")
    name = f"hw_tpl_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    ids = _build_template(_pg_url(name), instance_dir)
    yield name, ids
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PgCopies:
    """Fresh copies of the PostgreSQL template, made ahead by a thread of their own and dropped
    by it afterwards. CREATE DATABASE ... TEMPLATE and DROP DATABASE are mostly the server
    writing and syncing files (0.25-0.4 s and 0.1-0.2 s here); a test waited for both, nearly
    400 times a run. Now it takes a copy made while the test before it ran. A copy is never
    given twice, and every one is dropped by the end of the session."""

    AHEAD = 2

    def __init__(self, template: str):
        self.template = template
        self._ready: queue.Queue[str] = queue.Queue()
        self._to_drop: queue.Queue[str] = queue.Queue()
        self._wake = threading.Event()
        self._stopping = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pg-copies", daemon=True)
        self._thread.start()

    def take(self) -> str:
        self._wake.set()
        while True:
            try:
                return self._ready.get(timeout=1)
            except queue.Empty:
                if self._error is not None:
                    raise RuntimeError("copying the template database failed") from self._error
                if not self._thread.is_alive():
                    raise RuntimeError("the thread copying the template database stopped")

    def give_back(self, name: str) -> None:
        self._to_drop.put(name)
        self._wake.set()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=120)
        for pending in (self._ready, self._to_drop):
            while not pending.empty():
                _drop_database(pending.get_nowait())

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._wake.clear()  # before looking: a take or give_back from now on wakes it
                # Drops first: they free the server's disk, and a copy is only wanted once a
                # test has taken one.
                while not self._to_drop.empty():
                    _drop_database(self._to_drop.get_nowait())
                if self._ready.qsize() < self.AHEAD:
                    name = f"hw_t_{uuid.uuid4().hex[:12]}"
                    _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                    self._ready.put(name)
                else:
                    self._wake.wait(timeout=1)
        except BaseException as exc:  # the test waiting in take() raises it
            self._error = exc


def _drop_database(name: str) -> None:
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_copies(pg_template):
    copies = PgCopies(pg_template[0])
    yield copies
    copies.close()


BOTH_DATABASES = "both_databases"

# The production Argon2 parameters (webapp/accounts/service.py), for the tests about them.
PRODUCTION_HASHER = None


def pytest_configure(config):
    # Passwords hashed at the lowest Argon2 cost in the test processes (their in-process apps,
    # the template's demo accounts, tests/factories.py): each sign-in through the form cost a
    # 46 MiB, two-pass verification, about 60 ms of CPU, over a thousand times a run. The same
    # code runs (hash, verify, needs-rehash), on cheaper parameters; servers the tests start
    # as processes (tests/e2e) keep the production ones. Django's documentation advises the
    # same for test suites. The tests of the parameters themselves use PRODUCTION_HASHER.
    global PRODUCTION_HASHER
    from argon2 import PasswordHasher

    from webapp.accounts import service

    if PRODUCTION_HASHER is None:
        PRODUCTION_HASHER = service._hasher
    service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_addoption(parser):
    parser.addoption(
        "--all-databases",
        action="store_true",
        help="run every database test on PostgreSQL too, not only those marked both_databases",
    )


def _all_databases(config) -> bool:
    return config.getoption("--all-databases") or os.environ.get(
        "HOMEWARD_TEST_ALL_DATABASES", ""
    ) not in ("", "0")


def pytest_collection_modifyitems(config, items):
    # The backend fixture offers both databases; the PostgreSQL copy of a test is kept only when
    # the test is about SQL behaviour. Deselecting (not skipping) keeps the count honest: a skip
    # would read as "could not run here". Tests that pin their backend themselves (a module's
    # own `backend` fixture, an indirect parametrize) have no such choice and are left alone.
    if _all_databases(config):
        return
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("backend") == "postgresql" and not item.get_closest_marker(BOTH_DATABASES):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def database(request, backend, tmp_path):
    """(url, ids) of a fresh database holding the demo data."""
    if backend == "sqlite":
        template, ids = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}", ids
        return
    _, ids = request.getfixturevalue("pg_template")
    copies = request.getfixturevalue("pg_copies")
    name = copies.take()
    yield _pg_url(name), ids
    copies.give_back(name)


@pytest.fixture
def app(database, instance_dir):
    url, _ = database
    app = _make_app(url, instance_dir)
    with app.app_context():
        yield app
        from webapp.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ids(database) -> dict:
    return database[1]


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """A signed-in person, through the real HTTP stack of the Flask test client."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    def _remember_token(self, response):
        if response.mimetype != "text/html" or "Content-Encoding" in response.headers:
            return response
        match = CSRF_META.search(response.get_data(as_text=True))
        if match:
            self.csrf = match.group(1)
        return response

    def _fresh_context(self):
        # The test holds an app context open (for db.session); without a fresh one per request
        # Flask would reuse it and `g` (Flask-Login's user, Flask-WTF's token) would leak
        # between requests in a way no real browser sees.
        return self.client.application.app_context()

    def get(self, url, **kw):
        with self._fresh_context():
            return self._remember_token(self.client.get(url, **kw))

    def post(self, url, data=None, **kw):
        if self.csrf is None:
            self.get("/sign-in")
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf)
        with self._fresh_context():
            return self._remember_token(self.client.post(url, data=data, **kw))

    def api(self, method, url, json=None, csrf=True):
        """A JSON API call as the app's scripts make it (CSRF token in the X-CSRFToken header)."""
        if csrf and self.csrf is None:
            self.get("/sign-in")
        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        with self._fresh_context():
            return self.client.open(url, method=method, json=json, headers=headers)

    def raw_post(self, url, **kw):
        """A POST exactly as given: no CSRF token added."""
        with self._fresh_context():
            return self.client.post(url, **kw)

    def login(self, email, password=DEMO_PASSWORD):
        self.get("/sign-in")
        response = self.post("/sign-in", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        step = response.headers["Location"]
        if step.startswith(("/sign-in/code", "/sign-in/set-up")):
            # The second factor: the test plays the person's phone, with the secret read from
            # the database through the app (an enrolment begun by the GET, or the one in use).
            self.get(step)
            response = self.post(step, {"code": self.second_factor_code(email)})
            if step.startswith("/sign-in/set-up"):
                assert response.status_code == 200, response.get_data(as_text=True)[:500]
            else:
                assert response.status_code == 302, response.get_data(as_text=True)[:500]
        # Sign-in starts a new session, so read the new CSRF token from the landing page.
        self.get("/", follow_redirects=True)
        return self

    def second_factor_code(self, email):
        from tests.factories import code_for_account

        with self._fresh_context():
            return code_for_account(email)


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def as_user(app):
    """as_user("worker@demo.test") -> a signed-in Browser; as_user(user) for a User made by
    tests/factories.py (commit it first: the request has a session of its own)."""

    def make(who):
        if isinstance(who, str):
            return Browser(app.test_client()).login(who)
        from tests.factories import PASSWORD

        return Browser(app.test_client()).login(who.email, PASSWORD)

    return make


@pytest.fixture
def me(app):
    """A return interview worker in a team of an authority of their own (tests/factories.py),
    committed: the person whose phone or browser a test drives."""
    from tests.factories import worker
    from webapp.extensions import db

    person = worker()
    db.session.commit()
    return person
