"""Push subscriptions: one per browser profile that said yes to reminders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db


class PushSubscription(db.Model):
    """What a browser's PushManager gave us, tied to the user and the device that asked.

    The endpoint is a capability URL (whoever has it and the keys can notify that browser), so it
    is never shown, logged or sent anywhere but to its own push service.
    """

    __tablename__ = "push_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(36))  # the hw_device cookie of the browser
    label: Mapped[str] = mapped_column(String(120))  # "Chrome on Android"
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
