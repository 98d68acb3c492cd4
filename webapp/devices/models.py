"""Devices that keep an offline copy: the registry a manager uses to revoke a lost phone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.db_types import UTCDateTime, utcnow
from webapp.extensions import db


class Device(db.Model):
    """One browser profile on one phone or tablet, for one user.

    The id is the random `hw_device` cookie, so the server can recognise the device on every
    request without the page being able to read or forge it (the cookie is HttpOnly).
    """

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))  # "Chrome on Android", from the user agent
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    wiped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A second wrapping key for the device's data key, held only here (sealed): after a
    # forgotten passphrase, signing in online recovers the unsent work. A thief with the phone
    # but no account cannot get it.
    recovery_key_enc: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
