"""Organisations, users and the records that protect sign-in."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, String, Text
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
    # Independent reviewing officer of the local authority: reviews a looked-after child's care
    # plan, so is told of every episode of the children allocated to them (DOMAIN.md).
    IRO = "iro"
    # Children missing education officer of the local authority: receives the schools'
    # notifications (10 days, 20 days, referrals, missing in the school day) and makes the joint
    # reasonable enquiries with the school (DOMAIN.md).
    CME = "cme"
    # Assistant Director or service manager of the local authority: receives Need to Know when a
    # child has been missing 24 hours, and reads the authority's children (DOMAIN.md). Acts on
    # nothing here: the managers do.
    SENIOR_MANAGER = "senior_manager"


ROLE_LABELS = {
    Role.WORKER: "Return interview worker",
    Role.SOCIAL_WORKER: "Social worker",
    Role.MANAGER: "Manager",
    Role.DSL: "Designated safeguarding lead",
    Role.CARER: "Carer",
    Role.ADMIN: "Administrator",
    Role.IRO: "Independent reviewing officer",
    Role.CME: "Children missing education officer",
    Role.SENIOR_MANAGER: "Assistant Director or senior manager",
}


# Roles with authority-wide reach: a manager and an Assistant Director read every child of the
# authority, an administrator can give anyone any role, and the children missing education
# officer sees every child the authority's schools have notified. A stolen password of any of
# these opens far more than one caseload, so a password alone is not enough. Workers, social
# workers, IROs, DSLs and carers see their own caseload, school or placement: offered, not
# required (many work on shared or personal phones where an app is a real burden).
REQUIRED_ROLES = frozenset({Role.MANAGER, Role.SENIOR_MANAGER, Role.ADMIN, Role.CME})


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    ons_code: Mapped[str | None] = mapped_column(String(9), unique=True)  # local authorities
    urn: Mapped[str | None] = mapped_column(String(8), unique=True)  # schools
    # Teams, schools and providers belong to a local authority.
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    # A school's calendar is a field-mode record of its DSL's tablet (webapp/schools/sync.py):
    # every change to its terms or closures moves this on (calendar.changed), so the change
    # log sends the calendar again. Not an optimistic lock: nothing compares it.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

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

    # The secret token of the server-side session this request runs under (UserSession), set
    # when a session starts or is loaded. Flask-Login keeps what get_id() answers in the cookie,
    # so the cookie names a session that the server can end, not the user.
    session_token = None  # str | None; a plain attribute, not a column

    def get_id(self) -> str:
        if not self.session_token:
            raise RuntimeError("A user is signed in through webapp.accounts.sessions.start()")
        return self.session_token

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


class UserSession(db.Model):
    """One signed-in session of one user on one device (the `hw_device` cookie of the browser).

    The cookie holds a random token; only its SHA-256 is kept here, so a copy of the database
    signs no one in. Ending a row (sign-out, sign out everywhere, revoking the device, idle)
    ends that session wherever its cookie has been copied to.
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(36), index=True)
    # The user's session_epoch when it started: bumping the epoch ends it even where no code
    # path ended the row itself.
    epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # sign_out, sign_out_everywhere, device_revoked, idle, deactivated, ...
    end_reason: Mapped[str | None] = mapped_column(String(30))


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


class SecondFactor(db.Model):
    """A person's authenticator app (TOTP, RFC 6238): at most one per account.

    The shared secret is sealed (webapp/sealed.py, bound to "second_factor:<user id>:secret"), so
    a copy of the database alone computes no codes. A row without confirmed_at is an enrolment
    begun and not yet proved with a code: it signs no one in.
    """

    __tablename__ = "second_factors"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last time step (Unix time // 30) a code was accepted for: a code is good once, so one
    # read over a shoulder or from a phishing page cannot be used again. Moved only forward, by a
    # compare-and-set UPDATE (webapp/accounts/second_factor.py), so two requests racing with the
    # same code cannot both pass.
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(db.Model):
    """One of the ten codes shown once at enrolment, each good for one sign-in without the phone.

    Only the Argon2 hash is kept, as for passwords."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
