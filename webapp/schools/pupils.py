"""A school's pupils: the DSL adds one, or imports the school's MIS export.

The school's management information system keeps the register; Homeward keeps the pupils it
needs to act on absences, matched to the MIS by the DfE Unique Pupil Number (UPN), which is
unique within a school. A pupil is a Child of the school's authority with no legal status until
the authority says otherwise.

An import is all or nothing: every row is checked first and any bad row keeps the whole file out
(each reported by its line and field, never its value). A good file is written in one
transaction with bulk inserts, so a whole school's export (2,000 pupils) takes a second or two
rather than a flush per pupil (bench/pupil_import.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from webapp import audit, uow
from webapp.accounts.models import Organisation, OrgKind, Role, User
from webapp.carers.models import ChildProfile
from webapp.children.models import FLAG_LABELS, Child, LegalStatus
from webapp.db_types import new_id, utcnow
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db
from webapp.fieldsync import changes
from webapp.schools import pupil_rules
from webapp.schools.pupil_rules import PupilData, RowError
from webapp.sealed import seal

# Rows per INSERT statement: well under SQLite's 32,766 bound parameters at 12 columns a row.
INSERT_BATCH = 1000


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _own_school(user: User) -> Organisation:
    if user.role != Role.DSL:
        raise NotAllowed("Only a school's designated safeguarding lead adds its pupils")
    school = user.organisation
    if school.kind != OrgKind.SCHOOL:
        raise NotAllowed("A DSL belongs to a school")
    return school


def list_pupils(user: User) -> list[Child]:
    """The DSL's school's pupils, by year group then name."""
    school = _own_school(user)
    pupils = db.session.scalars(select(Child).where(Child.school_id == school.id)).all()
    audit.record("list", "child", None, detail=f"{len(pupils)} pupils")
    uow.commit()
    return sorted(
        pupils,
        key=lambda c: (
            pupil_rules.year_group_order(c.year_group),
            c.last_name.lower(),
            c.first_name.lower(),
        ),
    )


def _same_person(child: Child, pupil: PupilData) -> bool:
    return (
        child.first_name.strip().lower() == pupil.first_name.lower()
        and child.last_name.strip().lower() == pupil.last_name.lower()
        and child.date_of_birth == pupil.date_of_birth
    )


def _known_without_upn(school: Organisation) -> dict[tuple, list[Child]]:
    """The school's children recorded without a UPN (a manager linked them to the school), by
    name and date of birth: a pupil who is one of them is that child, not a second record."""
    found: dict[tuple, list[Child]] = {}
    for child in db.session.scalars(
        select(Child).where(Child.school_id == school.id, Child.upn.is_(None))
    ):
        key = (child.first_name.strip().lower(), child.last_name.strip().lower())
        found.setdefault((*key, child.date_of_birth), []).append(child)
    return found


def _without_upn_match(known: dict[tuple, list[Child]], pupil: PupilData) -> Child | None:
    key = (pupil.first_name.lower(), pupil.last_name.lower(), pupil.date_of_birth)
    candidates = known.get(key, [])
    # Two children of one school with one name and birthday: no guessing which.
    if len(candidates) != 1:
        return None
    return known.pop(key)[0]  # taken: a second row with this name is a different pupil


def add_pupil(user: User, data: Mapping, *, child_id: str | None = None) -> Child:
    """A DSL adds a pupil of their school. Refused, beside the field, if the UPN is taken.
    `child_id`: the tablet's own id for a pupil added with no signal (webapp/schools/sync.py);
    a child already known without a UPN keeps its own id."""
    school = _own_school(user)
    values = {k: v if isinstance(v, str) else "" for k, v in data.items()}
    if data.get("date_of_birth") and not isinstance(data["date_of_birth"], str):
        values["date_of_birth"] = data["date_of_birth"].isoformat()
    pupil, errors = pupil_rules.check_pupil(values, utcnow().date())
    if errors:
        raise RuleError(errors[0].field, errors[0].message)
    taken = db.session.scalar(
        select(func.count())
        .select_from(Child)
        .where(Child.school_id == school.id, Child.upn == pupil.upn)
    )
    if taken:
        raise RuleError("upn", "A pupil with this UPN is already on your school's list")
    child = _without_upn_match(_known_without_upn(school), pupil)
    if child is None:
        child = Child(
            id=child_id or new_id(),
            legal_status=LegalStatus.NONE,
            looked_after=False,
            responsible_authority_id=school.parent_id or school.id,
            school_id=school.id,
        )
        db.session.add(child)
        action = "create"
    else:
        action = "update"
    _apply(child, pupil)
    db.session.flush()
    audit.record(action, "child", child.id, child_id=child.id, detail="pupil added by school")
    uow.commit()
    return child


def _apply(child: Child, pupil: PupilData) -> bool:
    """Set the MIS's facts on the child; True if anything changed."""
    changed = False
    for name in ("upn", "first_name", "last_name", "date_of_birth", "sex", "year_group"):
        value = getattr(pupil, name)
        if getattr(child, name) != value:
            setattr(child, name, value)
            changed = True
    return changed


