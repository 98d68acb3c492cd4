"""Passwords, sign-in throttling and account changes. No request objects here."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import threading
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import case, or_, select, update
from zxcvbn import zxcvbn

from webapp import audit
from webapp.accounts import sessions
from webapp.accounts.models import (
    REQUIRED_ROLES,
    LoginThrottle,
    Organisation,
    OrgKind,
    Role,
    SecondFactor,
    User,
)
from webapp.db_types import utcnow
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db

# Argon2id, chosen rather than the library default (t=3, 64 MiB, 4 lanes: ~170 ms here and both
# cores at once). 46 MiB and 2 passes in one lane is above OWASP's minimum (46 MiB, t=1) and
# verifies in ~75 ms on one core of this 2-core machine; check_needs_rehash moves old hashes to
# these parameters at their next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=47104, parallelism=1)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so the timing stays the same. Made at first
    use, not at import: every process (each `homeward` command too) paid a hash to start."""
    return _hasher.hash("not a real password")


# At most one hash per core at a time in this process: a burst of sign-ins queues here, among
# itself, instead of taking every core from the requests that only read a page.
_CORES = max(1, os.cpu_count() or 1)
_HASH_SLOTS = threading.BoundedSemaphore(_CORES)
# And at most as many again waiting: a waiting sign-in holds one of gunicorn's threads (8 by
# default), so the rest of a burst is told "busy" at once and the other threads stay free for
# phones syncing and pages loading.
_HASH_ADMISSION = threading.BoundedSemaphore(2 * _CORES)
# A phone gives up after 15 s; past this wait, say "busy" rather than answer too late.
_HASH_WAIT_SECONDS = 10.0

# 12 characters: a three-word passphrase fits easily, and with the common-password check it puts
# an offline guess of a stolen hash out of reach; NCSC and NIST SP 800-63B favour length plus a
# blocklist over composition rules, which people meet with "Password1!".
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000
# At least 10^9 guesses by zxcvbn's estimate, after its lists of common passwords, words, names,
# keyboard patterns and the person's own name and email (its score 3 starts at 10^8, which
# lets "firstname-lastname-1" through).
MIN_PASSWORD_GUESSES_LOG10 = 9
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters are plenty to judge

# The growing delay: the nth consecutive failure makes the next attempt wait 2^n s, at most 60.
MAX_DELAY_SECONDS = 60


class PasswordRejected(ValueError):
    """A new password that breaks the policy; the message says why, for the person choosing it."""


