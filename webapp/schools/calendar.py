"""A school's calendar: its terms and closure days, kept by its designated safeguarding lead, and
the SchoolCalendar that school days are counted in (webapp/schools/days.py).

- The DSL keeps their own school's calendar (user.organisation_id), nobody else's; they add and
  delete terms and closure days, or import the authority's published term dates from a CSV.
- A manager or children missing education officer of the school's authority may read it.
- Anyone else: NotFound, as for any record they may not see.

Every change is audited (ids and field names, never a value). The calendar holds nothing about a
child; the pages are still only for the people above.

The rules for a term and the CSV reader are pure functions here (term_problems, parse_csv): the
form, the import and the tests share them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO

import holidays
from sqlalchemy import select

from webapp import audit, deadlines, uow
from webapp.accounts.models import Organisation, OrgKind, Role, User
from webapp.db_types import utcnow
from webapp.errors import NotAllowed, NotFound, RuleError
from webapp.extensions import db
from webapp.schools.calendar_models import SchoolClosure, SchoolTerm
from webapp.schools.days import SchoolCalendar, england_bank_holidays

NAME_MAX = 60
REASON_MAX = 100
# The longest term England has is the autumn term, about 16 weeks. A longer one is a typed year
# (2062 for 2026) or a whole school year entered as one term, which would count the holidays as
# school days: refused with the reason.
TERM_MAX_DAYS = 26 * 7
FIRST_YEAR, LAST_YEAR = 2000, 2099
# An authority's term dates are a few dozen lines; more is the wrong file.
IMPORT_MAX_BYTES = 64 * 1024
IMPORT_MAX_ROWS = 200
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
HEADER = ["name", "start", "end"]

# Who reads a school's calendar besides its own DSL: the authority's people who act on its
# notifications (the CME officer counts the same school days).
READERS = (Role.MANAGER, Role.CME)


# ---------------------------------------------------------------- who may see which calendar


def own_school(user: User) -> Organisation:
    """The school whose calendar this DSL keeps."""
    school = user.organisation
    if user.role != Role.DSL or school is None or school.kind != OrgKind.SCHOOL:
        raise NotAllowed("Only a school's designated safeguarding lead keeps its calendar")
    return school


def readable_school(user: User, school_id: str) -> Organisation:
    """The school `school_id` if this user may read its calendar; NotFound otherwise."""
    school = db.session.get(Organisation, school_id)
    if school is None or school.kind != OrgKind.SCHOOL:
        raise NotFound
    if user.role == Role.DSL and user.organisation_id == school.id:
        return school
    if user.role in READERS and school.parent_id == user.authority_id:
        return school
    raise NotFound


def can_edit(user: User, school: Organisation) -> bool:
    return user.role == Role.DSL and user.organisation_id == school.id


# ---------------------------------------------------------------- the calendar days are counted in


def _years_around(terms: Iterable[SchoolTerm], closures: Iterable[SchoolClosure]) -> range:
    this_year = deadlines.to_local(utcnow()).year
    years = {this_year - 1, this_year + 1}
    years |= {t.starts_on.year for t in terms} | {t.ends_on.year for t in terms}
    years |= {c.on.year for c in closures}
    # A follow-up that runs past the last term entered still skips the bank holidays there.
    return range(min(years), max(years) + 2)


def _terms(school_id: str) -> list[SchoolTerm]:
    return list(
        db.session.scalars(
            select(SchoolTerm)
            .where(SchoolTerm.school_id == school_id)
            .order_by(SchoolTerm.starts_on)
        )
    )


def _closures(school_id: str) -> list[SchoolClosure]:
    return list(
        db.session.scalars(
            select(SchoolClosure)
            .where(SchoolClosure.school_id == school_id)
            .order_by(SchoolClosure.on)
        )
    )


def calendar_for(school: Organisation, years: Iterable[int] | None = None) -> SchoolCalendar:
    """The school's terms and closures from the database, with England's bank holidays of
    `years` (by default every year the calendar touches, this year's neighbours and the year
    after the last term). No access check: callers (the absence services) have already found
    the pupil, and so the school, through the access rules."""
    terms = _terms(school.id)
    closures = _closures(school.id)
    if years is None:
        years = _years_around(terms, closures)
    return SchoolCalendar(
        terms=tuple((t.starts_on, t.ends_on) for t in terms),
        closures=frozenset(c.on for c in closures),
        bank_holidays=england_bank_holidays(years),
    )


@dataclass(frozen=True)
class CalendarFacts:
    terms: list[SchoolTerm]
    closures: list[SchoolClosure]
    bank_holidays: list[tuple[date, str]]  # every one calendar_for counts, with its name


def calendar_facts(school: Organisation) -> CalendarFacts:
    """What calendar_for counts in, as rows and named dates: the DSL's tablet counts the same
    school days from these (static/js/school-days.js) with no signal."""
    terms, closures = _terms(school.id), _closures(school.id)
    years = sorted(set(_years_around(terms, closures)))
    named = holidays.country_holidays("GB", subdiv="ENG", years=years)
    counted = england_bank_holidays(years)
    return CalendarFacts(
        terms=terms,
        closures=closures,
        bank_holidays=sorted((d, named.get(d, "")) for d in counted),
    )


@dataclass
class CalendarPage:
    school: Organisation
    terms: list[SchoolTerm]
    closures: list[SchoolClosure]
    bank_holidays: list[tuple[date, str]]  # the next 12 months', for the DSL to see they count
    can_edit: bool
    known_until: date | None  # the last day of the last term entered


def _upcoming_bank_holidays(today: date) -> list[tuple[date, str]]:
    until = today + timedelta(days=365)
    found = holidays.country_holidays("GB", subdiv="ENG", years=[today.year, until.year])
    return sorted((d, name) for d, name in found.items() if today <= d <= until)


def read_calendar(user: User, school: Organisation) -> CalendarPage:
    """What the calendar page shows; `school` from own_school or readable_school."""
    terms, closures = _terms(school.id), _closures(school.id)
    today = deadlines.to_local(utcnow()).date()
    audit.record("view", "school_calendar", school.id)
    uow.commit()
    return CalendarPage(
        school=school,
        terms=terms,
        closures=closures,
        bank_holidays=_upcoming_bank_holidays(today),
        can_edit=can_edit(user, school),
        known_until=max((t.ends_on for t in terms), default=None),
    )


# ---------------------------------------------------------------- the rules for a term (pure)


def _label(d: date) -> str:
    return d.strftime("%-d %B %Y")


def term_problems(name: str, starts_on: date | None, ends_on: date | None) -> list[tuple[str, str]]:
    """(field, message) for each rule a term breaks, on its own (overlaps are checked apart)."""
    problems = []
    if not name:
        problems.append(("name", "Enter the term's name, for example Autumn 1"))
    elif len(name) > NAME_MAX:
        problems.append(("name", f"The term's name must be {NAME_MAX} characters or fewer"))
    if starts_on is None:
        problems.append(("starts_on", "Enter the first day of the term"))
    if ends_on is None:
        problems.append(("ends_on", "Enter the last day of the term"))
    if starts_on is None or ends_on is None:
        return problems
    for fld, d in (("starts_on", starts_on), ("ends_on", ends_on)):
        if not FIRST_YEAR <= d.year <= LAST_YEAR:
            problems.append((fld, f"Check the year: {d.year} is not a school year we count"))
    if ends_on <= starts_on:
        problems.append(("ends_on", "The last day of the term must be after its first day"))
    elif (ends_on - starts_on).days > TERM_MAX_DAYS:
        problems.append(
            (
                "ends_on",
                "A term is at most 26 weeks: enter each term (or half-term) on its own, so the "
                "holidays between them are not counted as school days",
            )
        )
    return problems


def overlap(
    starts_on: date, ends_on: date, terms: Iterable[tuple[str, date, date]]
) -> tuple[str, date, date] | None:
    """The first of `terms` (name, start, end) sharing a day with starts_on..ends_on."""
    for other in terms:
        _name, start, end = other
        if starts_on <= end and start <= ends_on:
            return other
    return None


def _overlap_message(other: tuple[str, date, date]) -> str:
    name, start, end = other
    return f"These dates overlap {name} ({_label(start)} to {_label(end)})"


# ---------------------------------------------------------------- changes by the school's DSL


def _lock_calendar(school: Organisation) -> None:
    """One change to a school's terms at a time: on PostgreSQL the school's row is locked until
    this transaction ends, so a second DSL adding a term at the same instant waits, then reads
    the first one's term and is told it overlaps (without it both were checked against the terms
    before either, and both kept). SQLite has one writer at a time and ignores FOR UPDATE."""
    db.session.execute(
        select(Organisation.id).where(Organisation.id == school.id).with_for_update()
    )


def _changed(school: Organisation) -> None:
    """The calendar changed: move the school's version on, and the change log sends the
    calendar to the DSL's tablet again. A value, not SQL (`Organisation.version + 1`): the flush
    expires an expression, so the change log's listener would see no change and log nothing."""
    school.version = (school.version or 1) + 1