def read_upload(file: IO[bytes] | bytes | str) -> str:
    if isinstance(file, str):
        return file
    data = file if isinstance(file, bytes) else file.read()
    return pupil_rules.decode(data)


def import_pupils(
    user: User | None,
    school: Organisation,
    rows: Iterable[Mapping[str, str]] | IO[bytes] | bytes | str,
) -> ImportResult:
    """Import an MIS export into `school`: existing pupils (same UPN) updated, new ones created.
    `user` None is the command line (an operator of the server). Any bad row: nothing is kept,
    and the result lists every bad row."""
    if user is not None and (_own_school(user).id != school.id):
        raise NotAllowed("A DSL imports into their own school only")
    if school.kind != OrgKind.SCHOOL:
        raise RuleError(None, "Pupils belong to a school")
    today = utcnow().date()
    if isinstance(rows, str | bytes) or hasattr(rows, "read"):
        parsed = pupil_rules.parse_csv(read_upload(rows), today)
    else:
        parsed = pupil_rules.parse_rows(rows, today)
    user_id = user.id if user else None
    if parsed.errors:
        audit.record(
            "import_refused",
            "school",
            school.id,
            detail=f"{len(parsed.errors)} problems, nothing imported",
            user_id=user_id,
        )
        uow.commit()
        return ImportResult(errors=parsed.errors)

    result = ImportResult()
    existing = {
        c.upn: c
        for c in db.session.scalars(
            select(Child).where(Child.school_id == school.id, Child.upn.is_not(None))
        )
    }
    known = _known_without_upn(school)
    new: list[PupilData] = []
    for _line, pupil in parsed.pupils:
        child = existing.get(pupil.upn) or _without_upn_match(known, pupil)
        if child is None:
            new.append(pupil)
        elif _apply(child, pupil):
            result.updated += 1  # the ORM writes these at the flush, and logs them for sync
        else:
            result.unchanged += 1
    try:
        db.session.flush()
        result.created = _insert(school, new)
        audit.record(
            "import",
            "school",
            school.id,
            detail=(
                f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"
            ),
            user_id=user_id,
        )
        uow.commit()
    except IntegrityError as exc:
        # Another import of the same school committed a pupil of this file first.
        db.session.rollback()
        raise RuleError(
            None, "Another import changed this school's pupils meanwhile: import the file again"
        ) from exc
    return result


def _insert(school: Organisation, pupils: list[PupilData]) -> int:
    """New pupils with Core INSERTs of many rows each. The ORM's per-child work is done here
    instead: the sealed (empty) risk flags, the carer's profile row that webapp/carers/hooks.py
    adds to every child, and the change log's note."""
    if not pupils:
        return 0
    now = utcnow()
    authority_id = school.parent_id or school.id
    no_flags = {key: 0 for key in FLAG_LABELS}  # every flag, as Child.sealed_flags writes
    children, profiles = [], []
    for pupil in pupils:
        child_id = new_id()
        children.append(
            {
                "id": child_id,
                "upn": pupil.upn,
                "first_name": pupil.first_name,
                "last_name": pupil.last_name,
                "date_of_birth": pupil.date_of_birth,
                "sex": pupil.sex,
                "year_group": pupil.year_group,
                "legal_status": LegalStatus.NONE.value,
                "looked_after": False,
                "responsible_authority_id": authority_id,
                "school_id": school.id,
                # Sealed to this child's id, as Child's before_insert listener would.
                "flags_enc": seal(no_flags, "child", child_id, "flags"),
                "created_at": now,
                "updated_at": now,
            }
        )
        profiles.append({"id": child_id, "version": 1, "created_at": now, "updated_at": now})
    for start in range(0, len(children), INSERT_BATCH):
        db.session.execute(insert(Child.__table__), children[start : start + INSERT_BATCH])
        db.session.execute(insert(ChildProfile.__table__), profiles[start : start + INSERT_BATCH])
    changes.note_written(db.session, Child, {c["id"] for c in children})
    return len(children)
