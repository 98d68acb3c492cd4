"""Reminders: one row per reminder per person, and one attempt row per push to one device.

A reminder row is written when the facts are recorded (webapp.reminders.service keeps the pending
ones in step with the facts), claimed by a dispatcher when due, and ends sent, cancelled (the
facts changed), missed (it was stale before anyone could send it) or failed. The notification
centre reads the same rows, so a person without push sees every reminder too.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db

BigId = BigInteger().with_variant(db.Integer, "sqlite")


class ReminderStatus(StrEnum):
    PENDING = "pending"  # waiting for its time, or for a retry
    SENDING = "sending"  # claimed by a dispatcher until lease_until
    SENT = "sent"  # every device was tried (or there was none); see the attempts
    CANCELLED = "cancelled"  # the facts changed before it was due
    MISSED = "missed"  # stale before it could be sent (dispatcher down, push service down)


class Reminder(db.Model):
    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_due", "status", "next_attempt_at"),
        Index("ix_reminders_recipient", "recipient_id", "due_at"),
        Index("ix_reminders_subject", "subject_type", "subject_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # kind:subject:recipient. Unique: the same reminder is never queued twice.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(36))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stale_at: Mapped[datetime] = mapped_column(UTCDateTime)
    urgency: Mapped[str] = mapped_column(String(10))
    topic: Mapped[str] = mapped_column(String(32))
    ttl_seconds: Mapped[int]
    # Generic words only (they reach lock screens through the vendor's push service).
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(300))

    status: Mapped[str] = mapped_column(String(10), default=ReminderStatus.PENDING)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    recipient: Mapped[User] = relationship()


class ReminderAttempt(db.Model):
    """One push of one reminder to one subscription, and what the push service said."""

    __tablename__ = "reminder_attempts"
    __table_args__ = (Index("ix_reminder_attempts_reminder", "reminder_id", "subscription_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reminder_id: Mapped[str] = mapped_column(ForeignKey("reminders.id"))
    # Not a foreign key: a subscription deleted after a 410 keeps its history here.
    subscription_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))  # sent / gone / retry / rate_limited / failed
    http_status: Mapped[int | None]
    detail: Mapped[str] = mapped_column(String(300), default="")
