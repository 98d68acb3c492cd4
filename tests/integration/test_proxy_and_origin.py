"""Production over HTTPS behind a reverse proxy: the origin check, the referrer policy, the
trusted proxy (X-Forwarded-*) and owner-only instance files.

Requests are made as Chromium makes them: an Origin header on every POST and, under a strict
referrer policy, no Referer. The production app is built from a production environment (env
secrets and keys, HOMEWARD_ENV=production), the way `homeward serve` builds it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from tests import factories

SITE = "https://homeward.example"
EVIL = "https://evil.example"
PROXY = "10.0.0.5"
CLIENT = "203.0.113.7"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _production_environ(instance_dir: Path) -> dict:
    keys = json.loads((instance_dir / "data-keys.json").read_text())
    return {
        "HOMEWARD_ENV": "production",
        "SECRET_KEY": "test-only-" + "s" * 40,
        "HOMEWARD_DATA_KEYS": ",".join(f"{kid}:{key}" for kid, key in keys["keys"].items()),
        "HOMEWARD_ACTIVE_KEY_ID": keys["active"],
    }


@pytest.fixture
def make_app(database, instance_dir):
    """make_app(env, **environ): the app as create_app builds it from that environment."""
    from webapp import create_app
    from webapp.extensions import db

    made = []

    def make(env: str = "testing", **environ):
        url, _ = database
        base = {
            "HOMEWARD_ENV": env,
            "HOMEWARD_INSTANCE_PATH": str(instance_dir),
            "HOMEWARD_DISPATCHER": "off",
        }
        if env == "production":
            base.update(_production_environ(instance_dir))
        base.update(environ)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True}, environ=base)
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def person(app):
    """A worker who signs in with the factories' password, committed to the test's database
    (which the apps of make_app share)."""
    from webapp.extensions import db

    worker = factories.worker()
    db.session.commit()
    return worker


class Visitor:
    """One browser on `site`; `headers` go on every request (e.g. what a proxy adds)."""

    def __init__(self, app, site=SITE, remote_addr="127.0.0.1", headers=None, origin=None):
        self.app = app
        self.site = site
        self.origin = origin or site  # what the browser's address bar shows
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = remote_addr
        self.headers = dict(headers or {})
        self.csrf = None

    def get(self, path):
        response = self.client.get(
            path, base_url=self.site, headers=self.headers, follow_redirects=True
        )
        match = CSRF_META.search(response.get_data(as_text=True))
        if match:
            self.csrf = match.group(1)
        return response

    def post(self, path, data=None, *, origin="self", **headers):
        """A form POST as Chromium sends it: Origin, Sec-Fetch-Site, no Referer."""
        if self.csrf is None:
            self.get("/sign-in")
        sent = {**self.headers, **_origin_headers(self.origin, origin), **headers}
        data = {"csrf_token": self.csrf, **(data or {})}
        return self.client.post(path, data=data, base_url=self.site, headers=sent)

    def api(self, method, path, body, *, origin="self", **headers):
        sent = {
            **self.headers,
            **_origin_headers(self.origin, origin),
            "X-CSRFToken": self.csrf,
            **headers,
        }
        return self.client.open(path, method=method, json=body, base_url=self.site, headers=sent)

    def sign_in(self, email):
        self.get("/sign-in")
        response = self.post("/sign-in", {"email": email, "password": factories.PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
        self.get(response.headers["Location"])  # the new session's CSRF token
        return response


def _origin_headers(site: str, origin: str | None) -> dict:
    if origin is None:
        return {}
    if origin == "self":
        return {"Origin": site, "Sec-Fetch-Site": "same-origin"}
    return {"Origin": origin, "Sec-Fetch-Site": "cross-site"}


def _subscription() -> dict:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {
        "endpoint": "https://fcm.googleapis.com/fcm/send/test-" + b64(os.urandom(12)),
        "keys": {"p256dh": b64(point), "auth": b64(os.urandom(16))},
    }


def _latest_audit(app, action: str):
    from webapp.audit import AuditEvent
    from webapp.extensions import db

    with app.app_context():
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
        ).first()


# --- HTTPS in production -------------------------------------------------------------------------


def test_sign_in_over_https_in_production_needs_no_referer(make_app, person):
    """The blocker: Chromium sends no Referer under the app's policy; sign-in must still work."""
    app = make_app("production")
    visitor = Visitor(app)
    response = visitor.sign_in(person.email)
    assert "/sign-in" not in response.headers["Location"]
    cookie = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("homeward_session=") and "Secure" in c for c in cookie)
    # A form and a JSON call of the signed-in app, still with no Referer.
    assert visitor.api("POST", "/api/v1/push/subscriptions", _subscription()).status_code == 201


