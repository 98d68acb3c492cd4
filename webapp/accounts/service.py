"""Passwords, sign-in throttling and account changes. No request objects here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from webapp import audit
from webapp.accounts.models import LoginAttempt, Organisation, OrgKind, Role, User
from webapp.db_types import utcnow
from webapp.extensions import db

# Argon2id with the library's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
# Verifying against a real hash when the email is unknown keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not a real password")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    window: timedelta
    ip_max_failures: int


class LoginThrottled(Exception):
    def __init__(self, retry_after: timedelta):
        minutes = max(1, int(retry_after.total_seconds() // 60) + 1)
        super().__init__(f"Too many failed attempts. Try again in {minutes} minutes.")
        self.retry_after = retry_after


def _check_throttle(email: str, ip: str, throttle: Throttle, now: datetime) -> None:
    since = now - throttle.window
    last_success = db.session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email, LoginAttempt.success.is_(True)
        )
    )
    start = max(since, last_success) if last_success and last_success > since else since
    failures = db.session.scalars(
        select(LoginAttempt.at)
        .where(
            LoginAttempt.email == email, LoginAttempt.success.is_(False), LoginAttempt.at > start
        )
        .order_by(LoginAttempt.at)
    ).all()
    if len(failures) >= throttle.max_failures:
        raise LoginThrottled(failures[-throttle.max_failures] + throttle.window - now)
    ip_failures = db.session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at > since)
    )
    if ip_failures >= throttle.ip_max_failures:
        raise LoginThrottled(throttle.window)


def authenticate(email: str, password: str, ip: str, throttle: Throttle) -> User | None:
    """The user if the password is right; None if not; LoginThrottled if locked out.

    A throttled attempt is refused before the password is checked, so guessing cannot go on
    through the lock-out.
    """
    email = normalise_email(email)
    now = utcnow()
    _check_throttle(email, ip, throttle, now)
    user = db.session.scalar(select(User).where(User.email == email))
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and user is not None and user.active
    db.session.add(LoginAttempt(email=email, ip=ip, at=now, success=ok))
    if ok:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = now
        audit.record("sign_in", "user", user.id, user_id=user.id)
    db.session.commit()
    return user if ok else None


def sign_out_everywhere(user: User) -> None:
    user.session_epoch += 1
    audit.record("sign_out_everywhere", "user", user.id)
    db.session.commit()


def create_user(
    *,
    email: str,
    name: str,
    password: str,
    role: str,
    organisation: Organisation,
    team: Organisation | None = None,
) -> User:
    Role(role)  # ValueError for an unknown role
    expected = {
        Role.DSL: OrgKind.SCHOOL,
        Role.CARER: OrgKind.PROVIDER,
    }.get(Role(role), OrgKind.LOCAL_AUTHORITY)
    if organisation.kind != expected:
        raise ValueError(f"A {role} belongs to a {expected.value.replace('_', ' ')}")
    email = normalise_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise ValueError("A user with that email address already exists")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        organisation=organisation,
        team=team,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("create", "user", user.id)
    return user
