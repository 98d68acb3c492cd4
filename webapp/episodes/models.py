"""A missing episode: from last seen to returned or found."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import User
from webapp.children.models import Child
from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db
from webapp.sealed import SealedAttribute


class ReportedType(StrEnum):
    # What the reporter saw. The police decide missing or absent; we never pre-judge it.
    NOT_BACK = "not_back"  # not back when expected: the plan's clock to reporting runs
    MISSING = "missing"
    ABSENT = "absent"
    AWAY = "away"  # away from placement without authorisation (looked-after, whereabouts known)


REPORTED_TYPE_LABELS = {
    ReportedType.NOT_BACK: "Not back when expected",
    ReportedType.MISSING: "Missing",
    ReportedType.ABSENT: "Absent",
    ReportedType.AWAY: "Away from placement without authorisation",
}

# What a carer may report (the police decide missing or absent; a carer says what they saw).
# "away" is for a looked-after child only: whereabouts known, never shown as still missing.
CARER_REPORTED_TYPES = (ReportedType.NOT_BACK, ReportedType.MISSING, ReportedType.AWAY)

# The details police ask for when a child is reported (Philomena Protocol part 2), sealed
# together in Episode.report; and the carer's account of the return, in Episode.return_details.
REPORT_FIELDS = (
    "where_last_seen",
    "with_whom",
    "clothing",
    "belongings",
    "money",
    "phone",
    "checks_made",
)
RETURN_FIELDS = ("where_found", "who_with", "welfare")

REPORT_FIELD_LABELS = {
    "where_last_seen": "Where last seen",
    "with_whom": "With whom",
    "clothing": "Clothing",
    "belongings": "Belongings (bag, phone)",
    "money": "Money",
    "phone": "Phone",
    "checks_made": "Checks already made",
}
RETURN_FIELD_LABELS = {
    "where_found": "More about where they were",
    "who_with": "Who they were with",
    "welfare": "First welfare observations",
}

POLICE_CATEGORY_LABELS = {
    "missing": "Missing",
    "absent": "Absent",
    "no_apparent_risk": "No apparent risk",
}

MISSING_FROM_LABELS = {"home": "Home", "placement": "Placement", "school": "School"}

HOW_RETURNED_LABELS = {
    "own_accord": "Returned of their own accord",
    "found_by_police": "Found by police",
    "returned_by_police": "Returned by police",
    "collected_by_carer": "Collected by parent or carer",
    "found_by_other": "Found by someone else",
    "other": "Other",
}

# Where the child was found, or came back from: a code from a fixed list, kept in clear beside
# how_returned so the figures can count it (Kent's protocol asks for patterns of where children
# are found). Like the police category it names a kind of place, never an address: the place
# itself stays in the sealed return details (where_found). Optional: a carer may not know.
FOUND_PLACE_LABELS = {
    "home": "Their home or placement",
    "relative": "A relative's or family friend's home",
    "friend": "A friend's home",
    "address_of_concern": "An address of concern",
    "public_place": "A public place",
    "transport": "A station, bus or train",
    "hospital": "A hospital",
    "police": "A police station or custody",
    "other_area": "Another council's area",
    "somewhere_else": "Somewhere else",
    "not_known": "Not known",
}
# What a choice covers, where its label alone could be read two ways.
FOUND_PLACE_HINTS = {
    "home": "Including when they came back by themselves.",
    "address_of_concern": "For example, the home of an adult known to police or children's "
    "services, or a 'trap house'.",
    "public_place": "For example, a street, park or shopping centre.",
    "transport": "Including bus stations and travelling on public transport.",
    "other_area": "Found outside this council's area, wherever they were.",
}


def found_place_choices() -> list[dict[str, str]]:
    """The choices as field mode asks them (sent in the field schema, webapp/field/views.py), so
    the phone's words are these and never a copy kept by hand."""
    return [
        {
            "value": code,
            "label": label,
            **({"hint": FOUND_PLACE_HINTS[code]} if code in FOUND_PLACE_HINTS else {}),
        }
        for code, label in FOUND_PLACE_LABELS.items()
    ]


class EpisodeStatus(StrEnum):
    MISSING = "missing"
    RETURNED = "returned"
    # Recorded by mistake (a duplicate, the wrong child): kept, with who withdrew it and why
    # (episode_changes), never deleted; it counts for nothing (escalations, clocks, returns).
    WITHDRAWN = "withdrawn"


