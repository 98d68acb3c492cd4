"""Sending one Web Push notification with pywebpush, and what the push service answered.

pywebpush pitfalls this module exists to hide (see /work/shared/ARCHITECTURE.md):

* ``ttl`` defaults to 0, which tells the push service to drop the message at once if the phone is
  offline: a reminder to a worker in a car would vanish. Every Message carries a positive TTL.
* There is no default timeout, so a hung push service would hang the dispatcher forever.
* ``webpush()`` writes ``aud`` and ``exp`` into the claims dict it is given; a dict shared between
  calls would keep the first endpoint's ``aud`` and be rejected by every other push service. Each
  call builds a fresh dict.

The payload is encrypted end to end (aes128gcm) but still passes through the browser vendor's push
service, and lands on a lock screen: it carries a generic title and body and an opaque ``ref`` that
the app resolves after the user unlocks it, never personal data.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from webapp.push.vapid import VapidKeys, b64url_decode, b64url_encode
from webapp.urls import safe_local_path

Urgency = Literal["very-low", "low", "normal", "high"]
Status = Literal["sent", "gone", "retry", "rate_limited", "failed"]

URGENCIES = frozenset({"very-low", "low", "normal", "high"})

# The push services of the browsers staff use: Chrome, Edge (old endpoints) and Samsung Internet
# use FCM; Firefox Mozilla's autopush; Safari Apple's; Edge Windows Notification Service. An
# endpoint is a URL the browser hands us and the server then POSTs to, so accepting any https host
# would let a signed-in user point our dispatcher at internal services (SSRF).
KNOWN_PUSH_SERVICE_HOSTS = frozenset(
    {
        "fcm.googleapis.com",
        "android.googleapis.com",
        "push.services.mozilla.com",
        "push.apple.com",
        "notify.windows.com",
    }
)
# Plain http only ever to a local fake push service in tests.
LOCAL_TEST_HOSTS = frozenset({"127.0.0.1", "localhost"})

P256DH_BYTES = 65  # uncompressed P-256 point
AUTH_BYTES = 16
MAX_ENDPOINT_CHARS = 2048
# 4096 bytes is the most a push service must accept; aes128gcm adds a header (86 bytes with a
# P-256 key id), a padding delimiter and a 16-byte tag. 3000 leaves room and catches mistakes.
MAX_PAYLOAD_BYTES = 3000
# Push services cap TTL at about four weeks; anything longer is a bug in the caller.
MAX_TTL_SECONDS = 28 * 24 * 3600
# RFC 8292: exp at most 24 h ahead. 12 h leaves room for our clock running fast.
VAPID_EXP_SECONDS = 12 * 3600

_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# An opaque id: a uuid, a key like "rhi_24h:<id>:<id>"; no spaces, so no one's name slips in.
_REF = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


@dataclass(frozen=True)
class EndpointPolicy:
    """Which push endpoints we are willing to POST to.

    https_hosts are host suffixes ("push.apple.com" allows "web.push.apple.com"); None allows any
    https host. http_hosts are exact hosts allowed over plain http (local fakes in tests only).
    """

    https_hosts: frozenset[str] | None = KNOWN_PUSH_SERVICE_HOSTS
    http_hosts: frozenset[str] = field(default_factory=frozenset)

    def check(self, endpoint: str) -> None:
        if not isinstance(endpoint, str) or not endpoint:
            raise ValueError("subscription endpoint is missing")
        if len(endpoint) > MAX_ENDPOINT_CHARS:
            raise ValueError(f"subscription endpoint is over {MAX_ENDPOINT_CHARS} characters")
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        if not host or parts.username is not None or parts.password is not None:
            raise ValueError("subscription endpoint must be a plain URL with a host")
        if parts.scheme == "https":
            if self.https_hosts is None or any(
                host == h or host.endswith("." + h) for h in self.https_hosts
            ):
                return
            raise ValueError(f"subscription endpoint host {host} is not a known push service")
        if parts.scheme == "http" and host in self.http_hosts:
            return
        raise ValueError("subscription endpoint must use https")


PRODUCTION_ENDPOINTS = EndpointPolicy()
TEST_ENDPOINTS = EndpointPolicy(http_hosts=LOCAL_TEST_HOSTS)


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    p256dh: str  # base64url, no padding
    auth: str  # base64url, no padding

    @classmethod
    def from_browser_json(
        cls, d: Mapping[str, Any], *, policy: EndpointPolicy = PRODUCTION_ENDPOINTS
    ) -> Subscription:
        """Validate the JSON of a browser PushSubscription (``subscription.toJSON()``)."""
        if not isinstance(d, Mapping):
            raise ValueError("subscription must be a JSON object")
        endpoint = d.get("endpoint")
        policy.check(endpoint)
        keys = d.get("keys")
        if not isinstance(keys, Mapping):
            raise ValueError("subscription keys are missing")
        p256dh = _key(keys, "p256dh", P256DH_BYTES)
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
        except ValueError:
            raise ValueError("subscription key p256dh is not a P-256 public key") from None
        auth = _key(keys, "auth", AUTH_BYTES)
        return cls(endpoint=endpoint, p256dh=b64url_encode(p256dh), auth=b64url_encode(auth))

    def info(self) -> dict[str, Any]:
        """The subscription_info dict pywebpush expects."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _key(keys: Mapping[str, Any], name: str, size: int) -> bytes:
    value = keys.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"subscription key {name} is missing")
    try:
        raw = b64url_decode(value)
    except ValueError:
        raise ValueError(f"subscription key {name} is not base64url") from None
    if len(raw) != size:
        raise ValueError(f"subscription key {name} must decode to {size} bytes, not {len(raw)}")
    return raw


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    ref: str  # an opaque id the app resolves after unlock; NEVER personal data
    url: str  # a path in the app, opened when the notification is tapped
    topic: str | None = None
    urgency: Urgency = "normal"
    ttl_seconds: int = 24 * 3600

    def __post_init__(self) -> None:
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {sorted(URGENCIES)}")
        if not isinstance(self.ttl_seconds, int) or not 0 < self.ttl_seconds <= MAX_TTL_SECONDS:
            # 0 would make the push service drop the message for a phone that is offline.
            raise ValueError(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")
        if not _REF.match(self.ref):
            raise ValueError("ref must be an opaque id (letters, digits, _ . : -)")
        # Only a same-origin path: the service worker opens it, and "//host", "/\\host" or
        # "https:" would make a notification an open redirect.
        if safe_local_path(self.url) != self.url:
            raise ValueError("url must be a path in the app, starting with a single /")
        self.payload_json()

    def payload_json(self) -> str:
        text = json.dumps(
            {"title": self.title, "body": self.body, "ref": self.ref, "url": self.url},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        if len(text.encode("utf-8")) >= MAX_PAYLOAD_BYTES:
            raise ValueError(f"push payload must be under {MAX_PAYLOAD_BYTES} bytes")
        return text


def topic_for(text: str) -> str:
    """A Topic header value (<= 32 chars of the base64url alphabet) for any string.

    Values that already qualify pass through; anything else is hashed, which also keeps record ids
    out of what the push service can read.
    """
    if _TOPIC.match(text):
        return text
    return b64url_encode(hashlib.sha256(text.encode("utf-8")).digest())[:32]


@dataclass(frozen=True)
class SendOutcome:
    status: Status
    http_status: int | None = None
    retry_after: float | None = None  # seconds
    detail: str = ""  # for logs: never payload content

    @property
    def delete_subscription(self) -> bool:
        return self.status == "gone"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 HTTP-dates are always GMT.
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def vapid_claims(endpoint: str, subject: str) -> dict[str, str | int]:
    """A fresh claims dict for one send: pywebpush writes aud/exp into the dict it is given."""
    parts = urlsplit(endpoint)
    return {
        "sub": subject,
        # The push service checks aud against its own origin.
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + VAPID_EXP_SECONDS,
    }


def send(
    subscription: Subscription,
    message: Message,
    keys: VapidKeys,
    *,
    timeout: float = 10,
    session: requests.Session | None = None,
) -> SendOutcome:
    """Encrypt and POST one message; never raises for what the push service or network does."""
    headers: dict[str, str] = {"Urgency": message.urgency}
    if message.topic:
        headers["Topic"] = topic_for(message.topic)
    try:
        response = webpush(
            subscription_info=subscription.info(),
            data=message.payload_json(),
            vapid_private_key=Vapid(private_key=keys.private_key),
            vapid_claims=vapid_claims(subscription.endpoint, keys.subject),
            content_encoding="aes128gcm",
            timeout=timeout,
            ttl=message.ttl_seconds,
            headers=headers,
            requests_session=session,
        )
    except WebPushException as exc:
        if exc.response is None:
            # Raised before any request, e.g. keys pywebpush cannot use: retrying will not help.
            return SendOutcome("failed", detail=f"not sent: {exc.message}")
        return _outcome(exc.response)
    except requests.Timeout:
        return SendOutcome("retry", detail=f"no answer within {timeout} s")
    except requests.ConnectionError as exc:
        return SendOutcome("retry", detail=f"connection failed: {type(exc).__name__}")
    except requests.RequestException as exc:
        return SendOutcome("failed", detail=f"request failed: {type(exc).__name__}")
    return _outcome(response)


def _outcome(response: requests.Response) -> SendOutcome:
    code = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    detail = f"HTTP {code} {response.reason or ''}".rstrip()
    if code >= 400:
        # The push service's own explanation (e.g. FCM's "the key does not match the
        # subscription") is what an operator needs; it never contains our plaintext.
        text = " ".join((response.text or "").split())[:200]
        if text:
            detail += f": {text}"
    if code in (200, 201, 202):
        return SendOutcome("sent", code, None, detail)
    if code in (404, 410):
        # The subscription has expired or been removed: delete it, do not retry.
        return SendOutcome("gone", code, None, detail)
    if code == 429:
        return SendOutcome("rate_limited", code, retry_after, detail)
    if code >= 500:
        return SendOutcome("retry", code, retry_after, detail)
    return SendOutcome("failed", code, None, detail)


__all__ = [
    "KNOWN_PUSH_SERVICE_HOSTS",
    "LOCAL_TEST_HOSTS",
    "PRODUCTION_ENDPOINTS",
    "TEST_ENDPOINTS",
    "EndpointPolicy",
    "Message",
    "SendOutcome",
    "Subscription",
    "parse_retry_after",
    "send",
    "topic_for",
    "vapid_claims",
]
