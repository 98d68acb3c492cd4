"""Column types shared by every feature package."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


def new_id() -> str:
    # UUIDs rather than sequences: devices create records offline and must not collide.
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, whatever the database keeps.

    SQLite has no time zones and PostgreSQL's timestamptz returns the session zone; storing naive
    UTC and re-attaching UTC on the way out gives the same answer on both. A naive value is a bug
    (we would have to guess its zone), so it is refused.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def id_column_type() -> String:
    return String(36)
