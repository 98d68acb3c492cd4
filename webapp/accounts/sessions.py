"""Server-side sessions: started at sign-in for one device, ended on the server.

Flask's session cookie is signed, not secret, and a copy of it works wherever it is sent. So the
cookie carries only a random token naming a row here, and signing out, signing out everywhere,
deactivation, revoking the device and idleness all end the row: every copy of the cookie stops
working at once. No request objects here; the caller passes the device id.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, bindparam, select, update

from webapp import audit, uow
from webapp.accounts.models import User, UserSession
from webapp.db_types import utcnow
from webapp.devices.models import Device
from webapp.extensions import db

# last_seen_at is written at most this often, so an ordinary request costs one indexed read.
TOUCH_EVERY = timedelta(seconds=60)

SIGN_OUT = "sign_out"
SIGN_OUT_EVERYWHERE = "sign_out_everywhere"
DEVICE_REVOKED = "device_revoked"
IDLE = "idle"
DEACTIVATED = "deactivated"
CREDENTIALS_CHANGED = "password_change"
CREDENTIALS_RESET = "password_reset"
SECOND_FACTOR_RESET = "second_factor_reset"


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, device_id: str) -> str:
    """A new session for `user` on `device_id`; returns the token for the cookie. Commits."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(id=_key(token), user_id=user.id, device_id=device_id, epoch=user.session_epoch)
    )
    user.session_token = token
    uow.commit()
    return token


# Built once: every request runs it, and building the statement and its cache key anew each
# time was a third of this check's function calls (issue 14, bench/profile_push.py).
_LOAD = (
    select(UserSession, User, Device)
    .join(User, User.id == UserSession.user_id)
    .outerjoin(
        Device, and_(Device.id == UserSession.device_id, Device.user_id == UserSession.user_id)
    )
    .where(UserSession.id == bindparam("key"))
)


@dataclass(frozen=True)
class Loaded:
    user: User
    # The user's record of this device if it has one (only devices that sync have), so the
    # caller can apply the revocation rule without another query.
    device: Device | None


def load(token: str, device_id: str | None, idle: timedelta) -> Loaded | None:
    """The signed-in user behind `token` on this device, or None if that session is over.

    One indexed query. A session ended because its device was revoked is still returned (with
    the revoked device): what such a device may still do is the revocation rule's decision
    (webapp/devices/revocation.py), not this one's.
    """
    if not token or not device_id:
        return None
    row = db.session.execute(_LOAD, {"key": _key(token)}).first()
    if row is None:
        return None
    record, user, device = row
    # A cookie carried to another browser is not that browser's session; the owner keeps theirs.
    if record.device_id != device_id:
        return None
    if not user.active or record.epoch != user.session_epoch:
        return None
    revoked = device is not None and device.revoked
    if record.ended_at is not None and not (record.end_reason == DEVICE_REVOKED and revoked):
        return None
    now = utcnow()
    if now - record.last_seen_at > idle:
        _end_rows(UserSession.id == record.id, IDLE, user.id)
        return None
    if now - record.last_seen_at > TOUCH_EVERY:
        db.session.execute(
            update(UserSession).where(UserSession.id == record.id).values(last_seen_at=now)
        )
        _commit_bookkeeping()
    user.session_token = token
    return Loaded(user=user, device=device)


def end(token: str | None, reason: str) -> None:
    """End the session named by `token` (sign-out). Unknown or ended tokens are ignored."""
    if not token:
        return
    record = db.session.get(UserSession, _key(token))
    if record is not None:
        _end_rows(UserSession.id == record.id, reason, record.user_id)


def end_all(user: User, reason: str) -> None:
    """End every session of `user` (sign out everywhere, deactivation, a new password): the one
    place that does it. The epoch is part of every session, so bumping it refuses them all at
    once; the rows are ended too, with the reason, for the person investigating."""
    user.session_epoch += 1
    _end_rows(UserSession.user_id == user.id, reason, user.id)


def end_device(user_id: str, device_id: str, reason: str = DEVICE_REVOKED) -> None:
    """End every open session of one user on one device (the device was revoked)."""
    _end_rows(
        and_(UserSession.user_id == user_id, UserSession.device_id == device_id), reason, user_id
    )


def _end_rows(where, reason: str, user_id: str) -> None:
    alone = not _pending()
    ended = db.session.execute(
        update(UserSession)
        .where(where, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    ).rowcount
    if ended:
        # Ids and the reason only: which sessions ended, and why, for the person investigating.
        action = "sign_out" if reason == SIGN_OUT else "session_end"
        audit.record(action, "user", user_id, user_id=user_id, detail=reason)
    _commit_bookkeeping(alone)


def _pending() -> bool:
    return bool(db.session.new or db.session.dirty or db.session.deleted)


def _commit_bookkeeping(alone: bool | None = None) -> None:
    # Called while loading the user (before the view) or inside a service's own change: commit
    # on its own only when nothing else was pending, otherwise ride along with the caller's
    # transaction, which commits or rolls back with the change that ended the session.
    if alone if alone is not None else not _pending():
        uow.commit()
    else:
        db.session.flush()
