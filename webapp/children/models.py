"""The child: identity, legal status, where they live and learn, and standing risk flags."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, event, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import Organisation, User
from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db
from webapp.sealed import SealedAttribute


class LegalStatus(StrEnum):
    LOOKED_AFTER = "looked_after"
    CP_PLAN = "cp_plan"
    CHILD_IN_NEED = "child_in_need"
    S47 = "s47"
    EARLY_HELP = "early_help"
    NONE = "none"


LEGAL_STATUS_LABELS = {
    LegalStatus.LOOKED_AFTER: "Looked after",
    LegalStatus.CP_PLAN: "Child protection plan",
    LegalStatus.CHILD_IN_NEED: "Child in need",
    LegalStatus.S47: "Subject of section 47 enquiries",
    LegalStatus.EARLY_HELP: "Early help",
    LegalStatus.NONE: "None",
}

SEX_LABELS = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Not known"}

FLAG_LABELS = {
    "flag_cse": "Risk of sexual exploitation",
    "flag_trafficking": "Trafficking or unaccompanied asylum seeking",
    "flag_mental_health": "Mental health",
    "flag_disability": "Disability",
}


def _flag(key: str) -> property:
    """One risk flag as a plain bool attribute over the sealed set of flags."""

    def get(child: Child) -> bool:
        return bool(child.sealed_flags.get(key))

    def set_(child: Child, on: bool) -> None:
        child.sealed_flags = {**child.sealed_flags, key: int(bool(on))}

    return property(get, set_)


def _all_flags(values: dict) -> dict[str, int]:
    # Every flag, 0 or 1: the same length of plaintext for every child, so the length of the
    # ciphertext says nothing about how many flags a child has.
    return {key: int(bool(values.get(key))) for key in FLAG_LABELS}


class Child(db.Model):
    __tablename__ = "children"
    # A UPN names one pupil within one school: the school's MIS import matches its rows to
    # pupils already here by it. NULLs (children no school has given a UPN) never clash.
    __table_args__ = (
        Index("uq_children_school_id_upn", "school_id", "upn", unique=True),
        Index(
            "uq_children_responsible_authority_id_authority_child_id",
            "responsible_authority_id",
            "authority_child_id",
            unique=True,
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(index=True)
    sex: Mapped[str] = mapped_column(String(10))
    legal_status: Mapped[str] = mapped_column(String(20), default=LegalStatus.NONE)
    looked_after: Mapped[bool] = mapped_column(default=False)
    # When the current period of care began (None: not looked after, or not yet recorded). A
    # missing episode the SSDA903 return counts must start inside it (DfE rule 581).
    looked_after_since: Mapped[date | None] = mapped_column()
    # When the child died, if they did: a looked-after child who died before 18 is kept 15 years
    # from this date instead of to the 75th birthday (webapp/retention/rules.py).
    died_on: Mapped[date | None] = mapped_column()
    responsible_authority_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    # An out-of-area placement: the host authority must know about episodes too.
    host_authority_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id"), index=True
    )
    placement_provider_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    carer_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    school_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    social_worker_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The independent reviewing officer of a looked-after child: told of every episode.
    iro_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The DfE Unique Pupil Number (a check letter and 12 characters: schools/pupil_rules.py)
    # and the year group (R, 1..13), kept by the school. The UPN stays in clear: the import's query
    # needs it to find the pupil a row is about; it says nothing sensitive about the child.
    upn: Mapped[str | None] = mapped_column(String(13))
    year_group: Mapped[str | None] = mapped_column(String(3))
    # The authority's own identifier for the child: the CHILD column of the SSDA903 return.
    # Unique within the responsible authority (a NULL never clashes).
    authority_child_id: Mapped[str | None] = mapped_column(String(20))
    # The risk flags are special-category data no query needs: one sealed {flag: 0|1} for all
    # of FLAG_LABELS, written for every child, so neither NULL nor length tells anything.
    flags_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    responsible_authority: Mapped[Organisation] = relationship(
        foreign_keys=[responsible_authority_id]
    )
    host_authority: Mapped[Organisation | None] = relationship(foreign_keys=[host_authority_id])
    placement_provider: Mapped[Organisation | None] = relationship(
        foreign_keys=[placement_provider_id]
    )
    school: Mapped[Organisation | None] = relationship(foreign_keys=[school_id])
    carer: Mapped[User | None] = relationship(foreign_keys=[carer_id])
    social_worker: Mapped[User | None] = relationship(foreign_keys=[social_worker_id])
    iro: Mapped[User | None] = relationship(foreign_keys=[iro_id])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    _sealed_flags = SealedAttribute("flags_enc", "child", "flags", default={})
    flag_cse = _flag("flag_cse")
    flag_trafficking = _flag("flag_trafficking")
    flag_mental_health = _flag("flag_mental_health")
    flag_disability = _flag("flag_disability")

    @property
    def sealed_flags(self) -> dict[str, int]:
        return _all_flags(self._sealed_flags)

    @sealed_flags.setter
    def sealed_flags(self, values: dict) -> None:
        self._sealed_flags = _all_flags(values)

    @property
    def flags(self) -> list[str]:
        on = self.sealed_flags
        return [label for key, label in FLAG_LABELS.items() if on[key]]

    @property
    def legal_status_label(self) -> str:
        return LEGAL_STATUS_LABELS[LegalStatus(self.legal_status)]

    def age_on(self, day: date) -> int:
        years = day.year - self.date_of_birth.year
        if (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day):
            years -= 1
        return years

    def __repr__(self) -> str:  # never the name: reprs end up in logs
        return f"<Child {self.id}>"


# Finding a child by the start of a name in any case (children.service.find_children); on
# PostgreSQL a pattern operator class lets the index serve LIKE whatever the collation.
for _name in ("first_name", "last_name"):
    Index(
        f"ix_children_lower_{_name}",
        func.lower(getattr(Child, _name)).label(f"lower_{_name}"),
        postgresql_ops={f"lower_{_name}": "text_pattern_ops"},
    )


@event.listens_for(Child, "before_insert")
def _seal_no_flags(mapper, connection, child: Child) -> None:
    if child.flags_enc is None:
        child.sealed_flags = {}


class ChildChange(db.Model):
    """One correction of a child's record: who made it, when, which fields (clear, for the
    history's list) and what they said before and after (sealed: names, statuses, people)."""

    __tablename__ = "child_changes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    child_id: Mapped[str] = mapped_column(ForeignKey("children.id"), index=True)
    changed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fields: Mapped[str] = mapped_column(String(400))  # comma-separated field names
    # Sealed {"before": {field: label}, "after": {field: label}}.
    values_enc: Mapped[str | None] = mapped_column(Text)

    changed_by: Mapped[User | None] = relationship()

    values = SealedAttribute("values_enc", "child_change", "values", default={})

    def __repr__(self) -> str:
        return f"<ChildChange {self.child_id} {self.fields}>"
