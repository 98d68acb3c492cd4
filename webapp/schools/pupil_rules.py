"""Pure rules for a school's pupils: the DfE Unique Pupil Number, year groups, and reading a
CSV exported from a school's management information system (MIS). No I/O, no database.

Errors name a line and a field, never a value: the messages reach a terminal, a web page and
possibly a support ticket, and the values are a child's name, date of birth and UPN.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

# ---------------------------------------------------------------------------------------- UPN

# The DfE's check-letter alphabet: A to Z without I, O and S (easily misread), 23 letters. The
# check letter is UPN_LETTERS[sum(weight * value) % 23] over characters 2 to 13 with weights 2
# to 13, a digit counting its own value and a letter (the 13th character of a temporary UPN)
# its place in this alphabet.
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_SHAPE = re.compile(rf"^[{UPN_LETTERS}][0-9]{{11}}[0-9{UPN_LETTERS}]$")


def normalise_upn(value: str) -> str:
    """As typed or exported: spaces and case do not matter."""
    return re.sub(r"\s+", "", value or "").upper()


def upn_check_letter(body: str) -> str:
    """The check letter for the 12 characters after it."""
    total = 0
    for weight, char in enumerate(body, start=2):
        total += weight * (int(char) if char.isdigit() else UPN_LETTERS.index(char))
    return UPN_LETTERS[total % 23]


def upn_problem(value: str) -> str | None:
    """Why `value` (normalised) is not a UPN, or None. Permanent UPNs end in a digit,
    temporary ones (given until the permanent one is known) in a letter: both are accepted."""
    if not value:
        return "Enter the UPN"
    if len(value) != 13 or not _UPN_SHAPE.match(value):
        return "A UPN is a letter followed by 12 numbers, like A123456789012"
    if upn_check_letter(value[1:]) != value[0]:
        return "The UPN's first letter does not match the rest: check it was typed correctly"
    return None


# -------------------------------------------------------------------------------- year groups

YEAR_GROUPS = ("R", *(str(n) for n in range(1, 14)))
YEAR_GROUP_LABELS = {"R": "Reception", **{str(n): f"Year {n}" for n in range(1, 14)}}
_YEAR_PREFIX = re.compile(r"^(?:YEAR|YR|Y|NC)\s*")


def parse_year_group(value: str) -> str | None:
    """ "R", "Reception", "YR", "7", "07", "Y7", "Year 7" -> "R" or "7"; None if not R or 1..13."""
    text = re.sub(r"\s+", " ", (value or "").strip().upper())
    if text in ("R", "REC", "RECEPTION", "YR", "YEAR R"):
        return "R"
    text = _YEAR_PREFIX.sub("", text)
    if text.isdigit() and 1 <= int(text) <= 13:
        return str(int(text))
    return None


def year_group_order(year_group: str | None) -> int:
    """Reception first, then 1 to 13; none last."""
    if year_group == "R":
        return 0
    return int(year_group) if year_group and year_group.isdigit() else 99


# ------------------------------------------------------------------------------ sex and dates

_SEXES = {
    "M": "male",
    "MALE": "male",
    "BOY": "male",
    "F": "female",
    "FEMALE": "female",
    "GIRL": "female",
    "X": "other",
    "O": "other",
    "OTHER": "other",
    "U": "unknown",
    "UNKNOWN": "unknown",
    "NOT KNOWN": "unknown",
    "NOT STATED": "unknown",
    "NOT SPECIFIED": "unknown",
}


def parse_sex(value: str) -> str | None:
    """An MIS's gender (M, F, Male, Female, U, X...) as Homeward's sex codes; None if unknown."""
    return _SEXES.get(re.sub(r"\s+", " ", (value or "").strip().upper()))


_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y")


def parse_date(value: str) -> date | None:
    text = (value or "").strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def date_of_birth_problem(dob: date, today: date) -> str | None:
    # As for any child (webapp/children/service.py): Homeward is for children and care leavers.
    if dob > today:
        return "Date of birth must be in the past"
    if (today - dob).days > 25 * 366:
        return "Date of birth is more than 25 years ago"
    return None


# ---------------------------------------------------------------------------------- one pupil


@dataclass(frozen=True)
class PupilData:
    upn: str
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str
    year_group: str


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header; 0 for the file as a whole
    field: str  # a column's name as the MIS calls it (or ours), never the value
    message: str

    def __str__(self) -> str:
        where = f"Line {self.line}" if self.line else "File"
        return f"{where}: {self.field}: {self.message}"


NAME_MAX = 100


def _name_problem(value: str, what: str) -> str | None:
    if not value:
        return f"Enter the {what}"
    if len(value) > NAME_MAX:
        return f"The {what} must be {NAME_MAX} characters or fewer"
    return None


# ------------------------------------------------------------------------------ the MIS's CSV

# Our field -> the headers MIS exports use for it (SIMS, Arbor, Bromcom, ScholarPack...), the
# preferred first: a "Legal Surname" wins over a "Surname" (a preferred name) in the same file.
COLUMNS: dict[str, tuple[str, ...]] = {
    "upn": ("UPN", "Unique Pupil Number", "Pupil UPN"),
    "last_name": ("Legal Surname", "Surname", "Last Name", "Legal Last Name", "Family Name"),
    "first_name": (
        "Legal Forename",
        "Forename",
        "Legal First Name",
        "First Name",
        "Forenames",
        "Given Name",
    ),
    "date_of_birth": ("DOB", "Date of Birth", "Birth Date", "Birthdate"),
    "sex": ("Gender", "Sex"),
    "year_group": (
        "Year",
        "Year Group",
        "NC Year",
        "NC Year Actual",
        "National Curriculum Year",
        "Curriculum Year",
        "Year Taught In",
    ),
}
COLUMN_LABELS = {
    "upn": "UPN",
    "last_name": "Surname",
    "first_name": "Forename",
    "date_of_birth": "DOB",
    "sex": "Gender",
    "year_group": "Year",
}


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (header or "").lower())


def match_columns(headers: Iterable[str]) -> tuple[dict[str, str], list[RowError]]:
    """Which header of the file holds each field (case, spaces and punctuation ignored)."""
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(_key(header), header)
    found: dict[str, str] = {}
    errors = []
    for name, aliases in COLUMNS.items():
        header = next((by_key[_key(a)] for a in aliases if _key(a) in by_key), None)
        if header is None:
            errors.append(RowError(1, COLUMN_LABELS[name], f"No {COLUMN_LABELS[name]} column"))
        else:
            found[name] = header
    return found, errors


def read_row(
    row: Mapping[str, str | None], columns: Mapping[str, str], line: int, today: date
) -> tuple[PupilData | None, list[RowError]]:
    """One row of the export, checked: the pupil, or every problem with the row."""

    def cell(name: str) -> str:
        return (row.get(columns[name]) or "").strip()

    def err(name: str, message: str) -> RowError:
        return RowError(line, columns.get(name, COLUMN_LABELS[name]), message)

    return check_pupil(
        {name: cell(name) for name in COLUMNS}, today, lambda name, msg: err(name, msg)
    )


def check_pupil(values: Mapping[str, str], today: date, err=None) -> tuple[PupilData | None, list]:
    """Text values of one pupil (a form's or a CSV row's) checked: the pupil or the problems,
    each made by `err(field, message)` (a RowError on line 0 unless given)."""
    err = err or (lambda name, message: RowError(0, name, message))
    errors = []
    upn = normalise_upn(values.get("upn", ""))
    if problem := upn_problem(upn):
        errors.append(err("upn", problem))
    first = (values.get("first_name") or "").strip()
    if problem := _name_problem(first, "first name"):
        errors.append(err("first_name", problem))
    last = (values.get("last_name") or "").strip()
    if problem := _name_problem(last, "last name"):
        errors.append(err("last_name", problem))
    raw_dob = (values.get("date_of_birth") or "").strip()
    dob = parse_date(raw_dob) if raw_dob else None
    if not raw_dob:
        errors.append(err("date_of_birth", "Enter the date of birth"))
    elif dob is None:
        errors.append(err("date_of_birth", "Not a date: use DD/MM/YYYY or YYYY-MM-DD"))
    elif problem := date_of_birth_problem(dob, today):
        errors.append(err("date_of_birth", problem))
    sex = parse_sex(values.get("sex") or "")
    if sex is None:
        errors.append(err("sex", "Not a gender we know: use M, F, X or U"))
    year = parse_year_group(values.get("year_group") or "")
    if year is None:
        errors.append(err("year_group", "Not a year group: use R or 1 to 13"))
    if errors:
        return None, errors
    return PupilData(upn, first, last, dob, sex, year), []


@dataclass(frozen=True)
class ParsedFile:
    pupils: list[tuple[int, PupilData]]  # (line, pupil)
    errors: list[RowError]


def decode(data: bytes) -> str:
    """An export's bytes as text: UTF-8 (with or without Excel's BOM), else Windows-1252, which
    older MIS exports and Excel's "CSV" still write."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _records(text: str) -> tuple[list[tuple[int, list[str]]], RowError | None]:
    """Each CSV record with the line it starts on (a quoted field may span lines), and what
    stopped the reading early, if anything."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    records, previous = [], 0
    try:
        for record in reader:
            records.append((previous + 1, record))
            previous = reader.line_num
    except csv.Error:
        return records, RowError(previous + 1, "File", "Not readable as CSV from this line")
    return records, None


def parse_csv(text: str, today: date) -> ParsedFile:
    records, broken = _records(text)
    if not records:
        return ParsedFile([], [broken or RowError(0, "File", "The file is empty")])
    headers = [h.strip() for h in records[0][1]]
    rows = []
    for line, record in records[1:]:
        if not any(cell.strip() for cell in record):
            continue  # a blank line (Excel leaves them at the end)
        if len(record) > len(headers):
            # An unquoted comma in a name shifts every later value into the wrong column.
            rows.append((line, None))
        else:
            rows.append((line, dict(zip(headers, record, strict=False))))
    return _check_rows(headers, rows, today, [broken] if broken else [])


def parse_rows(rows: Iterable[Mapping[str, str]], today: date) -> ParsedFile:
    """Rows already read (dicts keyed by the export's headers), numbered as the CSV lines would
    be: the first row is line 2."""
    rows = list(rows)
    headers: list[str] = []
    for row in rows:
        headers += [h for h in row if h not in headers]
    return _check_rows(headers, list(enumerate(rows, start=2)), today, [])


def _check_rows(
    headers: list[str],
    rows: list[tuple[int, Mapping[str, str] | None]],
    today: date,
    errors: list[RowError],
) -> ParsedFile:
    columns, missing = match_columns(headers)
    if missing:
        return ParsedFile([], missing + errors)
    pupils: list[tuple[int, PupilData]] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        if row is None:
            errors.append(RowError(line, "Row", "More values than the header has columns"))
            continue
        pupil, row_errors = read_row(row, columns, line, today)
        errors += row_errors
        if pupil is None:
            continue
        if pupil.upn in first_line:
            errors.append(
                RowError(line, columns["upn"], f"Same UPN as line {first_line[pupil.upn]}")
            )
            continue
        first_line[pupil.upn] = line
        pupils.append((line, pupil))
    if not pupils and not errors:
        errors.append(RowError(0, "File", "The file has no pupils in it"))
    return ParsedFile(pupils, errors)
