"""The return home interview: its workflow envelope in clear, its content encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.children.models import Child
from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.episodes.models import Episode
from webapp.extensions import db
from webapp.interviews import workflow
from webapp.sealed import SealedAttribute

# The workflow lives in workflow.py; the status enum stays importable from the model.
InterviewStatus = workflow.Status

interview_episodes = Table(
    "interview_episodes",
    db.metadata,
    Column("interview_id", ForeignKey("interviews.id"), primary_key=True),
    Column("episode_id", ForeignKey("episodes.id"), primary_key=True, unique=True),
)


class Interview(db.Model):
    __tablename__ = "interviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    status: Mapped[str] = mapped_column(
        String(20), default=InterviewStatus.AWAITING_ALLOCATION, index=True
    )
    # 72 hours from the earliest return it covers: the clock starts at the return, not referral.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    allocated_to_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    allocated_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The envelope: kept in clear so oversight can count offers, declines and timeliness. The
    # child protection referral and consent answers are content (sealed): no query reads them.
    offered: Mapped[str | None] = mapped_column(String(2))  # Y / N / NA
    outcome: Mapped[str | None] = mapped_column(String(10))  # accepted / declined
    independent: Mapped[bool | None]
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Everything else the child or carers said: AES-GCM tokens (webapp.crypto), never clear text.
    content_enc: Mapped[str | None] = mapped_column(Text)
    intelligence_enc: Mapped[str | None] = mapped_column(Text)
    review_note_enc: Mapped[str | None] = mapped_column(Text)

    # The arranged appointment: its time in clear (the reminders are timed from it), its place
    # sealed (a place can be the child's home). When it was arranged times the carer's notice.
    appointment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appointment_arranged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appointment_place_enc: Mapped[str | None] = mapped_column(Text)

    completed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    authorised_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    authorised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    forwarded_to_police_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    child: Mapped[Child] = relationship()
    episodes: Mapped[list[Episode]] = relationship(
        secondary=interview_episodes, order_by=Episode.last_seen_at
    )
    allocated_to: Mapped[User | None] = relationship(foreign_keys=[allocated_to_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    authorised_by: Mapped[User | None] = relationship(foreign_keys=[authorised_by_id])

    appointment_place = SealedAttribute("appointment_place_enc", "interview", "appointment_place")

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return workflow.status_label(self.status)

    @property
    def is_open(self) -> bool:
        return workflow.is_open(self.status)

    def __repr__(self) -> str:
        return f"<Interview {self.id}>"


def interview_ids_for(conn, *, child_ids=(), episode_ids=()) -> set[str]:
    """Ids of the interviews of these children and of those covering these episodes: what a
    change to a child or an episode touches (the sync change log, the reminders)."""
    ids: set[str] = set()
    if child_ids:
        ids |= set(conn.scalars(select(Interview.id).where(Interview.child_id.in_(child_ids))))
    if episode_ids:
        ids |= set(
            conn.scalars(
                select(interview_episodes.c.interview_id).where(
                    interview_episodes.c.episode_id.in_(episode_ids)
                )
            )
        )
    return ids
