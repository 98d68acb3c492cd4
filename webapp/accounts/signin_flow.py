"""Between the password and the second factor: the pending state, and finishing a sign-in.

After a right password the person is NOT signed in (Flask-Login's login_user is not called, no
server-side session exists): the Flask session holds only a short-lived note of who typed the
password, when, on which device (the hw_device cookie) and a fingerprint of the account's
credentials. Every page but the code page (or the enrolment page) treats them as signed out, so
nothing can be reached between the password and the code.

The note is void when it is older than its TTL, when it is read on another device (a copied
cookie), or when the account changed meanwhile: new password, sessions ended (an administrator's
reset of the second factor, a deactivation), or the second factor set up or removed.
"""

from __future__ import annotations

import hmac
import time
from datetime import timedelta

from flask import g, session
from flask_login import login_user

from webapp.accounts import second_factor, service, sessions
from webapp.accounts.models import User
from webapp.devices import service as devices
from webapp.extensions import db

PENDING_KEY = "hw_pending_sign_in"
# Long enough to open the app and type a code; enrolment allows time to install an app.
TTL = {"code": timedelta(minutes=5), "enrol": timedelta(minutes=15)}


def _now() -> float:
    return time.time()


def begin(user: User, step: str, next_url: str | None) -> None:
    """Note that `user` typed the right password; `step` is "code" or "enrol"."""
    session.clear()  # a new session: nothing from before the password carries over
    session[PENDING_KEY] = {
        "u": user.id,
        "t": _now(),
        "d": g.device_id,
        "f": service._fingerprint(user),
        "s": step,
        "n": next_url,
    }
    session.permanent = True


def pending_user(step: str) -> User | None:
    """The user whose password was typed in this browser for `step`, or None if that note is
    missing, expired, from another device or out of date. Clears a note that is no use."""
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict) or data.get("s") != step:
        return None
    user = db.session.get(User, data.get("u") or "")
    fresh = _now() - float(data.get("t") or 0) < TTL[step].total_seconds()
    if (
        user is None
        or not user.active
        or not fresh
        or data.get("d") != g.device_id
        or not hmac.compare_digest(str(data.get("f")), service._fingerprint(user))
        or second_factor.sign_in_step(user) != step
    ):
        session.pop(PENDING_KEY, None)
        return None
    return user


def had_pending() -> bool:
    return PENDING_KEY in session


def pending_next() -> str | None:
    data = session.get(PENDING_KEY)
    return data.get("n") if isinstance(data, dict) else None


def complete(user: User) -> None:
    """Sign `user` in on this device: a new server-side session, the cookie naming it."""
    session.clear()
    if devices.needs_new_id(user, g.device_id):
        # Wiped after revocation: this browser starts again as a new device.
        g.device_id, g.new_device = devices.new_device_id(), True
    sessions.start(user, g.device_id)
    login_user(user)
    session.permanent = True
