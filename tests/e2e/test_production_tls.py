"""The app as it runs in production: HOMEWARD_ENV=production, secrets and keys from the
environment, `homeward serve` behind a real nginx terminating TLS (a throwaway self-signed
certificate), driven by Debian's Chromium.

Sign in, submit forms, set up field mode, push an edit through sync, register for push: none of
it may meet a refused origin or referrer, every cookie is Secure, HSTS is sent, and the audit
trail holds the client address nginx forwarded, not nginx's own.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    _cli,
    _free_port,
    sign_in,
    start_server,
    stop_server,
)
from tests.e2e.test_journey import record_return_and_allocate
from tests.e2e.test_offline_journey import PASSPHRASE, server_copy, status

NGINX = os.environ.get("HOMEWARD_NGINX", shutil.which("nginx") or "/usr/sbin/nginx")
# nginx replaces whatever X-Forwarded-For a client sent with this, so the audit trail can tell
# the forwarded address from the proxy's own (both would be 127.0.0.1 here).
CLIENT_ADDRESS = "203.0.113.7"
CHILD = "Kai Turner"  # demo data: allocated to worker@demo.test
WORDS = "Said the bus from the depot was the quickest way back"


def nginx_conf(directory: Path, listen: int, app_port: int, forwarded_for: str) -> str:
    """The reverse proxy of docs/DESIGN.md ("Running behind HTTPS"), with its own files here.

    In production forwarded_for is $proxy_add_x_forwarded_for (nginx appends the address it
    saw; the app believes only that last entry, and only from HOMEWARD_TRUSTED_PROXIES).
    """
    user = "user root;" if os.geteuid() == 0 else ""  # workers must reach the temp dirs below
    return f"""
daemon off;
{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;

    server {{
        listen 127.0.0.1:{listen} ssl;
        ssl_certificate {directory}/cert.pem;
        ssl_certificate_key {directory}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        # Above the sync protocol's 4 MiB batch (nginx's default of 1 MiB would refuse it).
        client_max_body_size 5m;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For {forwarded_for};
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Forwarded-Port $server_port;

        location / {{
            proxy_pass http://127.0.0.1:{app_port};
        }}
        # A child's photo: up to 8 MB as chosen on a phone. The profile form reads up to 24 MB
        # so that a larger one is answered with a sentence (and what was typed) from the app.
        location ~ ^/children/[^/]+/profile$ {{
            client_max_body_size 25m;
            proxy_pass http://127.0.0.1:{app_port};
        }}
        location = /api/v1/photos/convert {{
            client_max_body_size 9m;
            proxy_pass http://127.0.0.1:{app_port};
        }}
    }}
}}
"""


def self_signed(directory: Path) -> str:
    """A throwaway certificate for 127.0.0.1 and localhost, valid for a day; returns the
    base64 SHA-256 of its public key, the pin Chromium is told to accept."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "homeward e2e")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def wait_for_https(url: str, proc: subprocess.Popen, log: Path) -> None:
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2, context=insecure)
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log.read_text() if log.exists() else "nginx did not start")
            time.sleep(0.2)


