"""The monthly missing meeting's actions (Wigan appendix f): agreed at one month's meeting, owned
by a person, carried to each later meeting until done."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db
from webapp.sealed import SealedAttribute


class MeetingAction(db.Model):
    __tablename__ = "meeting_actions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    authority_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    # The meeting it was agreed at, by the month the pack looks back on ("2026-10").
    month: Mapped[str] = mapped_column(String(7))
    # What is to be done: it may name a child, a place or a person, so it is sealed.
    text_enc: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date | None] = mapped_column()
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    # What came of it (sealed, like the action).
    outcome_enc: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])

    text = SealedAttribute("text_enc", "meeting_action", "text")
    outcome = SealedAttribute("outcome_enc", "meeting_action", "outcome")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<MeetingAction {self.month} {self.id}>"
