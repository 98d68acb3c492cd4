"""What carers keep about a child placed with them: the standing profile (Philomena Protocol
part 1) and the risk assessment and action plan (Wigan appendix a).

One row of each per child, keyed by the child's id (the profile row is the carer's field-mode
record for that child). Everything a person wrote is sealed: bound to the row and the field, so
a ciphertext moved to another child fails to open. Only what a query or the reminder schedule
must read stays clear: dates, and the plan's "report to police after N hours" number.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.children.models import Child
from webapp.db_types import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.sealed import SealedAttribute


class ChildProfile(db.Model):
    """The standing profile the carer hands to police at once when the child goes missing."""

    __tablename__ = "child_profiles"

    # The child's own id: one profile per child, and the id field mode knows it by.
    id: Mapped[str] = mapped_column(String(36), ForeignKey("children.id"), primary_key=True)
    # Sealed {description, phones, social_media, associates, places, medical, medication,
    # money, transport}: free text about the child and the people and places around them.
    content_enc: Mapped[str | None] = mapped_column(Text)
    # Sealed: the recent photo, already stripped of EXIF and GPS and resized (photos.py), as
    # base64 JPEG. Never served from a cacheable URL.
    photo_enc: Mapped[str | None] = mapped_column(Text)
    photo_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_due: Mapped[date | None]
    updated_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    child: Mapped[Child] = relationship()

    content = SealedAttribute("content_enc", "child_profile", "content", default={})
    photo = SealedAttribute("photo_enc", "child_profile", "photo")

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<ChildProfile {self.id}>"


class RiskPlan(db.Model):
    """The risk assessment and action plan the social worker and carer complete together."""

    __tablename__ = "risk_plans"

    id: Mapped[str] = mapped_column(String(36), ForeignKey("children.id"), primary_key=True)
    # Sealed {pattern, vulnerabilities, circumstances, contacts, addresses, return_arrangements,
    # ...}: see plan_rules for the shape.
    content_enc: Mapped[str | None] = mapped_column(Text)
    # "Report to police if absent more than N hours after due back" (0 to 6; 0 = at once).
    # Clear: the reminder schedule reads it, and a number says nothing about the child.
    report_after_hours: Mapped[int] = mapped_column(default=0)
    carer_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    carer_signed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    social_worker_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    social_worker_signed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    # Last reviewed (signed off by both): the next review is due 6 months on, or sooner after
    # an episode (plan_rules.review_due_at).
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    child: Mapped[Child] = relationship()

    content = SealedAttribute("content_enc", "risk_plan", "content", default={})

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<RiskPlan {self.id}>"
