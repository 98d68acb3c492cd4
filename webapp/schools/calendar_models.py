"""A school's calendar: its term dates and closure days, kept by its designated safeguarding lead.

School days (webapp/schools/days.py) are counted in it, with England's bank holidays added from
the holidays library. Nothing here is about a child: names like "Autumn 1" and reasons like
"INSET day" are kept in clear.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db


class SchoolTerm(db.Model):
    """One term or half-term, both days included; the holidays are the gaps between them."""

    __tablename__ = "school_terms"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<SchoolTerm {self.school_id} {self.starts_on}..{self.ends_on}>"


class SchoolClosure(db.Model):
    """A day the school is closed inside a term: an INSET day, a snow day, a polling day."""

    __tablename__ = "school_closures"
    __table_args__ = (UniqueConstraint("school_id", "on"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    on: Mapped[date]
    reason: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<SchoolClosure {self.school_id} {self.on}>"