class LoginThrottled(Exception):
    def __init__(self, retry_after: timedelta):
        self.seconds = max(1, int(-(-retry_after.total_seconds() // 1)))
        unit = "second" if self.seconds == 1 else "seconds"
        super().__init__(f"Too many failed attempts. Try again in {self.seconds} {unit}.")


class ServerBusy(Exception):
    """Too many passwords being checked at once: try again in a moment."""


@dataclass(frozen=True)
class Throttle:
    # Failures older than this are forgotten: yesterday's typo does not start today at 2^5 s.
    window: timedelta


def check_password_policy(password: str, *, email: str = "", name: str = "") -> None:
    """PasswordRejected with a message to show, for a password too short or too guessable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"Password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected(f"Password must be {MAX_PASSWORD_LENGTH} characters or fewer")
    personal = [p for p in [email.partition("@")[0], *name.split()] if p]
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=personal)
    if result["guesses_log10"] < MIN_PASSWORD_GUESSES_LOG10:
        own = any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"])
        warning = (
            "It contains your name or email address"
            if own
            else result["feedback"].get("warning") or "This password is too easy to guess."
        )
        raise PasswordRejected(
            f"{warning.rstrip('.')}. Choose a longer password, for example three or four "
            "unrelated words."
        )


@contextmanager
def _hash_slot():
    if not _HASH_ADMISSION.acquire(blocking=False):
        raise ServerBusy("Many people are signing in at once. Try again in a few seconds.")
    try:
        if not _HASH_SLOTS.acquire(timeout=_HASH_WAIT_SECONDS):
            raise ServerBusy("Homeward is busy. Try again in a few seconds.")
        try:
            yield
        finally:
            _HASH_SLOTS.release()
    finally:
        _HASH_ADMISSION.release()


def _hash(password: str) -> str:
    with _hash_slot():
        return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    with _hash_slot():
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def hash_password(password: str, *, email: str = "", name: str = "") -> str:
    check_password_policy(password, email=email, name=name)
    return _hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _delay(failures: int) -> timedelta:
    return (
        timedelta(seconds=min(2 ** min(failures, 10), MAX_DELAY_SECONDS))
        if failures
        else (timedelta(0))
    )


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


_T = LoginThrottle.__table__


def _ensure_row(key: str) -> None:
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    db.session.execute(
        upsert(_T).values(key=key, failures=0).on_conflict_do_nothing(index_elements=["key"])
    )


def _live_failures(row, now: datetime, throttle: Throttle) -> int:
    if row.last_failure_at is None or row.last_failure_at < now - throttle.window:
        return 0
    return row.failures


def _refuse_if_waiting(key: str, now: datetime) -> None:
    not_before = db.session.scalar(select(_T.c.not_before).where(_T.c.key == key))
    if not_before is not None and not_before > now:
        raise LoginThrottled(not_before - now)


def _claim(key: str, now: datetime, throttle: Throttle) -> None:
    """Reserve the account's next attempt, or LoginThrottled.

    The reservation is a compare-and-set on the failure count, so of parallel guesses exactly
    one is checked; the others wait as if it had failed (it holds the delay a failure would set).
    """
    _ensure_row(key)
    row = db.session.execute(select(_T).where(_T.c.key == key)).one()
    if row.not_before is not None and row.not_before > now:
        db.session.commit()
        raise LoginThrottled(row.not_before - now)
    hold = _delay(_live_failures(row, now, throttle) + 1)
    claimed = db.session.execute(
        update(_T)
        .where(
            _T.c.key == key,
            _T.c.failures == row.failures,
            or_(_T.c.not_before.is_(None), _T.c.not_before <= now),
        )
        .values(not_before=now + hold)
    ).rowcount
    db.session.commit()  # visible to every other process before the password is checked
    if claimed != 1:
        raise LoginThrottled(hold)


def _record_failure(key: str, now: datetime, throttle: Throttle) -> None:
    _ensure_row(key)
    # One UPDATE reads and increments: two parallel failures both count (no read-then-write).
    failures = db.session.execute(
        update(_T)
        .where(_T.c.key == key)
        .values(
            failures=case(
                (
                    or_(
                        _T.c.last_failure_at.is_(None),
                        _T.c.last_failure_at < now - throttle.window,
                    ),
                    1,
                ),
                else_=_T.c.failures + 1,
            ),
            last_failure_at=now,
        )
        .returning(_T.c.failures)
    ).scalar_one()
    # Still inside the transaction that holds the row: the delay matches the count.
    db.session.execute(update(_T).where(_T.c.key == key).values(not_before=now + _delay(failures)))


def _reset(key: str) -> None:
    db.session.execute(
        update(_T).where(_T.c.key == key).values(failures=0, last_failure_at=None, not_before=None)
    )


def failures_of(email: str) -> int:
    """Consecutive failed sign-ins counted for an account (for tests and the admin page)."""
    return (
        db.session.scalar(
            select(_T.c.failures).where(_T.c.key == _key("account", normalise_email(email)))
        )
        or 0
    )


def authenticate(email: str, password: str, ip: str, throttle: Throttle) -> User | None:
    """The user if the password is right; None if not; LoginThrottled while a delay runs.

    Throttled attempts are refused before the password is checked and do not count, so
    guessing gains nothing from them and an attacker cannot push the delay past 60 s.
    """
    email = normalise_email(email)
    now = utcnow()
    account, address = _key("account", email), _key("address", ip)
    _refuse_if_waiting(address, now)
    _claim(account, now, throttle)
    user = db.session.scalar(select(User).where(User.email == email))
    try:
        ok = _verify(user.password_hash if user else _dummy_hash(), password)
    except ServerBusy:
        _reset_claim(account, now)
        raise
    ok = ok and user is not None and user.active
    if ok:
        _reset(account)
        _reset(address)
        if _hasher.check_needs_rehash(user.password_hash):
            with suppress(ServerBusy):  # upgraded at a quieter sign-in
                user.password_hash = _hash(password)
        if second_step(user) is None:
            user.last_login_at = now
            audit.record("sign_in", "user", user.id, user_id=user.id)
        else:
            # Not signed in yet: the second factor follows (second_factor.verify records the
            # sign-in). The password is right, and the audit says so.
            audit.record("sign_in_password", "user", user.id, user_id=user.id)
    else:
        _record_failure(account, now, throttle)
        _record_failure(address, now, throttle)
        if user is not None:
            audit.record("sign_in_failed", "user", user.id, user_id=user.id)
    db.session.commit()
    return user if ok else None


def second_step(user: User) -> str | None:
    """What must follow a right password: "code" (a confirmed second factor), "enrol" (none, and
    the role requires one: REQUIRED_ROLES), or None (signed in at once)."""
    factor = db.session.get(SecondFactor, user.id)
    if factor is not None and factor.confirmed_at is not None:
        return "code"
    return "enrol" if user.role in REQUIRED_ROLES else None


def _reset_claim(key: str, now: datetime) -> None:
    # The password was never checked: give the reservation back.
    db.session.execute(update(_T).where(_T.c.key == key).values(not_before=now))
    db.session.commit()


def sign_out_everywhere(user: User) -> None:
    sessions.end_all(user, sessions.SIGN_OUT_EVERYWHERE)
    audit.record("sign_out_everywhere", "user", user.id)
    db.session.commit()


def _expected_org_kind(role: str) -> OrgKind:
    return {
        Role.DSL: OrgKind.SCHOOL,
        Role.CARER: OrgKind.PROVIDER,
    }.get(Role(role), OrgKind.LOCAL_AUTHORITY)


def _unusable_hash() -> str:
    # An account waiting for its set-password link: no password typed can match this.
    return "!unset:" + secrets.token_hex(16)


def create_user(
    *,
    email: str,
    name: str,
    password: str | None,
    role: str,
    organisation: Organisation,
    team: Organisation | None = None,
) -> User:
    """A new account. Without a password it can only be used through a set-password link."""
    Role(role)  # ValueError for an unknown role
    expected = _expected_org_kind(role)
    if organisation.kind != expected:
        raise ValueError(f"A {role} belongs to a {expected.value.replace('_', ' ')}")
    email = normalise_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise ValueError("A user with that email address already exists")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=(
            hash_password(password, email=email, name=name) if password else _unusable_hash()
        ),
        role=role,
        organisation=organisation,
        team=team,
    )
    db.session.add(user)
    db.session.flush()
    audit.record("create", "user", user.id)
    return user


# Account life cycle. `actor` is the administrator doing it, or None for the `homeward` command
# run on the server (whoever can run it already holds the database).


def _may_administer(actor: User | None, user: User) -> bool:
    if actor is None:
        return True
    return actor.role == Role.ADMIN and actor.authority_id == user.authority_id


def users_of_authority(actor: User) -> list[User]:
    """Every account in the administrator's authority: its staff, schools and providers."""
    if actor.role != Role.ADMIN:
        raise NotAllowed("Only administrators manage accounts")
    authority = actor.authority_id
    return list(
        db.session.scalars(
            select(User)
            .join(Organisation, User.organisation_id == Organisation.id)
            .where(or_(Organisation.id == authority, Organisation.parent_id == authority))
            .order_by(User.active.desc(), User.name)
        )
    )


def user_for(actor: User | None, user_id: str) -> User:
    user = db.session.get(User, user_id)
    if user is None or not _may_administer(actor, user):
        raise NotAllowed("No such user")
    return user


def user_by_email(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotAllowed("No user with that email address")
    return user


def teams_for(user: User) -> list[Organisation]:
    return list(
        db.session.scalars(
            select(Organisation)
            .where(Organisation.kind == OrgKind.TEAM, Organisation.parent_id == user.authority_id)
            .order_by(Organisation.name)
        )
    )


def roles_for(user: User) -> list[Role]:
    """Roles the account can hold in its organisation (a carer belongs to a provider, ...)."""
    return [r for r in Role if _expected_org_kind(r) == user.organisation.kind]


def _end_sessions_and_devices(actor: User | None, user: User) -> int:
    from webapp.devices import service as devices

    sessions.end_all(user, sessions.DEACTIVATED)
    db.session.flush()
    revoked = 0
    for device in devices.own_devices(user):
        if device.revoked_at is None:
            devices.revoke(actor or user, device.id, user.id)
            revoked += 1
    return revoked


def deactivate(actor: User | None, user: User) -> int:
    """No more sign-in; every session ends and every device is revoked (its data wiped when it
    next connects). Answers how many devices were revoked."""
    if not _may_administer(actor, user):
        raise NotAllowed("No such user")
    if actor is not None and actor.id == user.id:
        raise RuleError(None, "You cannot deactivate your own account")
    user.active = False
    audit.record("deactivate", "user", user.id)
    revoked = _end_sessions_and_devices(actor, user)
    db.session.commit()
    return revoked


def reactivate(actor: User | None, user: User) -> None:
    if not _may_administer(actor, user):
        raise NotAllowed("No such user")
    user.active = True
    _reset(_key("account", user.email))  # tries while it was inactive were bound to fail
    audit.record("reactivate", "user", user.id)
    db.session.commit()


def change_role_and_team(
    actor: User | None, user: User, role: str, team_id: str | None
) -> list[str]:
    """Answers the names of what changed (for the audit and the confirmation)."""
    if not _may_administer(actor, user):
        raise NotAllowed("No such user")
    try:
        new_role = Role(role)
    except ValueError:
        raise RuleError("role", "Choose a role") from None
    if new_role not in roles_for(user):
        raise RuleError("role", "That role does not belong in this user's organisation")
    if actor is not None and actor.id == user.id and new_role != user.role:
        raise RuleError("role", "You cannot change your own role")
    team = None
    if team_id:
        team = next((t for t in teams_for(user) if t.id == team_id), None)
        if team is None:
            raise RuleError("team", "Choose a team of this authority")
        if user.organisation.kind != OrgKind.LOCAL_AUTHORITY:
            raise RuleError("team", "Only staff of the authority belong to a team")
    changed = []
    if new_role != user.role:
        user.role = new_role.value
        changed.append("role")
    if (team.id if team else None) != user.team_id:
        user.team = team
        changed.append("team")
    if changed:
        audit.record("update", "user", user.id, detail=",".join(changed))
        db.session.commit()
    return changed


# Set-password links: signed (itsdangerous) with the app's secret, valid for a day, and bound to a
# fingerprint of the current password hash and session epoch, so the first use (which changes
# the hash) or a deactivation kills every link issued before.

RESET_MAX_AGE = timedelta(hours=24)
_RESET_SALT = "homeward.set-password"


def _fingerprint(user: User) -> str:
    raw = f"{user.password_hash}:{user.session_epoch}:{int(user.active)}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_RESET_SALT)


def issue_reset_token(actor: User | None, user: User, secret_key: str) -> str:
    """A one-time set-password code for `user`; shown once to whoever issued it, never stored."""
    if not _may_administer(actor, user):
        raise NotAllowed("No such user")
    if not user.active:
        raise RuleError(None, "Reactivate the account before resetting its password")
    audit.record("password_reset_issued", "user", user.id)
    db.session.commit()
    return _reset_serializer(secret_key).dumps({"u": user.id, "f": _fingerprint(user)})


class InvalidResetToken(Exception):
    """The link is wrong, out of date or already used."""


def user_for_reset_token(token: str, secret_key: str) -> User:
    try:
        data = _reset_serializer(secret_key).loads(
            token, max_age=int(RESET_MAX_AGE.total_seconds())
        )
    except (BadSignature, TypeError, ValueError):
        raise InvalidResetToken from None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if (
        user is None
        or not user.active
        or not hmac.compare_digest(str(data.get("f")), _fingerprint(user))
    ):
        raise InvalidResetToken
    return user


def set_password_with_token(token: str, new_password: str, secret_key: str) -> User:
    """Use a set-password link: the new password, every old session ended, the link spent."""
    user = user_for_reset_token(token, secret_key)
    user.password_hash = hash_password(new_password, email=user.email, name=user.name)
    sessions.end_all(user, sessions.CREDENTIALS_RESET)
    _reset(_key("account", user.email))
    audit.record("password_reset", "user", user.id, user_id=user.id)
    db.session.commit()
    return user


def change_own_password(user: User, current: str, new_password: str) -> None:
    """RuleError on the field at fault. Other sessions of the user end; the caller starts a new
    one for this browser."""
    if not _verify(user.password_hash, current):
        raise RuleError("current_password", "Your current password is not right")
    if new_password == current:
        raise RuleError("new_password", "Choose a password different from your current one")
    try:
        user.password_hash = hash_password(new_password, email=user.email, name=user.name)
    except PasswordRejected as exc:
        raise RuleError("new_password", str(exc)) from None
    sessions.end_all(user, sessions.CREDENTIALS_CHANGED)
    audit.record("password_change", "user", user.id, user_id=user.id)
    db.session.commit()