def add_term(user: User, name: str, starts_on: date | None, ends_on: date | None) -> SchoolTerm:
    school = own_school(user)
    name = (name or "").strip()
    problems = term_problems(name, starts_on, ends_on)
    if problems:
        raise RuleError(*problems[0])
    _lock_calendar(school)
    existing = [(t.name, t.starts_on, t.ends_on) for t in _terms(school.id)]
    other = overlap(starts_on, ends_on, existing)
    if other is not None:
        raise RuleError("starts_on", _overlap_message(other))
    term = SchoolTerm(
        school_id=school.id, name=name, starts_on=starts_on, ends_on=ends_on, created_by_id=user.id
    )
    db.session.add(term)
    _changed(school)
    db.session.flush()
    audit.record("create", "school_term", term.id, detail="name,starts_on,ends_on")
    uow.commit()
    return term


def _delete_own(user: User, model, row_id: str, kind: str) -> None:
    """Delete a term or closure day of the DSL's own school (another school's: not found)."""
    school = own_school(user)
    row = db.session.get(model, row_id)
    if row is None or row.school_id != school.id:
        raise NotFound
    db.session.delete(row)
    _changed(school)
    audit.record("delete", kind, row_id)
    uow.commit()


def delete_term(user: User, term_id: str) -> None:
    _delete_own(user, SchoolTerm, term_id, "school_term")