class Episode(db.Model):
    __tablename__ = "episodes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    reported_type: Mapped[str] = mapped_column(String(10))
    police_category: Mapped[str | None] = mapped_column(String(20))
    # Sealed: no query looks a log number up (see SealedAttribute below).
    police_log_number_enc: Mapped[str | None] = mapped_column(Text)
    missing_from: Mapped[str] = mapped_column(String(10))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reported_to_police_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    how_returned: Mapped[str | None] = mapped_column(String(20))
    # A code of FOUND_PLACE_LABELS (the kind of place, never the address): counted by the figures.
    found_place: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=EpisodeStatus.MISSING, index=True)
    # Where last seen and the circumstances can name people and places: encrypted.
    circumstances_enc: Mapped[str | None] = mapped_column(Text)
    # When the child was due back (a carer's "not back when expected"): the plan's hours to
    # reporting to police run from here.
    due_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sealed {where_last_seen, with_whom, clothing, belongings, money, phone, checks_made}: the
    # details police ask for (Philomena Protocol part 2).
    report_enc: Mapped[str | None] = mapped_column(Text)
    # Sealed {where_found, who_with, welfare}: the carer's report of the return.
    return_enc: Mapped[str | None] = mapped_column(Text)
    # Sealed: what the carer noticed, for the return interview (the worker reads it).
    carer_notes_enc: Mapped[str | None] = mapped_column(Text)
    # The police's safe-and-well check after the return: when, and by whom (sealed: a name).
    safe_and_well_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    safe_and_well_by_enc: Mapped[str | None] = mapped_column(Text)
    reported_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    child: Mapped[Child] = relationship()

    police_log_number = SealedAttribute("police_log_number_enc", "episode", "police_log_number")
    report = SealedAttribute("report_enc", "episode", "report", default={})
    return_details = SealedAttribute("return_enc", "episode", "return", default={})
    carer_notes = SealedAttribute("carer_notes_enc", "episode", "carer_notes")
    safe_and_well_by = SealedAttribute("safe_and_well_by_enc", "episode", "safe_and_well_by")

    __mapper_args__ = {"version_id_col": version}

    @property
    def reported_type_label(self) -> str:
        return REPORTED_TYPE_LABELS[ReportedType(self.reported_type)]

    @property
    def how_returned_label(self) -> str | None:
        return HOW_RETURNED_LABELS.get(self.how_returned or "")

    @property
    def found_place_label(self) -> str | None:
        return FOUND_PLACE_LABELS.get(self.found_place or "")

    def __repr__(self) -> str:
        return f"<Episode {self.id}>"


class EscalationAction(db.Model):
    """What was done about one escalation of an episode (webapp/episodes/tasks.py): the Need to
    Know sent, a meeting held, a referral made, the visit done or the team manager's agreed
    exception. Recording it closes the task and its reminders; one per escalation. Who was told
    or attended and the outcome name people: sealed. The code, kind and times stay clear for the
    worklists and the reminder schedule."""

    __tablename__ = "escalation_actions"
    __table_args__ = (UniqueConstraint("episode_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    episode_id: Mapped[str] = mapped_column(ForeignKey("episodes.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Sealed {"who": ..., "note": ...}.
    details_enc: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    episode: Mapped[Episode] = relationship()

    details = SealedAttribute("details_enc", "escalation_action", "details", default={})

    def __repr__(self) -> str:
        return f"<EscalationAction {self.episode_id} {self.code}>"


class EpisodeChange(db.Model):
    """One correction of an episode's facts (its type, when last seen, when back): who made it,
    when, which fields (clear) and, sealed, what they said before and after and why."""

    __tablename__ = "episode_changes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    episode_id: Mapped[str] = mapped_column(ForeignKey("episodes.id"), index=True)
    changed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fields: Mapped[str] = mapped_column(String(200))
    # Sealed {"before": {field: text}, "after": {field: text}, "reason": text}.
    values_enc: Mapped[str | None] = mapped_column(Text)

    changed_by: Mapped[User | None] = relationship()

    values = SealedAttribute("values_enc", "episode_change", "values", default={})

    def __repr__(self) -> str:
        return f"<EpisodeChange {self.episode_id} {self.fields}>"
