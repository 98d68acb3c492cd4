"""Test data made to measure: organisations, people, children, episodes and interviews.

A test that is about one behaviour says here what it needs (an allocated interview due in two
hours, a manager of another authority) instead of borrowing a child from the demo world whose
story it has to know. The bench scripts that need many people (sync_push, signin_load) seed
them through the same functions; offline_start signs in as the demo worker, as a person trying
the demo would.

Every function adds to the app's session and flushes, so the objects have ids and the models'
listeners (change log, reminders, version counters) run exactly as in production; the caller
commits (`db.session.commit()`) before its first HTTP request, which uses a session of its own.
Each call makes its own authority unless given one, so factory data never meets the demo data a
test database may also hold. Every name here is made up.

Still on the demo world (tests/conftest.py loads it into every test database), and why:

* tests/integration/test_access.py: the role matrix, every demo role against the same children,
  schools and providers; its point is one shared world seen from each role.
* tests/integration/test_flow.py and tests/e2e: journeys, signing in as the demo accounts and
  following the demo children's stories as a person using the app would.
* tests/integration/test_encryption_at_rest.py: it dumps every table in plain SQL and swaps
  sealed values between rows the demo load wrote (a CSE flag, police log numbers, answers).
* tests/integration/test_db_connection_loss.py (PostgreSQL only): it cuts the connection at
  statement numbers counted on the demo worker's interview page and sync pull.
* tests/fuzz/test_forms_fuzz.py and tests/fuzz/test_api_fuzz.py: fuzzers over a populated
  world, signing in as every demo role (the forms) or the demo worker (the API) and drawing
  record ids from every row of it (the person's own, a colleague's, another authority's); the
  more there is to reach, the more they try.
* tests/integration/test_cli.py::test_init_db_demo_data_and_create_user: it tests the
  `demo-data` command itself (its other tests seed their instance through these factories).
* tests/integration/test_sealed_migration.py uses neither: it seeds its own rows with raw SQL in
  an empty database at an old revision, where the models (and so these factories) do not apply.

Every other test makes its data here: a test about one behaviour says what it needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from webapp import deadlines, sealed
from webapp.accounts import second_factor as factor
from webapp.accounts.models import Organisation, OrgKind, Role, SecondFactor, User
from webapp.accounts.service import hash_password
from webapp.children.models import Child, LegalStatus
from webapp.db_types import utcnow
from webapp.episodes.models import Episode, EpisodeStatus
from webapp.extensions import db
from webapp.interviews.models import Interview, InterviewStatus

# Accepted by the password policy (length, not common, not the person's name).
PASSWORD = "lantern-heron-quay-4921"

_serial = itertools.count(1)
# Emails and codes are unique in a database that several processes seed (bench, dispatchers).
_RUN = secrets.token_hex(3)
_hashes: dict[str, str] = {}

# The organisation each role belongs to (accounts.service refuses any other).
_ROLE_ORG = {
    Role.MANAGER: OrgKind.LOCAL_AUTHORITY,
    Role.WORKER: OrgKind.LOCAL_AUTHORITY,
    Role.SOCIAL_WORKER: OrgKind.LOCAL_AUTHORITY,
    Role.ADMIN: OrgKind.LOCAL_AUTHORITY,
    Role.SENIOR_MANAGER: OrgKind.LOCAL_AUTHORITY,
    Role.DSL: OrgKind.SCHOOL,
    Role.CARER: OrgKind.PROVIDER,
}


def _n() -> int:
    return next(_serial)


def password_hash(password: str = PASSWORD) -> str:
    """The Argon2 hash of `password`, computed once per process: a hash costs about 0.3 s and
    any user may share it (the salt makes no difference to a test)."""
    if password not in _hashes:
        _hashes[password] = hash_password(password)
    return _hashes[password]


def _add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


# ---------------------------------------------------------------- organisations


def local_authority(name: str | None = None, **kw) -> Organisation:
    n = _n()
    kw.setdefault("ons_code", f"E{secrets.randbelow(10**8):08d}")
    return _add(
        Organisation(kind=OrgKind.LOCAL_AUTHORITY, name=name or f"Testshire Council {n}", **kw)
    )


def organisation(kind: OrgKind, authority: Organisation | None = None, **kw) -> Organisation:
    """A team, school or placement provider of `authority` (a new one unless given)."""
    if kind == OrgKind.LOCAL_AUTHORITY:
        return local_authority(**kw)
    n = _n()
    if kind == OrgKind.SCHOOL:
        kw.setdefault("urn", f"{secrets.randbelow(10**8):08d}")
    kw.setdefault("name", f"Test {kind.value.replace('_', ' ')} {n}")
    return _add(Organisation(kind=kind, parent=authority or local_authority(), **kw))


def team(authority: Organisation | None = None, **kw) -> Organisation:
    return organisation(OrgKind.TEAM, authority, **kw)


# ---------------------------------------------------------------- people


def user(
    role: Role = Role.WORKER,
    *,
    authority: Organisation | None = None,
    organisation_: Organisation | None = None,
    team_: Organisation | None = None,
    email: str | None = None,
    name: str | None = None,
    password: str | None = PASSWORD,
    second_factor: bool | None = None,
    **kw,
) -> User:
    """A person who can sign in with `password` (None: an unusable hash, as an account made
    without one; sign in through a set-password link).

    Roles that require a second factor get one enrolled (second_factor=False: none, so their
    next sign-in asks them to set one up), with the secret second_factor_secret(email), so a
    helper in another process (bench, e2e) computes their codes as their phone would.

    Managers, workers, social workers and administrators belong to `authority`; a DSL to a new
    school of it and a carer to a new placement provider, unless `organisation_` says otherwise.
    """
    if authority is None and organisation_ is not None:
        is_authority = organisation_.kind == OrgKind.LOCAL_AUTHORITY
        authority = organisation_ if is_authority else organisation_.parent
    authority = authority or local_authority()
    kind = _ROLE_ORG[Role(role)]
    if organisation_ is None:
        organisation_ = (
            authority if kind == OrgKind.LOCAL_AUTHORITY else organisation(kind, authority)
        )
    n = _n()
    person = _add(
        User(
            email=email or f"{role}.{_RUN}.{n}@factory.test",
            name=name or f"Test {role.replace('_', ' ').title()} {n}",
            # As an account made without a password: nothing typed can match it.
            password_hash=password_hash(password)
            if password
            else "!unset:" + secrets.token_hex(16),
            role=role,
            organisation=organisation_,
            team=team_,
            **kw,
        )
    )
    if second_factor if second_factor is not None else factor.required_for(role):
        enrol_second_factor(person)
    return person


# ---------------------------------------------------------------- the second factor
#
# Test data only: the secret of a made-up person's authenticator app comes from their email and
# this key, as their password is PASSWORD. Real secrets are random (second_factor.new_secret).
_SECRET_KEY = b"homeward-tests-second-factor"


def second_factor_secret(email: str) -> str:
    digest = hmac.new(_SECRET_KEY, email.strip().lower().encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode()


def enrol_second_factor(person: User, secret: str | None = None) -> str:
    """An authenticator app set up and confirmed for `person` (no recovery codes: tests of those
    enrol through the pages). Answers the secret."""
    secret = secret or second_factor_secret(person.email)
    db.session.add(
        SecondFactor(
            user_id=person.id,
            secret_enc=sealed.seal(secret, "second_factor", person.id, "secret"),
            confirmed_at=utcnow(),
        )
    )
    db.session.flush()
    return secret


def secret_in_database(email: str) -> str | None:
    """The secret of an account's app (confirmed or being set up), read through the app: the
    tests play the person's phone. Needs an app context."""
    from sqlalchemy import select

    row = db.session.execute(
        select(SecondFactor)
        .join(User, User.id == SecondFactor.user_id)
        .where(User.email == email.strip().lower())
    ).scalar_one_or_none()
    return (
        None
        if row is None
        else sealed.unseal(row.secret_enc, "second_factor", row.user_id, "secret")
    )