def test_referrer_policy_keeps_urls_on_this_site(make_app):
    response = Visitor(make_app("production")).get("/sign-in")
    # Same-origin requests carry the Referer (a second origin signal); other sites get nothing.
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


# --- the origin check ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["testing", "production"])
def test_cross_site_form_post_is_refused_even_with_a_valid_token(make_app, person, env):
    site = SITE if env == "production" else "http://localhost"
    visitor = Visitor(make_app(env), site=site)
    visitor.get("/sign-in")
    response = visitor.post(
        "/sign-in", {"email": person.email, "password": factories.PASSWORD}, origin=EVIL
    )
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert _latest_audit(visitor.app, "sign_in") is None


@pytest.mark.parametrize("env", ["testing", "production"])
def test_cross_site_api_call_is_refused_in_json(make_app, person, env):
    site = SITE if env == "production" else "http://localhost"
    visitor = Visitor(make_app(env), site=site)
    visitor.sign_in(person.email)
    response = visitor.api("POST", "/api/v1/push/subscriptions", _subscription(), origin=EVIL)
    assert response.status_code == 400
    assert response.is_json
    assert response.json["error"] == "csrf_failed"
    assert "did not come from this site" in response.json["message"]
    assert _latest_audit(visitor.app, "subscribe") is None


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        # Origin decides when it is a real origin.
        ({"Origin": SITE}, True),
        ({"Origin": SITE + ":443"}, True),  # default port spelled out
        ({"Origin": "http://homeward.example"}, False),  # the same host over plain http
        ({"Origin": "https://homeward.example:8443"}, False),
        ({"Origin": "https://sub.homeward.example"}, False),
        # "null" (sandboxed frames, privacy redirects) proves nothing: look further.
        ({"Origin": "null"}, False),
        ({"Origin": "null", "Sec-Fetch-Site": "same-origin"}, True),
        ({"Origin": "null", "Referer": SITE + "/sign-in"}, True),
        ({"Origin": "null", "Referer": EVIL + "/"}, False),
        # No Origin: the Referer, else Sec-Fetch-Site.
        ({"Referer": SITE + "/sign-in"}, True),
        ({"Referer": EVIL + "/page"}, False),
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        # Nothing at all: not a browser, so not cross-site forgery; the CSRF token still counts.
        ({}, True),
    ],
)
def test_origin_evidence(make_app, person, headers, accepted):
    visitor = Visitor(make_app("production"))
    visitor.get("/sign-in")
    response = visitor.post(
        "/sign-in", {"email": person.email, "password": factories.PASSWORD}, origin=None, **headers
    )
    assert (response.status_code == 302) is accepted, response.get_data(as_text=True)[:300]
    if not accepted:
        assert response.status_code == 400


def test_the_token_is_still_required_from_this_site(make_app, person):
    visitor = Visitor(make_app("production"))
    visitor.get("/sign-in")
    visitor.csrf = "not-the-token"
    response = visitor.post("/sign-in", {"email": person.email, "password": factories.PASSWORD})
    assert response.status_code == 400


# --- the trusted proxy ---------------------------------------------------------------------------

FORWARDED = {
    "X-Forwarded-For": CLIENT,
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "homeward.example",
    "X-Forwarded-Port": "443",
}


def test_forwarded_headers_from_the_trusted_proxy_are_used(make_app, person):
    app = make_app("production", HOMEWARD_TRUSTED_PROXIES=f"192.0.2.0/24, {PROXY}")
    # The proxy talks plain http to the app; the browser's origin is the proxy's https one.
    visitor = Visitor(
        app, site="http://127.0.0.1:5000", remote_addr=PROXY, headers=FORWARDED, origin=SITE
    )
    # sign_in passes the origin check only if the app saw https://homeward.example, as sent.
    visitor.sign_in(person.email)
    assert _latest_audit(app, "sign_in").ip == CLIENT


