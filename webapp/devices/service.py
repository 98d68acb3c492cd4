"""Register devices that sync, and revoke them (remote wipe)."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from webapp import audit, sealed, uow
from webapp.accounts import sessions
from webapp.accounts.models import Organisation, Role, User
from webapp.db_types import utcnow
from webapp.deadlines import ensure_utc
from webapp.devices.models import Device
from webapp.errors import NotAllowed
from webapp.extensions import db


def label_from_user_agent(ua: str) -> str:
    ua = ua or ""
    browser = next(
        (
            name
            for key, name in (
                ("Edg/", "Edge"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if key in ua
        ),
        "Browser",
    )
    system = next(
        (
            name
            for key, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "Mac"),
                ("Linux", "Linux"),
            )
            if key in ua
        ),
        "unknown system",
    )
    return f"{browser} on {system}"


# "Last seen" and "last sync" are shown to the minute: a phone sending a change a second does
# not need its row rewritten every second.
TOUCH_EVERY = timedelta(seconds=60)


def touch(
    user: User,
    device_id: str,
    user_agent: str,
    *,
    synced: bool = False,
    known: Device | None = None,
) -> Device:
    """The user's record of this device, created on first contact. Commits (or, inside a
    batch, rides with it). `known`: the row the request already loaded with the session."""
    if known is not None and known.id == device_id and known.user_id == user.id:
        device = known
    else:
        device = db.session.get(Device, (device_id, user.id))
    now = utcnow()
    if device is None:
        device = Device(id=device_id, user_id=user.id, label=label_from_user_agent(user_agent))
        db.session.add(device)
        audit.record("register", "device", device_id, user_id=user.id)
    elif _recent(device.last_seen_at, now) and (not synced or _recent(device.last_sync_at, now)):
        return device
    device.last_seen_at = now
    if synced:
        device.last_sync_at = now
    uow.commit()
    return device


def _recent(at: datetime | None, now: datetime) -> bool:
    return at is not None and timedelta(0) <= now - ensure_utc(at) < TOUCH_EVERY


def _may_manage(actor: User, owner: User) -> bool:
    return actor.role in (Role.MANAGER, Role.ADMIN) and actor.authority_id == owner.authority_id


def devices_for(actor: User) -> list[Device]:
    """Devices a manager or administrator may revoke: those of users in their authority."""
    if actor.role not in (Role.MANAGER, Role.ADMIN):
        raise NotAllowed("Only managers and administrators manage devices")
    authority = actor.authority_id
    rows = db.session.scalars(
        select(Device)
        .join(User, Device.user_id == User.id)
        .join(Organisation, User.organisation_id == Organisation.id)
        .where(
            or_(
                Organisation.id == authority,
                Organisation.parent_id == authority,
                Device.user_id == actor.id,
            )
        )
        .order_by(Device.last_seen_at.desc())
    ).all()
    # The SQL narrows to the authority; _may_manage stays the one definition of the rule.
    return [d for d in rows if _may_manage(actor, d.user) or d.user_id == actor.id]


def own_devices(user: User) -> list[Device]:
    return list(
        db.session.scalars(
            select(Device).where(Device.user_id == user.id).order_by(Device.last_seen_at.desc())
        )
    )


def revoke(actor: User, device_id: str, user_id: str) -> Device:
    device = db.session.get(Device, (device_id, user_id))
    if device is None or not (_may_manage(actor, device.user) or device.user_id == actor.id):
        raise NotAllowed("No such device")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        device.revoked_by_id = actor.id
        audit.record("revoke", "device", device.id, detail=f"user {device.user_id}")
        sessions.end_device(device.user_id, device.id, sessions.DEVICE_REVOKED)
    uow.commit()
    return device


def mark_wiped(user: User, device_id: str) -> None:
    device = db.session.get(Device, (device_id, user.id))
    if device is not None and device.revoked_at is not None and device.wiped_at is None:
        device.wiped_at = utcnow()
        audit.record("wiped", "device", device.id, user_id=user.id)
        uow.commit()


def needs_new_id(user: User, device_id: str) -> bool:
    """True when this browser's device id belongs to a device of `user` that was revoked and has
    wiped itself: signing in again there starts a new device. One revoked but not yet wiped
    keeps its id, so the field app still uploads its unsent work and wipes."""
    device = db.session.get(Device, (device_id, user.id))
    return device is not None and device.wiped_at is not None


def new_device_id() -> str:
    return str(uuid.uuid4())


def recovery_key(user: User, device_id: str) -> str:
    """The device's recovery wrapping key (base64url), created on first request.

    Only for a signed-in user on a device that is not revoked: the caller checks both.
    """
    device = db.session.get(Device, (device_id, user.id))
    if device is None or device.revoked:
        raise NotAllowed("This device cannot recover keys")
    key = sealed.unseal(device.recovery_key_enc, "device", f"{device.id}:{user.id}", "recovery")
    if key is None:
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        device.recovery_key_enc = sealed.seal(key, "device", f"{device.id}:{user.id}", "recovery")
        audit.record("recovery_key_issued", "device", device.id, user_id=user.id)
        uow.commit()
    return key