def code_for_account(email: str) -> str:
    """A code the server will take now for the account's app, read through the app (an app
    context): the step after the last one it accepted. When the steps the server allows ahead
    are used up, the account's record of its last step is moved back one: a test-only shortcut
    for the person waiting 30 s for their next code (tests of replay do not use this)."""
    from sqlalchemy import select, update

    row = db.session.execute(
        select(SecondFactor)
        .join(User, User.id == SecondFactor.user_id)
        .where(User.email == email.strip().lower())
    ).scalar_one()
    secret = sealed.unseal(row.secret_enc, "second_factor", row.user_id, "secret")
    current = factor.step_at(time.time())
    last = row.last_step if row.last_step is not None else current - 2
    step = next((s for s in (current, current + 1) if s > last), None)
    if step is None:
        step = current
        db.session.execute(
            update(SecondFactor)
            .where(SecondFactor.user_id == row.user_id)
            .values(last_step=current - 1)
        )
    db.session.commit()
    return factor.code_at(secret, step)


_used_steps: dict[str, int] = {}
_used_lock = threading.Lock()


def fresh_code(secret: str) -> str:
    """The code the phone shows now, for a time step this process has not used for `secret` yet:
    the server takes each code once, so a second sign-in in the same 30 s uses the next step
    (within the server's one-step drift), and a third waits for the clock, as a person would."""
    with _used_lock:
        while True:
            current = factor.step_at(time.time())
            last = _used_steps.get(secret, current - 2)
            step = next((s for s in (current, current + 1) if s > last), None)
            if step is not None:
                _used_steps[secret] = step
                return factor.code_at(secret, step)
            time.sleep(factor.STEP_SECONDS - time.time() % factor.STEP_SECONDS + 0.05)


