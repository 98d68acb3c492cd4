"""What a school's designated safeguarding lead records about a pupil's absence.

The school's management information system keeps the legal register; these rows are the
safeguarding layer on top of it: the sessions the DSL marked absent, the follow-up an unexplained
absence opens, each reasonable enquiry, the always-refer checklist and its referral, and what the
school told the authority (part J's worklist). Everything a person wrote (an enquiry's outcome,
the checklist's answers, a referral's reference) is sealed; only what a query, a count of school
days or the reminder schedule must read stays clear: dates, codes, kinds and states.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.children.models import Child
from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db
from webapp.sealed import SealedAttribute

# The 2024 attendance codes (Working together to improve school attendance, August 2024), in the
# order a register lists them. The MIS holds the legal register; these are the DSL's record of
# what it said, so an absence can open a safeguarding follow-up.
ATTENDANCE_CODES: dict[str, str] = {
    "/": "Present (morning)",
    "\\": "Present (afternoon)",
    "L": "Late arrival before the register closed",
    "K": "Attending education provision arranged by the local authority",
    "V": "Attending an educational visit or trip",
    "P": "Participating in a sporting activity",
    "W": "Attending work experience",
    "B": "Attending any other approved educational activity",
    "D": "Dual registered: at another school",
    "C1": "Leave of absence: regulated performance or employment abroad",
    "M": "Leave of absence: medical or dental appointment",
    "J1": "Leave of absence: interview for employment or another school",
    "S": "Leave of absence: studying for a public examination",
    "X": "Not of compulsory school age, not required to attend",
    "C2": "Leave of absence: part-time timetable",
    "C": "Leave of absence: exceptional circumstances",
    "T": "Parent travelling for occupational purposes",
    "R": "Religious observance",
    "I": "Illness (not a medical or dental appointment)",
    "E": "Suspended or excluded, no alternative provision made",
    "Q": "Unable to attend: lack of access arrangements",
    "Y1": "Unable to attend: transport not available",
    "Y2": "Unable to attend: widespread disruption to travel",
    "Y3": "Unable to attend: part of the school premises closed",
    "Y4": "Unable to attend: whole school site unexpectedly closed",
    "Y5": "Unable to attend: in criminal justice detention",
    "Y6": "Unable to attend: public health guidance or law",
    "Y7": "Unable to attend: other unavoidable cause",
    "G": "Holiday not granted by the school",
    "N": "Reason for absence not yet established",
    "O": "Absent in other or unknown circumstances",
    "U": "Arrived after the register closed",
    "Z": "Prospective pupil not on the admission register",
    "#": "Planned whole school closure",
}
NO_REASON_YET = ""  # recorded before any code is known: opens a follow-up like N
NO_REASON_YET_LABEL = "No reason yet"
UNAUTHORISED = frozenset({"G", "N", "O", "U"})
PRESENT = frozenset({"/", "\\", "L"})
ILLNESS = "I"


class Session(StrEnum):
    AM = "am"
    PM = "pm"


SESSION_LABELS = {Session.AM: "Morning", Session.PM: "Afternoon"}


class FollowUpStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


CLOSED_REASON_LABELS = {
    "seen_safe": "Seen safe",
    "returned": "Back in school",
    "removed_from_roll": "Removed from roll",
    "other": "Other",
}

ENQUIRY_KIND_LABELS = {
    "parent_call": "Call to parent or carer",
    "other_contacts": "Other contacts on file",
    "siblings_school": "Siblings' school",
    "friends": "Friends",
    "letter": "Letter",
    "home_visit": "Home visit",
    "la_consultation": "Consultation with the local authority",
}

REFERRED_TO_LABELS = {"social_care": "Children's social care", "police": "Police"}

NOTIFICATION_KIND_LABELS = {
    "ews_day3": "Education Welfare Service contacted",
    "notify_day10": "10-day notification sent to the authority",
    "illness_day15": "Sickness return sent to the authority",
    "joint_enquiries_day20": "20 days: authority notified for joint enquiries",
    "referral": "Referral recorded",
    "missing_in_school_day": "Missing during the school day",
}


class Absence(db.Model):
    """One session (morning or afternoon) the DSL recorded a pupil absent, with its code."""

    __tablename__ = "school_absences"
    # One row per pupil per session: the register screen saves over what it said before.
    __table_args__ = (UniqueConstraint("child_id", "on", "session"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    on: Mapped[date] = mapped_column(index=True)
    session: Mapped[str] = mapped_column(String(2))
    code: Mapped[str] = mapped_column(String(2), default=NO_REASON_YET)
    recorded_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    followup_id: Mapped[str | None] = mapped_column(ForeignKey("school_followups.id"), index=True)

    child: Mapped[Child] = relationship()

    @property
    def code_label(self) -> str:
        return ATTENDANCE_CODES.get(self.code, NO_REASON_YET_LABEL)

    def __repr__(self) -> str:
        return f"<Absence {self.id}>"


class FollowUp(db.Model):
    """The school's safeguarding follow-up of an unexplained absence, open until the pupil is
    seen safe, back, or removed from roll. Its school days are counted from `opened_on`."""

    __tablename__ = "school_followups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    opened_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default=FollowUpStatus.OPEN, index=True)
    closed_reason: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Illness expected to reach 15 school days: the sickness return replaces the 10-day one.
    illness: Mapped[bool] = mapped_column(default=False)
    # Whereabouts unknown: the 20-day joint enquiries with the CME officer apply.
    whereabouts_unknown: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    child: Mapped[Child] = relationship()
    enquiries: Mapped[list[Enquiry]] = relationship(
        back_populates="followup", order_by="Enquiry.at"
    )
    referrals: Mapped[list[Referral]] = relationship(
        back_populates="followup", order_by="Referral.checked_at"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return self.status == FollowUpStatus.OPEN

    def __repr__(self) -> str:
        return f"<FollowUp {self.id}>"


class Enquiry(db.Model):
    """One reasonable enquiry: a contact attempt, when, and what came of it (sealed)."""

    __tablename__ = "school_enquiries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    followup_id: Mapped[str] = mapped_column(ForeignKey("school_followups.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))
    # Sealed: what the parent, the friend or the other school said names people and places.
    outcome_enc: Mapped[str | None] = mapped_column(Text)
    seen_safe: Mapped[bool] = mapped_column(default=False)
    recorded_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    followup: Mapped[FollowUp] = relationship(back_populates="enquiries")

    outcome = SealedAttribute("outcome_enc", "school_enquiry", "outcome")

    @property
    def kind_label(self) -> str:
        return ENQUIRY_KIND_LABELS.get(self.kind, self.kind)

    def __repr__(self) -> str:
        return f"<Enquiry {self.id}>"


class Referral(db.Model):
    """The always-refer checklist as answered, and the referral it called for.

    Answered first (`checked_at`, answers sealed); when any answer is yes (`any_yes`, clear so
    the reminder schedule can find a yes with no referral yet) the DSL records to whom, when and
    the reference. All no: the row keeps the answers and no referral is needed."""

    __tablename__ = "school_referrals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    followup_id: Mapped[str] = mapped_column(ForeignKey("school_followups.id"), index=True)
    # Sealed {question: "yes"|"no"|"", ..., "notes": text}.
    answers_enc: Mapped[str | None] = mapped_column(Text)
    any_yes: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    referred_to: Mapped[str | None] = mapped_column(String(20))
    referred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sealed: the social care or police reference.
    reference_enc: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))

    followup: Mapped[FollowUp] = relationship(back_populates="referrals")

    answers = SealedAttribute("answers_enc", "school_referral", "answers", default={})
    reference = SealedAttribute("reference_enc", "school_referral", "reference")

    @property
    def referral_due(self) -> bool:
        return self.any_yes and self.referred_at is None

    def __repr__(self) -> str:
        return f"<Referral {self.id}>"


class SchoolNotification(db.Model):
    """What the school told the authority, and when: part J's worklist. Kinds and dates only."""

    __tablename__ = "school_notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    followup_id: Mapped[str | None] = mapped_column(ForeignKey("school_followups.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    # The missing-from-school episode a "missing_in_school_day" notification stands for.
    episode_id: Mapped[str | None] = mapped_column(ForeignKey("episodes.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))

    child: Mapped[Child] = relationship()
    followup: Mapped[FollowUp | None] = relationship()

    @property
    def kind_label(self) -> str:
        return NOTIFICATION_KIND_LABELS.get(self.kind, self.kind)

    def __repr__(self) -> str:
        return f"<SchoolNotification {self.id}>"


class SchoolEntry(db.Model):
    """One piece of the DSL's work made on a tablet (an absence, an enquiry, the checklist...),
    kept with the tablet's own id: a second copy of the same entry, however it arrives, is
    refused, so work typed with no signal is applied exactly once (webapp/schools/sync.py).
    What it said lives where the service put it (the absence, the enquiry, sealed); this row
    keeps only what arrived, from whom and when."""

    __tablename__ = "school_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    action: Mapped[str] = mapped_column(String(20))
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(String(36))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<SchoolEntry {self.id}>"
