"""Response headers, the device cookie, the idle timeout and the auth declarations on views.

Personal data must never land in a browser or proxy cache, so every dynamic response is
`no-store`; only /static/ (the app shell, no personal data) may be cached.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user

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


def init_app(app: Flask) -> None:
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
        session.permanent = True
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
        session["last_active"] = now
        return None

    @app.after_request
    def headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "no-referrer"
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