def test_forwarded_headers_from_anyone_else_are_ignored(make_app, person):
    app = make_app("testing", HOMEWARD_TRUSTED_PROXIES=PROXY)
    visitor = Visitor(
        app,
        site="http://localhost",
        remote_addr="198.51.100.9",
        headers={"X-Forwarded-For": CLIENT},
    )
    visitor.sign_in(person.email)
    assert _latest_audit(app, "sign_in").ip == "198.51.100.9"


def test_a_direct_client_cannot_claim_https_or_another_host(make_app, person):
    # Untrusted: X-Forwarded-Proto/Host are ignored, so the request is http://localhost and an
    # Origin of the forwarded site does not match it.
    app = make_app("testing", HOMEWARD_TRUSTED_PROXIES=PROXY)
    visitor = Visitor(app, site="http://localhost", remote_addr="198.51.100.9", headers=FORWARDED)
    visitor.get("/sign-in")
    response = visitor.post(
        "/sign-in",
        {"email": person.email, "password": factories.PASSWORD},
        origin=None,
        Origin=SITE,
    )
    assert response.status_code == 400


def test_no_proxy_is_trusted_by_default(make_app, person):
    app = make_app("testing")
    visitor = Visitor(app, site="http://localhost", remote_addr="127.0.0.1", headers=FORWARDED)
    visitor.sign_in(person.email)
    assert _latest_audit(app, "sign_in").ip == "127.0.0.1"


@pytest.mark.parametrize("value", ["not-an-address", "10.0.0.0/33", "10.0.0.1;10.0.0.2"])
def test_a_bad_trusted_proxy_setting_stops_start_up(make_app, value):
    from webapp.config import ConfigError

    with pytest.raises(ConfigError, match="HOMEWARD_TRUSTED_PROXIES"):
        make_app("testing", HOMEWARD_TRUSTED_PROXIES=value)


# --- owner-only files ----------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # the usual default: files 0644, folders 0755
    yield
    os.umask(old)


def test_a_fresh_instance_is_readable_only_by_its_owner(tmp_path, loose_umask):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from webapp import create_app
    from webapp.extensions import db
    from webapp.push.vapid import generate_keys

    instance = tmp_path / "instance"
    app = create_app({"TESTING": True}, environ={"HOMEWARD_INSTANCE_PATH": str(instance)})
    generate_keys(instance)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        # While a connection is open in WAL mode, SQLite keeps -wal and -shm beside the file.
        with db.engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM users"))
            assert (instance / "homeward.sqlite3-wal").exists()
            files = sorted(p.name for p in instance.iterdir())
            loose = {p.name: oct(_mode(p)) for p in instance.iterdir() if _mode(p) & 0o077}
        db.engine.dispose()
    assert _mode(instance) == 0o700
    assert {"homeward.sqlite3", "secret-key", "data-keys.json", "vapid-private.pem"} <= set(files)
    assert loose == {}


def test_loose_instance_files_are_tightened_at_start(tmp_path, loose_umask):
    from sqlalchemy import text

    from webapp import create_app
    from webapp.extensions import db

    instance = tmp_path / "instance"
    app = create_app({"TESTING": True}, environ={"HOMEWARD_INSTANCE_PATH": str(instance)})
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # SQLite makes the file at the latest here
        db.session.remove()
        db.engine.dispose()
    # As a copy or a restore from backup might leave them.
    instance.chmod(0o755)
    for name in ("homeward.sqlite3", "secret-key", "data-keys.json"):
        (instance / name).chmod(0o644)
    (instance / "homeward.sqlite3-wal").write_bytes(b"")
    (instance / "homeward.sqlite3-wal").chmod(0o644)

    create_app({"TESTING": True}, environ={"HOMEWARD_INSTANCE_PATH": str(instance)})
    assert _mode(instance) == 0o700
    for name in ("homeward.sqlite3", "homeward.sqlite3-wal", "secret-key", "data-keys.json"):
        assert _mode(instance / name) == 0o600, name
