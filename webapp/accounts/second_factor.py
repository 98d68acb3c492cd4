"""The second factor at sign-in: an authenticator app (TOTP, RFC 6238) and one-time recovery codes.

Who must have one: every role that reaches across the authority (REQUIRED_ROLES). Everyone else
may turn one on from their account page. No request objects here: the views pass the address
and the throttle, as for passwords (webapp/accounts/service.py).

What a code proves and how it is kept:
- the secret is sealed at rest (webapp/sealed.py), bound to the account, so a copy of the
  database (or of its backups) computes no codes without the data keys;
- a TOTP code is good for one sign-in: the last accepted time step is kept and only moved
  forward, by a compare-and-set UPDATE, so a code read over a shoulder, phished, or sent twice
  at once signs in at most once;
- a recovery code is good once, and only its Argon2 hash is kept (like a password);
- wrong codes are throttled exactly like wrong passwords (the same growing delay, per account
  and per network address, in the same table) and audited.
"""

from __future__ import annotations

import hmac
import secrets
import string
from datetime import datetime, timedelta

import pyotp
import segno
from markupsafe import Markup
from sqlalchemy import delete, func, or_, select, update

from webapp import audit, sealed
from webapp.accounts import service, sessions
from webapp.accounts.models import REQUIRED_ROLES, RecoveryCode, SecondFactor, User
from webapp.db_types import utcnow
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db

# Who must have one: REQUIRED_ROLES (webapp/accounts/models.py, beside the roles), and why.

STEP_SECONDS = 30  # RFC 6238's default, what every authenticator app assumes
DIGITS = 6
# One step either side: a phone clock up to ~30 s out, or a code typed as it changed, still works.
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# 10 characters from 31 that cannot be misread (no 0/o, 1/l/i): about 49 bits each. Guessing
# online meets the throttle; guessing a stolen hash meets Argon2.
_RECOVERY_ALPHABET = "".join(c for c in string.ascii_lowercase + string.digits if c not in "01ilo")
_RECOVERY_LENGTH = 10
# An enrolment begun and left: after this, the page starts again with a new secret, so a secret
# that was on screen long ago is not the one finally confirmed.
ENROLMENT_REUSE = timedelta(hours=1)
ISSUER = "Homeward"
_SEAL = ("second_factor", "secret")


class WrongCode(Exception):
    """The code is not right, or was already used. The message is for the person typing it."""


def required_for(role: str) -> bool:
    return role in REQUIRED_ROLES


# ---------------------------------------------------------------- pure rules


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, RFC 4226's recommendation


def normalise(code: str) -> str:
    """What was typed, without the spaces and hyphens people add or apps show."""
    return "".join(c for c in (code or "").lower() if c.isalnum())


def looks_like_totp(code: str) -> bool:
    code = normalise(code)
    return len(code) == DIGITS and code.isdigit()


