"""Organisations, users and the records that protect sign-in."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db_types import UTCDateTime, new_id, utcnow
from webapp.extensions import db


class OrgKind(StrEnum):
    LOCAL_AUTHORITY = "local_authority"
    TEAM = "team"
    SCHOOL = "school"
    PROVIDER = "provider"  # placement provider: children's home, fostering agency, family home


class Role(StrEnum):
    WORKER = "worker"  # return interview worker
    SOCIAL_WORKER = "social_worker"
    MANAGER = "manager"
    DSL = "dsl"  # school designated safeguarding lead
    CARER = "carer"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.WORKER: "Return interview worker",
    Role.SOCIAL_WORKER: "Social worker",
    Role.MANAGER: "Manager",
    Role.DSL: "Designated safeguarding lead",
    Role.CARER: "Carer",
    Role.ADMIN: "Administrator",
}


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    ons_code: Mapped[str | None] = mapped_column(String(9), unique=True)  # local authorities
    urn: Mapped[str | None] = mapped_column(String(8), unique=True)  # schools
    # Teams, schools and providers belong to a local authority.
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))

    parent: Mapped[Organisation | None] = relationship(remote_side="Organisation.id")

    def __repr__(self) -> str:
        return f"<Organisation {self.kind} {self.id}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    # Local authority for staff; school for a DSL; placement provider for a carer.
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the session identity: bumping it signs the user out everywhere.
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship(foreign_keys=[organisation_id])
    team: Mapped[Organisation | None] = relationship(foreign_keys=[team_id])

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def authority_id(self) -> str:
        """The local authority whose records this user works within."""
        org = self.organisation
        if org.kind == OrgKind.LOCAL_AUTHORITY:
            return org.id
        return org.parent_id or org.id

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[Role(self.role)]

    def __repr__(self) -> str:
        return f"<User {self.role} {self.id}>"


class LoginThrottle(db.Model):
    """Consecutive sign-in failures of one account or one address, shared by every process.

    The key is a hash of "account:<email>" or "address:<ip>": whatever was typed in the email
    box (sometimes a password) is never kept. Rows are changed only by single atomic UPDATEs
    (webapp/accounts/service.py), so parallel attempts cannot lose a count.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No attempt is checked before this time: the growing delay, or an attempt in flight.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
