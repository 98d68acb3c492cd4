"""A local fake Web Push service, so push tests need no internet and no browser.

It is a real HTTP server on 127.0.0.1 that checks what a real push service (FCM, autopush, Apple)
checks before it accepts a message, and then does what the browser would do: decrypts the body.

For each POST /push/<token>:

1. the token must belong to a FakeBrowser subscribed here, else 404 (as for an expired
   subscription);
2. ``Authorization: vapid t=<jwt>, k=<public key>``: the JWT is ES256, signed by the key ``k``;
   ``aud`` is this server's origin; ``exp`` is in the future and at most 24 h ahead; ``sub`` is
   present. Anything wrong is 401. If the browser subscribed with an applicationServerKey, ``k``
   must be that key, else 403 (RFC 8292 section 4.2: the push service enforces the restriction);
3. ``Content-Encoding: aes128gcm`` and a ``TTL`` header, else 400; a body over 4096 bytes is 413;
4. the body is decrypted with the browser's private key and auth secret (400 if that fails) and
   must be JSON;
5. a scripted behaviour for the token, if any, is applied (status, headers, or a hang);
6. otherwise the Delivery is recorded and the answer is 201.

Verification is written here against ``cryptography`` directly rather than with py-vapid, so a bug
in the library that signs cannot be hidden by the same library verifying.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_BODY = 4096
MAX_EXP_AHEAD = 24 * 3600
HANG = "hang"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Reply:
    """A scripted answer: the status and any headers (e.g. Retry-After)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    token: str
    ttl: int
    urgency: str | None
    topic: str | None
    payload: dict[str, Any]
    at: datetime
    claims: dict[str, Any]
    headers: dict[str, str]  # every request header, lower-cased names


@dataclass(frozen=True)
class Attempt:
    """Every POST, accepted or not: what was answered and why."""

    token: str
    status: int
    reason: str