def manager(authority: Organisation | None = None, **kw) -> User:
    return user(Role.MANAGER, authority=authority, **kw)


def worker(authority: Organisation | None = None, **kw) -> User:
    """A return interview worker, in a team of their authority unless `team_` is given."""
    authority = authority or local_authority()
    kw.setdefault("team_", team(authority))
    return user(Role.WORKER, authority=authority, **kw)


# ---------------------------------------------------------------- children and their episodes


def child(authority: Organisation | None = None, **kw) -> Child:
    n = _n()
    legal_status = kw.pop("legal_status", LegalStatus.NONE)
    return _add(
        Child(
            first_name=kw.pop("first_name", f"Testchild{n}"),
            last_name=kw.pop("last_name", "Factory"),
            date_of_birth=kw.pop("date_of_birth", date(2010, 1, 1)),
            sex=kw.pop("sex", "female"),
            legal_status=legal_status,
            looked_after=kw.pop("looked_after", legal_status == LegalStatus.LOOKED_AFTER),
            responsible_authority_id=(authority or local_authority()).id,
            **kw,
        )
    )


def episode(
    child_: Child,
    *,
    last_seen_hours_ago: float = 30,
    missing_hours: float | None = 6,
    now: datetime | None = None,
    **kw,
) -> Episode:
    """An episode that began `last_seen_hours_ago`; back after `missing_hours` (None: still
    missing)."""
    last_seen = (now or utcnow()) - timedelta(hours=last_seen_hours_ago)
    returned = last_seen + timedelta(hours=missing_hours) if missing_hours is not None else None
    return _add(
        Episode(
            child_id=child_.id,
            reported_type=kw.pop("reported_type", "missing"),
            missing_from=kw.pop("missing_from", "home"),
            last_seen_at=last_seen,
            reported_to_police_at=last_seen + timedelta(hours=2),
            police_category=kw.pop("police_category", "missing"),
            returned_at=returned,
            how_returned="own_accord" if returned else None,
            status=EpisodeStatus.RETURNED if returned else EpisodeStatus.MISSING,
            **kw,
        )
    )


# ---------------------------------------------------------------- interviews