def add_closure(user: User, on: date | None, reason: str) -> SchoolClosure:
    school = own_school(user)
    reason = (reason or "").strip()
    if on is None:
        raise RuleError("on", "Enter the day the school is closed")
    if not FIRST_YEAR <= on.year <= LAST_YEAR:
        raise RuleError("on", f"Check the year: {on.year} is not a school year we count")
    if on.weekday() >= 5:
        raise RuleError("on", "That day is a weekend, which is never counted as a school day")
    if not reason:
        raise RuleError("reason", "Enter why the school is closed, for example INSET day")
    if len(reason) > REASON_MAX:
        raise RuleError("reason", f"The reason must be {REASON_MAX} characters or fewer")
    if any(c.on == on for c in _closures(school.id)):
        raise RuleError("on", f"The school is already closed on {_label(on)}")
    closure = SchoolClosure(school_id=school.id, on=on, reason=reason, created_by_id=user.id)
    db.session.add(closure)
    _changed(school)
    db.session.flush()
    audit.record("create", "school_closure", closure.id, detail="on,reason")
    uow.commit()
    return closure


def delete_closure(user: User, closure_id: str) -> None:
    _delete_own(user, SchoolClosure, closure_id, "school_closure")


# ---------------------------------------------------------------- the authority's published dates


@dataclass(frozen=True)
class LineError:
    line: int  # the file's line (1 is the first); 0 for the file as a whole
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class TermRow:
    line: int
    name: str
    starts_on: date
    ends_on: date


