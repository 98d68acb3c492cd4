"""Web Push without the internet: real sends to a local fake push service that verifies VAPID and
decrypts the body as the browser would, plus the VAPID key file rules."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

import webapp.push.client as client
from tests.support.fake_push import FakePushService, Reply
from webapp.push.client import (
    TEST_ENDPOINTS,
    EndpointPolicy,
    Message,
    SendOutcome,
    Subscription,
    parse_retry_after,
    send,
    topic_for,
)
from webapp.push.vapid import (
    ENV_PRIVATE_KEY,
    ENV_SUBJECT,
    KEY_FILENAME,
    VapidKeyError,
    VapidKeys,
    generate_keys,
    load_keys,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def fake():
    with FakePushService() as service:
        yield service


@pytest.fixture
def keys(tmp_path) -> VapidKeys:
    generate_keys(tmp_path)
    return load_keys({}, tmp_path, required=True)


@pytest.fixture
def browser(fake, keys):
    return fake.browser(application_server_key=keys.public_key_b64url)


@pytest.fixture
def sub(browser) -> Subscription:
    return Subscription.from_browser_json(browser.subscription_json(), policy=TEST_ENDPOINTS)


def message(**kw) -> Message:
    base = dict(
        title="Return interview due",
        body="A return interview is due in 6 hours.",
        ref="rem-3f2a9c",
        url="/interviews/3f2a9c",
        topic="rhi_66h:3f2a9c",
        urgency="high",
        ttl_seconds=6 * 3600,
    )
    base.update(kw)
    return Message(**base)


# --- A real send -------------------------------------------------------------------------------


def test_send_is_verified_decrypted_and_carries_ttl_urgency_and_topic(fake, browser, sub, keys):
    m = message()
    before = time.time()
    outcome = send(sub, m, keys, timeout=5)
    assert outcome == SendOutcome("sent", 201, None, "HTTP 201 Created")
    [d] = fake.deliveries_for(browser.token)
    assert d.payload == {
        "title": "Return interview due",
        "body": "A return interview is due in 6 hours.",
        "ref": "rem-3f2a9c",
        "url": "/interviews/3f2a9c",
    }
    assert json.loads(m.payload_json()) == d.payload
    assert d.ttl == 6 * 3600 > 0
    assert d.urgency == "high"
    assert d.topic == topic_for("rhi_66h:3f2a9c")
    assert len(d.topic) <= 32 and set(d.topic) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    # The fake only records what passed its VAPID check; these are the verified claims.
    assert d.claims["aud"] == fake.origin
    assert d.claims["sub"] == "mailto:homeward@localhost"
    assert before + 11 * 3600 < d.claims["exp"] <= time.time() + 24 * 3600
    assert d.headers["authorization"].startswith("vapid t=")
    assert d.headers["content-encoding"] == "aes128gcm"


def test_a_valid_topic_is_sent_as_is_and_none_sends_no_topic(fake, browser, sub, keys):
    assert send(sub, message(topic="rhi-66h-abc"), keys, timeout=5).status == "sent"
    assert send(sub, message(topic=None, urgency="normal"), keys, timeout=5).status == "sent"
    first, second = fake.deliveries_for(browser.token)
    assert first.topic == "rhi-66h-abc"
    assert second.topic is None and second.urgency == "normal"


def test_claims_are_fresh_each_call(keys, monkeypatch):
    # Two push services, two audiences: a claims dict reused between calls would carry the first
    # aud to the second service, which must reject it.
    seen = []
    real = client.webpush

    def spy(**kw):
        seen.append(kw["vapid_claims"])
        return real(**kw)

    monkeypatch.setattr(client, "webpush", spy)
    with FakePushService() as one, FakePushService() as two:
        for service in (one, two, one):
            b = service.browser(keys.public_key_b64url)
            s = Subscription.from_browser_json(b.subscription_json(), policy=TEST_ENDPOINTS)
            assert send(s, message(), keys, timeout=5).status == "sent"
        assert len(one.deliveries) == 2 and len(two.deliveries) == 1
        assert two.deliveries[0].claims["aud"] == two.origin
        assert [c["aud"] for c in seen] == [one.origin, two.origin, one.origin]
    assert len({id(c) for c in seen}) == 3


# --- What the push service answers ---------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_404_and_410_mean_the_subscription_is_gone(fake, browser, sub, keys, status):
    fake.script(browser.token, [status])
    outcome = send(sub, message(), keys, timeout=5)
    assert (outcome.status, outcome.http_status) == ("gone", status)
    assert outcome.delete_subscription
    assert fake.deliveries_for(browser.token) == []


def test_an_unsubscribed_browser_is_gone(fake, browser, sub, keys):
    browser.unsubscribe()
    assert send(sub, message(), keys, timeout=5).status == "gone"


def test_429_is_rate_limited_with_retry_after_then_sends(fake, browser, sub, keys):
    fake.script(browser.token, [Reply(429, {"Retry-After": "2"}), 201])
    first = send(sub, message(), keys, timeout=5)
    assert (first.status, first.http_status, first.retry_after) == ("rate_limited", 429, 2.0)
    assert send(sub, message(), keys, timeout=5).status == "sent"
    assert len(fake.deliveries_for(browser.token)) == 1


def test_429_with_an_http_date(fake, browser, sub, keys):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    fake.script(browser.token, [Reply(429, {"Retry-After": when})])
    outcome = send(sub, message(), keys, timeout=5)
    assert outcome.status == "rate_limited"
    assert 100 < outcome.retry_after <= 120


def test_5xx_is_retry_until_it_works(fake, browser, sub, keys):
    fake.script(browser.token, [500, Reply(503, {"Retry-After": "30"}), 201])
    a, b, c = (send(sub, message(), keys, timeout=5) for _ in range(3))
    assert (a.status, a.http_status, a.retry_after) == ("retry", 500, None)
    assert (b.status, b.http_status, b.retry_after) == ("retry", 503, 30.0)
    assert c.status == "sent"
    statuses = [a.status for a in fake.attempts if a.token == browser.token]
    assert statuses == [500, 503, 201]


def test_a_hung_push_service_is_retry_after_the_timeout(fake, browser, sub, keys):
    fake.script(browser.token, "hang")
    start = time.monotonic()
    outcome = send(sub, message(), keys, timeout=1)
    elapsed = time.monotonic() - start
    assert outcome.status == "retry"
    assert outcome.http_status is None
    assert "1 s" in outcome.detail
    assert elapsed < 4  # the fake hangs for 5 s
    assert fake.deliveries_for(browser.token) == []


def test_nothing_listening_is_retry(keys, browser):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = browser.subscription_json()
    data["endpoint"] = f"http://127.0.0.1:{port}/push/x"
    dead = Subscription.from_browser_json(data, policy=TEST_ENDPOINTS)
    assert send(dead, message(), keys, timeout=2).status == "retry"


@pytest.mark.parametrize("status", [400, 413])
def test_other_4xx_fail(fake, browser, sub, keys, status):
    fake.script(browser.token, [status])
    outcome = send(sub, message(), keys, timeout=5)
    assert (outcome.status, outcome.http_status) == ("failed", status)
    assert not outcome.delete_subscription


def test_a_different_vapid_key_is_refused_403_and_reported_without_payload(fake, keys, tmp_path):
    other_dir = tmp_path / "other"
    generate_keys(other_dir)
    other = load_keys({}, other_dir, required=True)
    b = fake.browser(application_server_key=keys.public_key_b64url)
    s = Subscription.from_browser_json(b.subscription_json(), policy=TEST_ENDPOINTS)
    outcome = send(s, message(), other, timeout=5)
    assert (outcome.status, outcome.http_status) == ("failed", 403)
    assert "applicationServerKey" in outcome.detail
    assert "return interview" not in outcome.detail.lower()


# --- The fake really verifies (else the tests above would prove nothing) -----------------------


def _post(url: str, auth: str, *, ttl: str | None = "60") -> requests.Response:
    headers = {"Authorization": auth, "Content-Encoding": "aes128gcm"}
    if ttl is not None:
        headers["TTL"] = ttl
    return requests.post(url, data=b"x" * 100, headers=headers, timeout=5)


def _auth(key: ec.EllipticCurvePrivateKey, claims: dict) -> str:
    return Vapid(private_key=key).sign(claims)["Authorization"]


def test_fake_rejects_bad_vapid(fake, browser, keys):
    now = int(time.time())
    good = {"sub": "mailto:a@b.example", "aud": fake.origin, "exp": now + 3600}
    url = browser.endpoint
    assert _post(url, "").status_code == 401
    assert _post(url, "WebPush abc").status_code == 401
    assert (
        _post(url, _auth(keys.private_key, {**good, "aud": "http://127.0.0.1:1"})).status_code
        == 401
    )
    assert _post(url, _auth(keys.private_key, {**good, "exp": now - 10})).status_code == 401
    assert _post(url, _auth(keys.private_key, {**good, "exp": now + 25 * 3600})).status_code == 401
    # A signature that does not verify with k: swap in another key's k.
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = _auth(keys.private_key, good).split("t=")[1].split(",")[0]
    k = b64(
        stranger.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    assert _post(url, f"vapid t={token}, k={k}").status_code == 401
    # Valid VAPID, but no TTL header, then an undecryptable body.
    assert _post(url, _auth(keys.private_key, good), ttl=None).status_code == 400
    assert _post(url, _auth(keys.private_key, good)).status_code == 400
    assert fake.deliveries_for(browser.token) == []


def test_pywebpush_defaults_would_be_caught(fake, browser, keys):
    # Sanity check of the pitfall this client guards against: ttl defaults to 0.
    claims = {"sub": keys.subject}
    webpush(
        browser.subscription_json(),
        data="{}",
        vapid_private_key=Vapid(private_key=keys.private_key),
        vapid_claims=claims,
        timeout=5,
    )
    assert fake.deliveries_for(browser.token)[-1].ttl == 0
    assert set(claims) == {"sub", "aud", "exp"}  # and it wrote into our dict
    with pytest.raises(WebPushException):
        webpush(
            browser.subscription_json(),
            data="{}",
            vapid_private_key=Vapid(private_key=keys.private_key),
            vapid_claims={"sub": keys.subject, "aud": "http://elsewhere.example"},
            timeout=5,
        )


# --- Messages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"ttl_seconds": 0},
        {"ttl_seconds": -5},
        {"ttl_seconds": 29 * 24 * 3600},
        {"urgency": "urgent"},
        {"url": "https://evil.example/"},
        {"url": "//evil.example/"},
        {"url": "interviews/1"},
        {"ref": "Amara Okafor"},
        {"ref": ""},
        {"body": "x" * 3000},
    ],
)
def test_message_rejects(kw):
    with pytest.raises(ValueError):
        message(**kw)


def test_payload_is_compact_json_of_four_fields():
    m = message()
    assert m.payload_json() == (
        '{"title":"Return interview due","body":"A return interview is due in 6 hours.",'
        '"ref":"rem-3f2a9c","url":"/interviews/3f2a9c"}'
    )


def test_topic_for():
    assert topic_for("abc_DEF-1") == "abc_DEF-1"
    hashed = topic_for("rhi_24h:0b9e6c1e-4a7f-4f0e-9d57-3f1c1e2a7b11")
    assert len(hashed) == 32 and topic_for("rhi_24h:0b9e6c1e-4a7f-4f0e-9d57-3f1c1e2a7b11") == hashed
    assert len(topic_for("x" * 33)) == 32


def test_parse_retry_after():
    now = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Mon, 12 Jan 2026 09:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 12 Jan 2026 08:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# --- Subscriptions from the browser ------------------------------------------------------------


def _browser_json(endpoint="https://fcm.googleapis.com/fcm/send/abc:def", p256dh=None, auth=None):
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {
            "p256dh": b64(point) if p256dh is None else p256dh,
            "auth": b64(os.urandom(16)) if auth is None else auth,
        },
    }


def test_from_browser_json_accepts_real_push_services_and_strips_padding():
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGx",
        "https://wns2-by3p.notify.windows.com/w/?token=BQY",
    ):
        d = _browser_json(endpoint)
        d["keys"]["auth"] += "=="
        s = Subscription.from_browser_json(d)
        assert s.endpoint == endpoint and not s.auth.endswith("=")
        assert len(base64.urlsafe_b64decode(s.p256dh + "=")) == 65


@pytest.mark.parametrize(
    ("change", "message_part"),
    [
        ({"p256dh": b64(b"\x04" + b"\x01" * 63)}, "65 bytes"),
        ({"p256dh": b64(b"\x04" + b"\x01" * 64)}, "not a P-256"),
        ({"p256dh": "+/+/" * 22}, "base64url"),
        ({"auth": b64(os.urandom(15))}, "16 bytes"),
        ({"auth": b64(os.urandom(17))}, "16 bytes"),
        ({"auth": ""}, "auth is missing"),
        ({"auth": "abc def ghi jkl mno pq"}, "base64url"),
    ],
)
def test_from_browser_json_rejects_bad_keys(change, message_part):
    d = _browser_json(**change)
    with pytest.raises(ValueError, match=message_part):
        Subscription.from_browser_json(d)


@pytest.mark.parametrize(
    ("endpoint", "policy"),
    [
        ("http://fcm.googleapis.com/fcm/send/x", None),
        ("http://127.0.0.1:8000/push/x", None),  # only a test policy allows local http
        ("https://169.254.169.254/latest/meta-data", None),  # not a push service: no SSRF
        ("https://evilfcm.googleapis.com.example/x", None),
        ("https://user:pw@fcm.googleapis.com/fcm/send/x", None),
        ("http://10.0.0.5/push/x", TEST_ENDPOINTS),
        ("ftp://127.0.0.1/x", TEST_ENDPOINTS),
        ("", None),
    ],
)
def test_from_browser_json_rejects_endpoints(endpoint, policy):
    kw = {} if policy is None else {"policy": policy}
    with pytest.raises(ValueError, match="endpoint"):
        Subscription.from_browser_json(_browser_json(endpoint), **kw)


def test_from_browser_json_rejects_missing_parts():
    with pytest.raises(ValueError, match="keys are missing"):
        Subscription.from_browser_json({"endpoint": "https://fcm.googleapis.com/x"})
    with pytest.raises(ValueError):
        Subscription.from_browser_json([])  # type: ignore[arg-type]


def test_an_open_policy_allows_any_https_host():
    s = Subscription.from_browser_json(
        _browser_json("https://push.example.org/x"), policy=EndpointPolicy(https_hosts=None)
    )
    assert s.endpoint == "https://push.example.org/x"


# --- VAPID keys --------------------------------------------------------------------------------


def test_required_and_missing_is_an_error_naming_the_command(tmp_path):
    with pytest.raises(VapidKeyError, match="homeward vapid-keys"):
        load_keys({}, tmp_path, required=True)
    assert not (tmp_path / KEY_FILENAME).exists()  # never generated silently
    assert load_keys({}, tmp_path, required=False) is None
    assert load_keys({}, None, required=False) is None


def test_generate_creates_a_private_p256_pem_and_refuses_to_overwrite(tmp_path):
    path = generate_keys(tmp_path / "instance")
    assert path == tmp_path / "instance" / KEY_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    assert before.startswith(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(VapidKeyError, match="refusing to replace it"):
        generate_keys(tmp_path / "instance")
    assert path.read_bytes() == before
    keys = load_keys({}, tmp_path / "instance", required=True)
    raw = base64.urlsafe_b64decode(keys.public_key_b64url + "=")
    assert len(raw) == 65 and raw[0] == 4 and "=" not in keys.public_key_b64url
    assert isinstance(keys.private_key.curve, ec.SECP256R1)


def test_env_key_as_pem_or_raw_scalar_wins_over_the_file(tmp_path):
    generate_keys(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    scalar = b64(key.private_numbers().private_value.to_bytes(32, "big"))
    from_pem = load_keys({ENV_PRIVATE_KEY: pem}, tmp_path, required=True)
    from_escaped = load_keys({ENV_PRIVATE_KEY: pem.replace("\n", "\\n")}, tmp_path, required=True)
    from_scalar = load_keys({ENV_PRIVATE_KEY: scalar}, tmp_path, required=True)
    from_file = load_keys({}, tmp_path, required=True)
    assert from_pem.public_key_b64url == from_scalar.public_key_b64url
    assert from_escaped.public_key_b64url == from_pem.public_key_b64url
    assert from_file.public_key_b64url != from_pem.public_key_b64url


def test_subject_from_env_and_checked(tmp_path):
    generate_keys(tmp_path)
    keys = load_keys({ENV_SUBJECT: "https://homeward.example.gov.uk"}, tmp_path, required=True)
    assert keys.subject == "https://homeward.example.gov.uk"
    assert load_keys({}, tmp_path, required=True).subject == "mailto:homeward@localhost"
    with pytest.raises(VapidKeyError, match=ENV_SUBJECT):
        load_keys({ENV_SUBJECT: "homeward@example.org"}, tmp_path, required=True)


@pytest.mark.parametrize(
    "value",
    [
        "not a key",
        b64(b"\x01" * 31),
        b64(b"\x00" * 32),  # zero is not a private key
        b64(b"\xff" * 32),  # above the curve order
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_bad_env_keys_are_errors_that_never_echo_the_value(tmp_path, value):
    with pytest.raises(VapidKeyError) as err:
        load_keys({ENV_PRIVATE_KEY: value}, tmp_path, required=False)
    assert value not in str(err.value)


def test_a_non_p256_key_file_is_refused(tmp_path):
    (tmp_path / KEY_FILENAME).write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(VapidKeyError, match="P-256"):
        load_keys({}, tmp_path, required=True)


def test_an_unreadable_key_file_is_an_error_not_missing(tmp_path):
    (tmp_path / KEY_FILENAME).mkdir()
    with pytest.raises(VapidKeyError, match="cannot read"):
        load_keys({}, tmp_path, required=False)


def test_keys_repr_hides_the_private_key(keys):
    assert "private" not in repr(keys).lower()