def interview(
    *,
    status: InterviewStatus = InterviewStatus.ALLOCATED,
    worker_: User | None = None,
    manager_: User | None = None,
    child_: Child | None = None,
    episodes: Iterable[Episode] | None = None,
    returned_hours_ago: float = 24,
    answers: dict | None = None,
    **kw,
) -> Interview:
    """A return home interview, due 72 hours after the return.

    Allocated (the default), submitted or authorised interviews get a worker (a new one of the
    child's authority unless given); awaiting allocation has none. Submitted and authorised ones
    were completed by that worker, and authorised ones authorised by the manager (a new one of
    the authority unless given) four hours after they were sent. Without episodes, one that
    ended `returned_hours_ago` is made for the child (a new one unless given).
    """
    if child_ is None:
        authority = (worker_ or manager_).organisation if (worker_ or manager_) else None
        child_ = child(authority)
    authority = db.session.get(Organisation, child_.responsible_authority_id)
    if episodes is None:
        episodes = [episode(child_, last_seen_hours_ago=returned_hours_ago + 6, missing_hours=6)]
    episodes = list(episodes)
    allocated = status != InterviewStatus.AWAITING_ALLOCATION
    if allocated and worker_ is None:
        worker_ = worker(authority)
    manager_ = manager_ or manager(authority)
    returned = min(e.returned_at for e in episodes)
    if allocated:
        kw.setdefault("allocated_to_id", worker_.id)
        kw.setdefault("team_id", worker_.team_id)
        kw.setdefault("allocated_by_id", manager_.id)
        kw.setdefault("allocated_at", returned + timedelta(hours=1))
    if status in (InterviewStatus.SUBMITTED, InterviewStatus.AUTHORISED):
        kw.setdefault("completed_by_id", worker_.id)
        kw.setdefault("submitted_at", returned + timedelta(hours=20))
    if status == InterviewStatus.AUTHORISED:
        kw.setdefault("authorised_by_id", manager_.id)
        kw.setdefault("authorised_at", kw["submitted_at"] + timedelta(hours=4))
    i = Interview(child_id=child_.id, due_at=deadlines.rhi_due_at(returned), status=status, **kw)
    i.episodes = episodes
    _add(i)
    if answers:
        i.content_enc = sealed.seal(answers, "interview", i.id, "content")
        db.session.flush()
    return i


# ---------------------------------------------------------------- carers


def carer(authority: Organisation | None = None, **kw) -> User:
    """A carer (foster carer or children's home staff) of a new placement provider of
    `authority` (a new one unless given)."""
    return user(Role.CARER, authority=authority, **kw)


def placed_child(carer_: User, **kw) -> Child:
    """A child placed with `carer_`, of the carer's authority; looked after unless
    `legal_status` says otherwise."""
    authority = db.session.get(Organisation, carer_.organisation.parent_id)
    kw.setdefault("legal_status", LegalStatus.LOOKED_AFTER)
    kw.setdefault("placement_provider_id", carer_.organisation_id)
    return child(authority, carer_id=carer_.id, **kw)


# ---------------------------------------------------------------- independent reviewing officers

# An IRO belongs to the local authority, like a social worker (accounts.service).
_ROLE_ORG[Role.IRO] = OrgKind.LOCAL_AUTHORITY


def iro(authority: Organisation | None = None, **kw) -> User:
    """An independent reviewing officer of `authority` (a new one unless given)."""
    return user(Role.IRO, authority=authority, **kw)


# ---------------------------------------------------------------- children missing education

# A CME officer belongs to the local authority (accounts.service).
_ROLE_ORG[Role.CME] = OrgKind.LOCAL_AUTHORITY


def cme_officer(authority: Organisation | None = None, **kw) -> User:
    """A children-missing-education officer of `authority` (a new one unless given)."""
    return user(Role.CME, authority=authority, **kw)


def school_notification(
    child_: Child,
    kind: str = "notify_day10",
    *,
    school: Organisation | None = None,
    sent_at: datetime | None = None,
    **kw,
):
    """What a school told the authority about `child_` (of the child's school unless given)."""
    from webapp.schools.absence_models import SchoolNotification

    return _add(
        SchoolNotification(
            child_id=child_.id,
            school_id=(school.id if school else child_.school_id),
            kind=kind,
            sent_at=sent_at or utcnow(),
            **kw,
        )
    )


# ---------------------------------------------------------------- schools: the DSL and pupils


def school_dsl(school: Organisation | None = None, **kw) -> User:
    """The designated safeguarding lead of `school` (a new school of a new authority unless
    given)."""
    school = school or organisation(OrgKind.SCHOOL)
    return user(Role.DSL, organisation_=school, **kw)


def school_pupil(school: Organisation, **kw) -> Child:
    """A child on `school`'s roll, of the school's authority."""
    authority = db.session.get(Organisation, school.parent_id)
    return child(authority, school_id=school.id, **kw)