def production_environ(instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    env.pop("DATABASE_URL", None)
    env.update(
        HOMEWARD_ENV="production",
        HOMEWARD_INSTANCE_PATH=str(instance),
        SECRET_KEY=secrets.token_urlsafe(48),
        HOMEWARD_DATA_KEYS="k1:" + base64.b64encode(os.urandom(32)).decode(),
        HOMEWARD_TRUSTED_PROXIES="127.0.0.1",
        # Reminders would be pushed to the real push services, which this machine cannot reach.
        HOMEWARD_DISPATCHER="separate",
    )
    return env


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(NGINX).exists():
        pytest.fail(f"nginx not found at {NGINX}: apt-get install nginx (or set HOMEWARD_NGINX)")
    instance = tmp_path_factory.mktemp("tls-instance")
    env = production_environ(instance)
    _cli(["vapid-keys"], env)  # production refuses to start without it
    _cli(["init-db"], env)
    _cli(["demo-data"], env)
    app_proc, app_url = start_server(instance, env)

    proxy_dir = tmp_path_factory.mktemp("nginx")
    pin = self_signed(proxy_dir)
    listen = _free_port()
    app_port = int(app_url.rsplit(":", 1)[1])
    (proxy_dir / "nginx.conf").write_text(nginx_conf(proxy_dir, listen, app_port, CLIENT_ADDRESS))
    proxy = subprocess.Popen(
        [NGINX, "-p", str(proxy_dir), "-c", str(proxy_dir / "nginx.conf"), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=open(proxy_dir / "stderr.log", "w"),  # noqa: SIM115
    )
    url = f"https://127.0.0.1:{listen}"
    try:
        wait_for_https(url, proxy, proxy_dir / "stderr.log")
        yield {"url": url, "env": env, "pin": pin, "proxy_dir": proxy_dir}
    finally:
        proxy.terminate()
        proxy.wait(10)
        stop_server(app_proc)


def audit_addresses(site) -> dict[str, set[str]]:
    """action -> the client addresses the audit trail recorded for it."""
    from sqlalchemy import select

    from webapp import create_app
    from webapp.audit import AuditEvent
    from webapp.extensions import db

    app = create_app(environ=site["env"])
    with app.app_context():
        found: dict[str, set[str]] = {}
        for action, ip in db.session.execute(select(AuditEvent.action, AuditEvent.ip)):
            found.setdefault(action, set()).add(ip)
        db.engine.dispose()
        return found


@pytest.fixture(scope="module")
def trusting_chromium(browser_type, site):
    """Chromium that accepts the throwaway certificate as valid. ignore_https_errors alone is
    not enough: Chromium still refuses to register a service worker over a certificate error."""
    browser = browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={site['pin']}"],
        headless=True,
    )
    yield browser
    browser.close()


def test_production_behind_tls_proxy(trusting_chromium, site):
    chromium = trusting_chromium
    context = chromium.new_context(base_url=site["url"], ignore_https_errors=True, **PHONE)
    context.set_default_timeout(15_000)
    refused: list[str] = []
    errors: list[str] = []

    def on_response(response):
        # A refused origin or CSRF check answers 400 (403 from anything stricter).
        if response.url.startswith(site["url"]) and response.status in (400, 403):
            refused.append(f"{response.status} {response.request.method} {response.url}")

    context.on("response", on_response)
    manager, worker = context.new_page(), None
    manager.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # Sign in (a form), over https, with the app's own referrer policy.
        first = manager.goto("/sign-in")
        assert first.headers["strict-transport-security"].startswith("max-age=")
        assert first.headers["referrer-policy"] == "same-origin"
        sign_in(manager, "manager@demo.test")

        # More forms: record Leah's return, then allocate her interview.
        manager.get_by_role("link", name="Leah Marsh").first.click()
        record_return_and_allocate(manager, "Sam Okafor")
        assert all(c["secure"] for c in context.cookies()), context.cookies()
        manager.close()

        # The worker, on another phone: field mode set-up, an edit that goes up through sync.
        worker_ctx = chromium.new_context(base_url=site["url"], ignore_https_errors=True, **PHONE)
        worker_ctx.set_default_timeout(15_000)
        worker_ctx.on("response", on_response)
        worker = worker_ctx.new_page()
        worker.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(worker, "worker@demo.test")
        worker.goto("/app/")
        expect(worker.get_by_role("heading", name="Set up field mode")).to_be_visible()
        worker.get_by_label("Offline passphrase").fill(PASSPHRASE)
        worker.get_by_label("Type the passphrase again").fill(PASSPHRASE)
        worker.get_by_role("button", name="Set passphrase").click()
        expect(worker.get_by_role("heading", name="My returns")).to_be_visible()
        expect(status(worker)).to_contain_text("Last synced")
        worker.get_by_role("link", name=CHILD).click()
        worker.get_by_label("In the child's words").fill(WORDS)
        expect(worker.locator("#hw-field-saved")).to_contain_text("Saved on this device")
        expect(status(worker)).not_to_contain_text("not yet sent", timeout=30_000)
        _, content, answers = server_copy(site, CHILD)
        assert content["why_details"] == WORDS
        assert "applied" in answers

        # A push subscription through the app's API, as static/js/push.js sends it (a headless
        # browser has no push service to make a real one).
        worker.goto("/notifications/settings")
        created = worker.evaluate(
            """async (body) => {
                const csrf = document.querySelector('meta[name="csrf-token"]').content;
                const r = await fetch("/api/v1/push/subscriptions", {
                    method: "POST", credentials: "same-origin", cache: "no-store",
                    headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                    body: JSON.stringify(body),
                });
                return [r.status, await r.text()];
            }""",
            _browser_subscription(),
        )
        assert created[0] == 201, created
        assert all(c["secure"] for c in worker_ctx.cookies()), worker_ctx.cookies()
        worker_ctx.close()

        # A carer's photo from a phone camera (about 6 MB) goes through the proxy to the app;
        # one over 8 MB is answered by the app in words, with what was typed kept (nginx's own
        # 413 page would lose it).
        carer_ctx = chromium.new_context(base_url=site["url"], ignore_https_errors=True, **PHONE)
        carer_ctx.set_default_timeout(30_000)
        carer_ctx.on("response", on_response)
        carer = carer_ctx.new_page()
        carer.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(carer, "carer@demo.test")
        carer.get_by_role("link", name="Mia Cole").first.click()
        carer.get_by_role("link", name="Standing profile").first.click()
        carer.get_by_label("Description").fill("Tall, dark curly hair")
        carer.get_by_label("Recent photo").set_input_files(str(_camera_photo(site["proxy_dir"], 6)))
        carer.get_by_role("button", name="Save profile").click()
        expect(carer.get_by_text("Profile saved.")).to_be_visible()
        expect(carer.get_by_alt_text("The current photo of the child")).to_be_visible()
        carer.get_by_label("Description").fill("Tall, dark curly hair, glasses")
        carer.get_by_label("Choose a new photo").set_input_files(
            str(_camera_photo(site["proxy_dir"], 9))
        )
        carer.get_by_role("button", name="Save profile").click()
        expect(carer.locator(".govuk-error-summary")).to_contain_text("larger than 8 MB")
        expect(carer.get_by_label("Description")).to_have_value("Tall, dark curly hair, glasses")
        carer_ctx.close()
    finally:
        context.close()

    assert refused == []
    assert errors == []
    # The audit trail has the address nginx forwarded (X-Forwarded-For), never nginx's own.
    addresses = audit_addresses(site)
    for action in ("sign_in", "return", "allocate", "subscribe"):
        assert addresses.get(action) == {CLIENT_ADDRESS}, (action, addresses)
    # (None: the rows demo-data wrote from the command line, outside any request.)
    assert {ip for ips in addresses.values() for ip in ips} - {None} == {CLIENT_ADDRESS}
    # The sync push went through the proxy, not around it.
    served = (site["proxy_dir"] / "access.log").read_text()
    assert re.search(r'"POST /api/v1/sync[^"]*" 200', served), served[-2000:]


def _camera_photo(directory: Path, megabytes: int) -> Path:
    """A JPEG of about `megabytes` MB, as a phone camera makes them (noise does not compress)."""
    from PIL import Image

    side = 1400
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    path = directory / f"camera-{megabytes}mb.jpg"
    image.save(path, "JPEG", quality=95)
    # Padded to the size wanted after the image's end marker (decoders stop there).
    data = path.read_bytes()
    path.write_bytes(data + b"\0" * max(0, megabytes * 1024 * 1024 - len(data)))
    return path


def _browser_subscription() -> dict:
    """What PushSubscription.toJSON() gives for a Chrome subscription (FCM endpoint)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    return {
        "endpoint": "https://fcm.googleapis.com/fcm/send/e2e-" + b64(os.urandom(12)),
        "expirationTime": None,
        "keys": {"p256dh": b64(point), "auth": b64(os.urandom(16))},
    }
