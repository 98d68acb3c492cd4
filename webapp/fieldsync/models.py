"""What the sync engine remembers: every mutation it answered, the change log that pulls read,
conflict copies, and which records each user's devices have been given."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants room to grow.
BigId = BigInteger().with_variant(db.Integer, "sqlite")


class SyncMutation(db.Model):
    """A mutation a device sent, with the answer it got: replays return the same answer."""

    __tablename__ = "sync_mutations"

    mutation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(36))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The result as sent: ids, status, versions, error codes. A conflict's server copy is not
    # kept here (it holds answers); a replay reads it again from the conflict record.
    result: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChangeLog(db.Model):
    """Every change to a syncable record, in commit order (see store.py on locking)."""

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_record", "record_type", "record_id"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int]
    deleted: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncConflict(db.Model):
    """The losing copy of a conflicting edit, kept (encrypted) until someone resolves it."""

    __tablename__ = "sync_conflicts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(36))
    base_version: Mapped[int | None]
    server_version: Mapped[int]
    payload_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncDelivery(db.Model):
    """A record one device holds, so that losing sight of it sends that device a tombstone.

    Per device, not per user: each of a user's devices must hear about it.
    """

    __tablename__ = "sync_deliveries"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
