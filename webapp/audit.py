"""The audit trail: who read or changed which child's record, when, and from which device.

Every read and change of a child's record is written here by the service that does it. The row
carries ids and an action verb only; never names or content, so the trail itself is not a second
copy of the personal data.
"""

from __future__ import annotations

from datetime import datetime

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db_types import UTCDateTime, utcnow
from webapp.extensions import db

DEVICE_COOKIE = "hw_device"


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))  # e.g. "view", "create", "update", "allocate"
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(36))
    child_id: Mapped[str | None] = mapped_column(String(36), index=True)
    device_id: Mapped[str | None] = mapped_column(String(36))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[str | None] = mapped_column(String(200))  # field names, never values


def record(
    action: str,
    object_type: str,
    object_id: str | None,
    *,
    child_id: str | None = None,
    detail: str | None = None,
    user_id: str | None = None,
) -> AuditEvent:
    """Add an audit row to the current transaction (it commits or rolls back with the change)."""
    event = AuditEvent(
        action=action,
        object_type=object_type,
        object_id=object_id,
        child_id=child_id,
        detail=detail,
        user_id=user_id,
    )
    if has_request_context():
        if event.user_id is None and current_user and current_user.is_authenticated:
            event.user_id = current_user.id
        event.device_id = g.get("device_id")
        event.user_agent = (request.user_agent.string or "")[:200]
        event.ip = request.remote_addr
    db.session.add(event)
    return event
