"""The authority's children-missing-education (CME) case: what the CME officer does with what the
schools told the authority (webapp.schools.absence_models.SchoolNotification).

One case per child at a time: the first notification about a child opens it, later ones join it
until the officer records the outcome, which closes it. The joint reasonable enquiries made with
the school are one sealed list (each names people and places); only what the worklist sorts and
filters on stays clear: the state, the outcome's code and the times.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import Organisation
from webapp.children.models import Child
from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db
from webapp.schools.absence_models import SchoolNotification
from webapp.sealed import SealedAttribute

# What the worklist shows: the school's notices that are the authority's business. An "ews_day3"
# contact or a sickness return is the school's own step and opens no case.
CME_KINDS = ("notify_day10", "joint_enquiries_day20", "referral", "missing_in_school_day")


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


OUTCOME_LABELS = {
    "found_other_school": "Found at another school",
    "moved_away": "Moved away",
    "referred": "Referred to children's social care",
    "returned": "Returned to school",
    "other": "Other",
}

# One joint enquiry (an item of the sealed list): when, with whom, what was done, what came of it.
JOINT_ENQUIRY_FIELDS = ("on", "with_whom", "action", "outcome")


class CmeCase(db.Model):
    __tablename__ = "cme_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    # The notification the officer opened the case from (later ones join it).
    opened_from_id: Mapped[str] = mapped_column(ForeignKey("school_notifications.id"))
    # The child's id while the case is open, NULL once closed: unique, so two officers opening
    # a case for the same child at the same moment get one case (NULLs never clash), on SQLite
    # and PostgreSQL alike.
    open_child_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=CaseStatus.OPEN, index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    # Sealed [{on, with_whom, action, outcome, by, at}]: the joint reasonable enquiries.
    joint_enquiries_enc: Mapped[str | None] = mapped_column(Text)
    # Sealed: what the officer wrote about the outcome (where the child is now, who was told).
    outcome_note_enc: Mapped[str | None] = mapped_column(Text)
    opened_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    child: Mapped[Child] = relationship()
    school: Mapped[Organisation] = relationship()
    opened_from: Mapped[SchoolNotification] = relationship()

    joint_enquiries = SealedAttribute(
        "joint_enquiries_enc", "cme_case", "joint_enquiries", default=[]
    )
    outcome_note = SealedAttribute("outcome_note_enc", "cme_case", "outcome_note")

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return self.status == CaseStatus.OPEN

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome or "", "")

    def __repr__(self) -> str:
        return f"<CmeCase {self.id}>"