class FakeBrowser:
    """A browser profile subscribed to the fake push service.

    Holds what only the browser knows (the subscription's P-256 private key and auth secret) so
    the server can decrypt what it receives, as the real browser would.
    """

    def __init__(self, server: FakePushService, application_server_key: str | None = None):
        self.server = server
        self.token = secrets.token_urlsafe(16)
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = secrets.token_bytes(16)
        self.application_server_key = application_server_key
        server._register(self)

    @property
    def endpoint(self) -> str:
        return f"{self.server.origin}/push/{self.token}"

    def subscription_json(self) -> dict[str, Any]:
        """What ``JSON.stringify(pushSubscription)`` gives the page."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth_secret)},
        }

    def unsubscribe(self) -> None:
        self.server._unregister(self.token)


class _Rejected(Exception):
    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


class FakePushService:
    def __init__(self, *, hang_seconds: float = 5.0):
        self.hang_seconds = hang_seconds
        self._lock = threading.Condition()
        self._browsers: dict[str, FakeBrowser] = {}
        self._scripts: dict[str, list[Any]] = {}
        self._deliveries: list[Delivery] = []
        self._attempts: list[Attempt] = []
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakePushService:
        service = self

        class Handler(_Handler):
            fake = service

        class Server(ThreadingHTTPServer):
            # socketserver's default backlog is 5: a dispatcher's burst of connects overflows it
            # and every dropped handshake costs a 1 s SYN retransmit. A real push service has room.
            request_queue_size = 256

        self._httpd = Server(("127.0.0.1", 0), Handler)
        # Daemon threads are not joined on close, so a scripted hang cannot block stop().
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fake-push", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        # Kept after stop(), so endpoints and expectations can still be compared.
        assert self._port is not None, "start() the fake push service first"
        return self._port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- set-up and scripting ----------------------------------------------------------------

    def browser(self, application_server_key: str | None = None) -> FakeBrowser:
        return FakeBrowser(self, application_server_key)

    def script(self, token: str, behaviours: Iterable[Any] | str) -> None:
        """Answers for the next POSTs to token, in order; then back to normal (201).

        Each item: an int status (a 2xx one is a normal delivery answered with that status),
        a Reply (status and headers), a (status, headers) tuple, or "hang" (wait longer than the
        client's timeout, then answer 201 if anyone is still listening).
        """
        items = [behaviours] if isinstance(behaviours, str) else list(behaviours)
        with self._lock:
            self._scripts.setdefault(token, []).extend(items)

    def _register(self, browser: FakeBrowser) -> None:
        with self._lock:
            self._browsers[browser.token] = browser

    def _unregister(self, token: str) -> None:
        with self._lock:
            self._browsers.pop(token, None)

    def _next_behaviour(self, token: str) -> Any:
        with self._lock:
            queue = self._scripts.get(token)
            return queue.pop(0) if queue else None

    # -- what happened -----------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    @property
    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    def deliveries_for(self, token: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.token == token]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} deliveries within {timeout} s, got "
                        f"{len(self._deliveries)}; attempts: {self._attempts}"
                    )
                self._lock.wait(left)
            return list(self._deliveries)

    def _record(self, attempt: Attempt, delivery: Delivery | None = None) -> None:
        with self._lock:
            self._attempts.append(attempt)
            if delivery is not None:
                self._deliveries.append(delivery)
            self._lock.notify_all()

    # -- checks a real push service makes ------------------------------------------------------

    def _verify_vapid(self, header: str | None, browser: FakeBrowser) -> dict[str, Any]:
        if not header:
            raise _Rejected(401, "no Authorization header")
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "vapid":
            raise _Rejected(401, f"Authorization scheme {scheme!r} is not vapid")
        params = {}
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            params[name.strip()] = value.strip()
        token, k = params.get("t"), params.get("k")
        if not token or not k:
            raise _Rejected(401, "Authorization needs t= and k=")
        try:
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(k))
            header_b64, claims_b64, sig_b64 = token.split(".")
            jwt_header = json.loads(unb64url(header_b64))
            claims = json.loads(unb64url(claims_b64))
            sig = unb64url(sig_b64)
        except ValueError as exc:
            raise _Rejected(401, f"malformed VAPID token or key: {exc}") from None
        if jwt_header.get("alg") != "ES256":
            raise _Rejected(401, f"JWT alg {jwt_header.get('alg')!r} is not ES256")
        if len(sig) != 64:
            raise _Rejected(401, "ES256 signature must be 64 bytes (r || s)")
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            public_key.verify(
                der, f"{header_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature:
            raise _Rejected(401, "JWT signature does not verify with k") from None
        if claims.get("aud") != self.origin:
            raise _Rejected(401, f"aud {claims.get('aud')!r} is not {self.origin!r}")
        exp = claims.get("exp")
        now = time.time()
        if not isinstance(exp, int) or exp <= now:
            raise _Rejected(401, "exp missing or in the past")
        if exp > now + MAX_EXP_AHEAD:
            raise _Rejected(401, "exp more than 24 hours ahead")
        if not claims.get("sub"):
            raise _Rejected(401, "sub missing")
        if browser.application_server_key and k != browser.application_server_key:
            raise _Rejected(403, "k is not the applicationServerKey this subscription used")
        return claims

    def _handle(self, handler: _Handler) -> tuple[int, dict[str, str]]:
        path = handler.path
        if not path.startswith("/push/"):
            raise _Rejected(404, "not a push endpoint")
        token = path[len("/push/") :]
        with self._lock:
            browser = self._browsers.get(token)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if browser is None:
            raise _Rejected(404, "no such subscription")
        claims = self._verify_vapid(handler.headers.get("Authorization"), browser)
        if (handler.headers.get("Content-Encoding") or "").lower() != "aes128gcm":
            raise _Rejected(400, "Content-Encoding must be aes128gcm")
        ttl_text = handler.headers.get("TTL")
        if ttl_text is None or not ttl_text.isdigit():
            raise _Rejected(400, "TTL header missing or not a number")
        if len(body) > MAX_BODY:
            raise _Rejected(413, "body over 4096 bytes")
        try:
            plain = http_ece.decrypt(
                body,
                private_key=browser.private_key,
                auth_secret=browser.auth_secret,
                version="aes128gcm",
            )
            payload = json.loads(plain)
        except (http_ece.ECEException, ValueError) as exc:
            raise _Rejected(400, f"cannot decrypt: {exc}") from None

        behaviour = self._next_behaviour(token)
        status, headers = 201, {}
        if behaviour == HANG:
            # Wait past the client's timeout; end early if the test is tearing down.
            self._stopping.wait(self.hang_seconds)
            raise _Rejected(504, "hung")
        if isinstance(behaviour, int):
            status = behaviour
        elif isinstance(behaviour, Reply):
            status, headers = behaviour.status, dict(behaviour.headers)
        elif isinstance(behaviour, tuple):
            status, headers = behaviour[0], dict(behaviour[1])
        elif behaviour is not None:
            raise AssertionError(f"unknown scripted behaviour {behaviour!r}")
        if not 200 <= status < 300:
            raise _Rejected(status, "scripted", headers)
        delivery = Delivery(
            token=token,
            ttl=int(ttl_text),
            urgency=handler.headers.get("Urgency"),
            topic=handler.headers.get("Topic"),
            payload=payload,
            at=datetime.now(UTC),
            claims=claims,
            headers={k.lower(): v for k, v in handler.headers.items()},
        )
        self._record(Attempt(token, status, "delivered"), delivery)
        return status, headers


class _Handler(BaseHTTPRequestHandler):
    fake: FakePushService

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        try:
            status, headers = self.fake._handle(self)
        except _Rejected as exc:
            token = self.path.rsplit("/", 1)[-1]
            self.fake._record(Attempt(token, exc.status, exc.reason))
            status, headers = exc.status, exc.headers
            body = exc.reason.encode()
        else:
            body = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Keep test output clean; attempts are recorded instead.
        pass