@dataclass
class ImportResult:
    added: int = 0
    already_there: int = 0  # the same name and dates were already entered (a re-import)
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_date(text: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def decode(data: bytes) -> str | None:
    """The file as text: UTF-8 (with or without Excel's byte order mark), else Windows-1252,
    which Excel's "CSV" still writes. None for a file that is not text at all."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_csv(text: str) -> tuple[list[TermRow], list[LineError]]:
    """Rows of `name,start,end` (dates as YYYY-MM-DD or DD/MM/YYYY; a header row and blank lines
    are allowed), each checked by term_problems and against the file's other rows. PURE."""
    rows: list[TermRow] = []
    errors: list[LineError] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        records = [(reader.line_num, record) for record in reader]
    except csv.Error as err:
        return [], [LineError(reader.line_num, f"the file could not be read as CSV ({err})")]
    data = [(n, r) for n, r in records if any(cell.strip() for cell in r)]
    if data and [cell.strip().lower() for cell in data[0][1]] == HEADER:
        data = data[1:]
    if not data:
        return [], [LineError(0, "The file has no term dates: each line is name,start,end")]
    if len(data) > IMPORT_MAX_ROWS:
        return [], [LineError(0, f"The file has more than {IMPORT_MAX_ROWS} terms")]
    for line, record in data:
        if len(record) != 3:
            errors.append(
                LineError(line, f"expected 3 values (name,start,end), found {len(record)}")
            )
            continue
        name, start_text, end_text = (cell.strip() for cell in record)
        starts_on, ends_on = parse_date(start_text), parse_date(end_text)
        bad_dates = False
        for label, value, parsed in (("start", start_text, starts_on), ("end", end_text, ends_on)):
            if parsed is None:
                bad_dates = True
                what = "is missing" if not value else "is not a date as YYYY-MM-DD or DD/MM/YYYY"
                errors.append(LineError(line, f"the {label} date {what}"))
        if bad_dates:
            continue
        problems = term_problems(name, starts_on, ends_on)
        if problems:
            errors.extend(LineError(line, _lower_first(message)) for _f, message in problems)
            continue
        earlier = overlap(starts_on, ends_on, [(r.name, r.starts_on, r.ends_on) for r in rows])
        if earlier is not None:
            errors.append(LineError(line, _lower_first(_overlap_message(earlier))))
            continue
        rows.append(TermRow(line, name, starts_on, ends_on))
    return rows, errors


def _lower_first(message: str) -> str:
    return message[:1].lower() + message[1:]


def read_upload(file: IO[bytes] | bytes | str) -> str | None:
    """The upload's text (None: too large, or not text)."""
    if isinstance(file, str):
        return file if len(file.encode()) <= IMPORT_MAX_BYTES else None
    data = file if isinstance(file, bytes) else file.read(IMPORT_MAX_BYTES + 1)
    if len(data) > IMPORT_MAX_BYTES:
        return None
    return decode(data)


def import_terms(user: User, file: IO[bytes] | bytes | str) -> ImportResult:
    """Import the authority's published term dates into the DSL's own school: all or nothing.
    Any bad line (or one overlapping a term already entered) keeps the whole file out, and
    every problem is reported by its line. A term already entered with the same name and dates
    is left as it is, so the same file imported twice adds nothing."""
    school = own_school(user)
    text = read_upload(file)
    if text is None:
        rows, errors = [], [LineError(0, "Choose a CSV file of term dates, up to 64 KB")]
    else:
        rows, errors = parse_csv(text)
    _lock_calendar(school)
    existing = [(t.name, t.starts_on, t.ends_on) for t in _terms(school.id)]
    new: list[TermRow] = []
    result = ImportResult()
    for row in rows:
        if (row.name, row.starts_on, row.ends_on) in existing:
            result.already_there += 1
            continue
        other = overlap(row.starts_on, row.ends_on, existing)
        if other is not None:
            errors.append(LineError(row.line, _lower_first(_overlap_message(other))))
            continue
        new.append(row)
    if errors:
        errors.sort(key=lambda e: e.line)
        audit.record(
            "import_refused",
            "school_calendar",
            school.id,
            detail=f"{len(errors)} problems, nothing imported",
        )
        uow.commit()
        return ImportResult(errors=errors)
    for row in new:
        db.session.add(
            SchoolTerm(
                school_id=school.id,
                name=row.name,
                starts_on=row.starts_on,
                ends_on=row.ends_on,
                created_by_id=user.id,
            )
        )
    result.added = len(new)
    if new:
        _changed(school)
    audit.record(
        "import",
        "school_calendar",
        school.id,
        detail=f"{result.added} terms added, {result.already_there} already there",
    )
    uow.commit()
    return result
