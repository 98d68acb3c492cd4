"""Response headers, the device cookie, the idle timeout and the auth declarations on views.

Personal data must never land in a browser or proxy cache, so every dynamic response is
`no-store`; only /static/ (the app shell, no personal data) may be cached.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError

from webapp.accounts.sessions import TOUCH_EVERY
from webapp.audit import DEVICE_COOKIE

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

log = logging.getLogger(__name__)

# Same-origin requests carry the full Referer (a second proof, after Origin, that a POST came
# from our own pages); other sites get nothing, so ids in our URLs never leave the site.
# no-referrer would also make Chromium send "Origin: null" on our own POSTs.
REFERRER_POLICY = "same-origin"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CROSS_SITE_MESSAGE = (
    "This request did not come from this site's own pages, so it was not accepted. "
    "Go back to the page, reload it and try again."
)


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL or an Origin value, default port filled in; None if not
    an http(s) origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def cross_site_reason(headers: Mapping[str, str], site: str) -> str | None:
    """Why an unsafe request does not come from `site` (scheme://host[:port]); None if it does.

    Browsers set these headers themselves and pages cannot forge them. Origin decides when it
    names an origin; "null" (sandboxed frames, privacy redirects) proves nothing, so the Referer
    or Sec-Fetch-Site must then vouch. With none of them the sender is not a browser, so not a
    forgery riding someone's cookies; the CSRF token is still required of it.
    """
    here = _origin_of(site)
    if here is None:
        return f"this site's own address {site!r} is not an http(s) origin"
    origin = headers.get("Origin")
    if origin and origin != "null":
        return None if _origin_of(origin) == here else f"Origin {origin!r} is not {site!r}"
    referer = headers.get("Referer")
    if referer:
        return None if _origin_of(referer) == here else f"the Referer is not on {site!r}"
    fetch_site = headers.get("Sec-Fetch-Site")
    if fetch_site:
        return None if fetch_site == "same-origin" else f"Sec-Fetch-Site is {fetch_site!r}"
    if origin == "null":
        return "Origin is null and nothing else shows where the request came from"
    return None


# Architecture rule: every view says who may call it (tested over app.view_functions).
AUTH_ATTR = "_homeward_auth"


def public(view: Callable) -> Callable:
    setattr(view, AUTH_ATTR, "public")
    return view


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            from webapp.extensions import login_manager

            return login_manager.unauthorized()
        return view(*args, **kwargs)

    setattr(wrapped, AUTH_ATTR, "login")
    return wrapped


def roles_required(*roles: str) -> Callable[[Callable], Callable]:
    """Signed in with one of `roles`; anyone else gets 404, as if the page did not exist."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                from webapp.extensions import login_manager

                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        setattr(wrapped, AUTH_ATTR, "roles:" + ",".join(sorted(roles)))
        return wrapped

    return decorator


# How often the session cookie's last activity is rewritten: as often as the server-side row's.
LAST_ACTIVE_EVERY = TOUCH_EVERY.total_seconds()


def init_app(app: Flask) -> None:
    @app.before_request
    def same_origin_only():
        # In addition to Flask-WTF's token, which proves the sender read one of our pages: the
        # browser's own headers prove it was sent from one. This replaces Flask-WTF's HTTPS
        # Referer check (WTF_CSRF_SSL_STRICT), which refused every POST without a Referer.
        if request.method in SAFE_METHODS or not app.config.get("WTF_CSRF_ENABLED", True):
            return
        reason = cross_site_reason(request.headers, f"{request.scheme}://{request.host}")
        if reason:
            # Behind a proxy this is usually HOMEWARD_TRUSTED_PROXIES missing (the app then
            # sees http://127.0.0.1 while the browser shows https://the-site).
            log.warning("Refused a %s to %s: %s", request.method, request.endpoint, reason)
            raise CSRFError(CROSS_SITE_MESSAGE)

    @app.before_request
    def device_and_idle_timeout():
        raw = request.cookies.get(DEVICE_COOKIE, "")
        try:
            g.device_id = str(uuid.UUID(raw))
            g.new_device = False
        except ValueError:
            g.device_id = str(uuid.uuid4())
            g.new_device = True

        if request.endpoint == "static":
            return None
        if not session.permanent:
            session.permanent = True  # setting it at all marks the cookie for rewriting
        now = datetime.now(UTC).timestamp()
        last = session.get("last_active")
        idle = app.permanent_session_lifetime.total_seconds()
        if current_user.is_authenticated and last is not None and now - last > idle:
            logout_user()
            session.clear()
            flash("You were signed out after a period of inactivity.", "info")
            if request.path.startswith("/api/"):
                abort(401)
            return redirect(url_for("accounts.login"))
        if last is None or now - last >= LAST_ACTIVE_EVERY:
            # At most once a minute, as the server-side session's last_seen_at: rewriting the
            # signed cookie on every request was a twentieth of a one-change sync push. The
            # cookie's expiry moves with it (SESSION_REFRESH_EACH_REQUEST is off), so an idle
            # session ends between idle minus one minute and idle after its last request.
            session["last_active"] = now
        return None

    @app.after_request
    def headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = REFERRER_POLICY
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if app.config["HOMEWARD_ENV"] == "production":
            h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if request.endpoint != "static":
            # Only the generic field-mode shell opts out (g.cache_control); everything else may
            # hold personal data and must never be stored by a browser or proxy.
            h["Cache-Control"] = g.get("cache_control", "no-store")
            h.add("Vary", "HX-Request")
        if g.get("new_device"):
            response.set_cookie(
                DEVICE_COOKIE,
                g.device_id,
                max_age=5 * 365 * 24 * 3600,
                httponly=True,
                samesite="Lax",
                secure=app.config["SESSION_COOKIE_SECURE"],
            )
        return response