def step_at(now: float) -> int:
    return int(now // STEP_SECONDS)


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The latest time step within the drift window whose code is `code`, or None.

    Every candidate is compared (in constant time) so the answer's timing says nothing about
    which one matched."""
    code = normalise(code)
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            found = step
    return found


def code_at(secret: str, step: int) -> str:
    """The code an authenticator shows during `step` (tests and the docs' examples)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(step * STEP_SECONDS)


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes as shown to the person: 'abcde-fghij'."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> Markup:
    """The QR code as inline SVG made here on the server: the secret never goes to a third-party
    QR service, and the page needs no script. Presentation attributes only (the CSP forbids
    style attributes); a white quiet zone so a phone reads it whatever the page around it."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, light="#ffffff", dark="#0b0c0c")
    label = '<svg role="img" aria-label="QR code for your authenticator app" '
    # Safe as markup: segno writes only numbers and path data; the URI (with the email address)
    # is in the black and white modules, never in the text.
    return Markup(svg.replace("<svg ", label, 1))  # noqa: S704


# ---------------------------------------------------------------- the account's factor


def _secret_of(row: SecondFactor) -> str:
    return sealed.unseal(row.secret_enc, _SEAL[0], row.user_id, _SEAL[1])


def _seal_secret(user_id: str, secret: str) -> str:
    return sealed.seal(secret, _SEAL[0], user_id, _SEAL[1])


def factor_of(user: User) -> SecondFactor | None:
    """The account's confirmed factor, or None (an enrolment begun is not a factor)."""
    row = db.session.get(SecondFactor, user.id)
    return row if row is not None and row.confirmed_at is not None else None


def has_second_factor(user: User) -> bool:
    return factor_of(user) is not None


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def begin_enrolment(user: User) -> str:
    """The secret to show for enrolment: the one begun in the last hour, or a new one. Commits.

    Kept sealed in the database, not in the session: Flask's session cookie is signed, not
    encrypted, and a secret in it would be readable by anything that sees the cookie."""
    if has_second_factor(user):
        raise RuleError(None, "You already have a second factor set up")
    row = db.session.get(SecondFactor, user.id)
    now = utcnow()
    if row is not None and now - row.created_at < ENROLMENT_REUSE:
        return _secret_of(row)
    secret = new_secret()
    if row is None:
        row = SecondFactor(user_id=user.id)
        db.session.add(row)
    row.secret_enc = _seal_secret(user.id, secret)
    row.created_at = now
    row.last_step = None
    db.session.commit()
    return secret


def _hash_recovery_codes(user: User, codes: list[str], now: datetime) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    for code in codes:
        db.session.add(
            RecoveryCode(user_id=user.id, code_hash=service._hash(normalise(code)), created_at=now)
        )


# ---------------------------------------------------------------- checking a code, throttled


def _throttle_keys(user: User, ip: str) -> tuple[str, str]:
    # Its own per-account key (a wrong code does not lengthen the password's wait, nor the other
    # way round) and the address key the password form uses: a network guessing codes for many
    # accounts slows down as one guessing passwords does.
    return service._key("second_factor", user.id), service._key("address", ip)


def _checked(user: User, ip: str, throttle: service.Throttle, check) -> str:
    """Run `check(now)` (returns what passed, or raises WrongCode) under the sign-in throttle.

    LoginThrottled while a delay runs (before anything is checked, and not counted), WrongCode
    (counted, audited), or what passed (both counts reset). Commits."""
    now = utcnow()
    account, address = _throttle_keys(user, ip)
    service._refuse_if_waiting(address, now)
    service._claim(account, now, throttle)
    try:
        passed = check(now)
    except service.ServerBusy:
        service._reset_claim(account, now)
        raise
    except WrongCode as exc:
        db.session.rollback()
        service._record_failure(account, now, throttle)
        service._record_failure(address, now, throttle)
        audit.record(
            "second_factor_failed", "user", user.id, user_id=user.id, detail=exc.args[1] or None
        )
        db.session.commit()
        raise
    service._reset(account)
    service._reset(address)
    return passed


def _accept_totp(user: User, code: str, now: datetime, *, confirmed: bool = True) -> int:
    row = db.session.get(SecondFactor, user.id)
    if row is None or (row.confirmed_at is None) == confirmed:
        raise WrongCode("The code is not right", "no_factor")
    step = matching_step(_secret_of(row), code, now.timestamp())
    if step is None:
        raise WrongCode(
            "The code is not right. Enter the 6-digit code your authenticator app shows now",
            "wrong",
        )
    # Compare-and-set: of two requests with the same code, one moves the step and one finds it
    # moved. An accepted step never goes back, so neither can a code.
    moved = db.session.execute(
        update(SecondFactor)
        .where(
            SecondFactor.user_id == user.id,
            or_(SecondFactor.last_step.is_(None), SecondFactor.last_step < step),
        )
        .values(last_step=step)
    ).rowcount
    if moved != 1:
        raise WrongCode(
            "That code has been used already. Wait for your authenticator app to show a new one",
            "replayed",
        )
    return step


def _accept_recovery_code(user: User, code: str, now: datetime) -> None:
    typed = normalise(code)
    if len(typed) != _RECOVERY_LENGTH:
        raise WrongCode("The code is not right", "wrong")
    unused = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    # Every unused hash is checked: which code matched shows in neither the timing nor the answer.
    matched = [row.id for row in unused if service._verify(row.code_hash, typed)]
    if not matched:
        raise WrongCode("The code is not right", "wrong")
    used = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == matched[0], RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if used != 1:  # spent by a request racing this one
        raise WrongCode("That recovery code has been used already", "replayed")


def _any_code(user: User, code: str):
    def check(now):
        if looks_like_totp(code):
            _accept_totp(user, code, now)
            return "totp"
        _accept_recovery_code(user, code, now)
        return "recovery"

    return check


def verify(user: User, code: str, ip: str, throttle: service.Throttle) -> str:
    """Check a sign-in code: a TOTP code or a recovery code. Answers "totp" or "recovery".

    WrongCode, service.LoginThrottled or service.ServerBusy otherwise. Commits."""
    if factor_of(user) is None:
        raise NotAllowed("No second factor")
    kind = _checked(user, ip, throttle, _any_code(user, code))
    user.last_login_at = utcnow()
    audit.record("sign_in", "user", user.id, user_id=user.id, detail=f"second_factor:{kind}")
    db.session.commit()
    return kind


def confirm_enrolment(user: User, code: str, ip: str, throttle: service.Throttle) -> list[str]:
    """Prove the app was set up with a code from it; answers the ten recovery codes to show once.

    WrongCode, service.LoginThrottled or service.ServerBusy otherwise. Commits."""
    if has_second_factor(user):
        raise RuleError(None, "You already have a second factor set up")
    codes = new_recovery_codes()

    def check(now):
        _accept_totp(user, code, now, confirmed=False)
        return now

    now = _checked(user, ip, throttle, check)
    db.session.execute(
        update(SecondFactor).where(SecondFactor.user_id == user.id).values(confirmed_at=now)
    )
    _hash_recovery_codes(user, codes, now)
    audit.record("second_factor_enrol", "user", user.id, user_id=user.id)
    db.session.commit()
    return codes


def regenerate_recovery_codes(
    user: User, code: str, ip: str, throttle: service.Throttle
) -> list[str]:
    """Ten new recovery codes for a current code from the app; the old ones stop working."""
    if factor_of(user) is None:
        raise NotAllowed("No second factor")
    codes = new_recovery_codes()

    def check(now):
        if not looks_like_totp(code):
            raise WrongCode("Enter the 6-digit code your authenticator app shows now", "wrong")
        _accept_totp(user, code, now)
        return now

    now = _checked(user, ip, throttle, check)
    _hash_recovery_codes(user, codes, now)
    audit.record("second_factor_recovery_codes", "user", user.id, user_id=user.id)
    db.session.commit()
    return codes


def _remove(user: User) -> bool:
    existed = db.session.get(SecondFactor, user.id) is not None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    return existed


def turn_off(user: User, password: str, code: str, ip: str, throttle: service.Throttle) -> None:
    """The person's own choice, for a role that does not require it: their password and a
    current code (or a recovery code). RuleError on the field at fault."""
    if required_for(user.role):
        raise RuleError(None, "Your role needs a second factor, so it cannot be turned off")
    if factor_of(user) is None:
        raise RuleError(None, "You do not have a second factor to turn off")
    if not service._verify(user.password_hash, password):
        raise RuleError("password", "Your password is not right")
    try:
        _checked(user, ip, throttle, _any_code(user, code))
    except WrongCode as exc:
        raise RuleError("code", exc.args[0]) from None
    _remove(user)
    audit.record("second_factor_off", "user", user.id, user_id=user.id)
    db.session.commit()


def reset(actor: User | None, user: User) -> bool:
    """An administrator's reset when a phone is lost: the factor and its recovery codes go, and
    every session of the account ends (a stolen phone that was signed in is signed out). The
    person enrols again at their next sign-in if their role requires it. Answers whether there
    was anything to remove. Their devices are not revoked: `homeward users deactivate` or the
    device pages do that when the phone itself is the risk."""
    if not service._may_administer(actor, user):
        raise NotAllowed("No such user")
    existed = _remove(user)
    sessions.end_all(user, sessions.SECOND_FACTOR_RESET)
    service._reset(service._key("second_factor", user.id))
    audit.record("second_factor_reset", "user", user.id)
    db.session.commit()
    return existed


def sign_in_step(user: User) -> str | None:
    """What must follow a right password: "code", "enrol", or None (signed in at once)."""
    return service.second_step(user)
