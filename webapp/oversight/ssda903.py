"""The statutory returns about missing children, as pure rules: rows in, CSV rows and problems out.

No Flask and no database here (webapp/oversight/exports.py reads the records and writes the
files), so every rule is tested on its own (tests/unit/test_ssda903.py).

The SSDA903 Missing table
-------------------------
The annual looked-after children return (SSDA903) has a Missing table, one row per period a
looked-after child was missing or away from placement without authorisation:
`CHILD,DOB,MISSING,MIS_START,MIS_END`. CHILD is the authority's own identifier for the child,
dates are DD/MM/YYYY, MISSING is M or A, MIS_END is blank while the period is open. The
collection year runs from 1 April to 31 March: a period is in the year's table when it started on
or before 31 March and had not ended before 1 April. A period still open on 31 March is returned
open (blank end), as it stood at the year's end, whatever happened after.

Dates are the UK (Europe/London) dates of the instants recorded: a child last seen at 00:30 BST
on 1 April 2025 (23:30 UTC on 31 March) started a period on 01/04/2025, inside the 2025-26 year.

DfE's validation rules for the table (DOMAIN.md) are checked on the rows exactly as they would be
written, so a row the product could never make (a blank start, a bad code) is still caught by
the same code that checks the rows it does make. Each problem names the rule, the child and the
episode, in plain words, and says what to correct (the child's record or the episode).

The Standard Safeguarding Dataset's missing extract
---------------------------------------------------
`ssd_missing` of the Standard Safeguarding Dataset (data-to-insight/ssd-data-model,
data/objects/ssd_missing.yml): one row per episode with the return interview offered and
accepted, which the 903 does not hold and Ofsted's Annex A asks for. Its column names are the
SSD's own (miss_table_id, miss_la_person_id, miss_mis_epi_start, miss_mis_epi_type,
miss_mis_epi_end, miss_mis_epi_rhi_offered, miss_mis_epi_rhi_accepted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from webapp.deadlines import LONDON, to_local

HEADER = ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END")

# The 903 knows two kinds of period. M, missing: the child's whereabouts are not known; that is
# what "missing" and "not back when expected" report, and "absent" too: in England "absent" is a
# police category of missing (not where expected, whereabouts unknown, no apparent risk), not a
# kind of absence with whereabouts known. A, away from placement without authorisation: a
# looked-after child whose whereabouts are known (Homeward's "away").
MISSING_CODES = {"missing": "M", "not_back": "M", "absent": "M", "away": "A"}

# The DfE's own words for each rule of the Missing table, shown beside the plain explanation.
# "CHILD" is Homeward's check, not a DfE rule: a row with no identifier cannot be matched to the
# child's other tables, so DfE's tool refuses it elsewhere.
RULES = {
    "CHILD": "The child's identifier (CHILD) is missing",
    "1004": "The start date of the missing or away period is not a valid date",
    "1005": "The end date of the missing or away period is not a valid date",
    "1006": "The missing type is not a valid code (M or A)",
    "564": "The child was missing or away, but the start date has not been completed",
    "565": "The start date has been completed, but whether missing or away has not",
    "566": "The end date has been completed, but whether missing or away has not",
    "567": "The end date of the period is before its start date",
    "570": "The period started after the end of the collection year",
    "571": "The period ended before the start or after the end of the collection year",
    "574": "A new period cannot start while the previous one is still open, and periods must "
    "not overlap",
    "581": "The child is missing but has not yet started to be looked after",
    "586": "The period starts before the child's date of birth",
}

FIX_CHILD = "child"
FIX_EPISODE = "episode"

_DMY = re.compile(r"^\d{2}/\d{2}/\d{4}$")


# ---------------------------------------------------------------- the collection year


@dataclass(frozen=True)
class CollectionYear:
    """1 April `year` to 31 March `year + 1` (the 2025 year is 2025-26)."""

    year: int

    @property
    def start(self) -> date:
        return date(self.year, 4, 1)

    @property
    def end(self) -> date:
        return date(self.year + 1, 3, 31)

    @property
    def label(self) -> str:
        return f"{self.year}-{(self.year + 1) % 100:02d}"

    @property
    def starts_utc(self) -> datetime:
        """The first instant of the year: midnight UK time on 1 April."""
        return _uk_midnight(self.start)

    @property
    def ends_utc(self) -> datetime:
        """The first instant after the year: midnight UK time on 1 April next year."""
        return _uk_midnight(self.end + timedelta(days=1))


def _uk_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def collection_year_of(day: date) -> CollectionYear:
    """The collection year a day falls in."""
    return CollectionYear(day.year if day >= date(day.year, 4, 1) else day.year - 1)


def uk_date(instant: datetime) -> date:
    return to_local(instant).date()


def dmy(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day is not None else ""


def missing_code(reported_type: str) -> str:
    """M or A for what was reported; an unknown kind is left blank (rule 1006/564 say so)."""
    return MISSING_CODES.get(reported_type, "")


# ---------------------------------------------------------------- records and rows


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode of a looked-after child, as the database holds it."""

    episode_id: str
    child_id: str
    child_ref: str | None  # the authority's identifier (children.authority_child_id)
    date_of_birth: date
    looked_after_since: date | None  # the start of the current period of care, if recorded
    reported_type: str
    last_seen_at: datetime  # aware, UTC
    returned_at: datetime | None


@dataclass(frozen=True)
class Row:
    """One row of the Missing table as it is written (text), and what it came from."""

    child: str
    dob: str
    missing: str
    mis_start: str
    mis_end: str
    child_id: str | None = None
    episode_id: str | None = None
    # Not a column: rule 581 needs the start of the child's period of care (None: unknown).
    looked_after_since: date | None = None

    @property
    def cells(self) -> list[str]:
        return [self.child, self.dob, self.missing, self.mis_start, self.mis_end]


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str
    child_id: str | None
    episode_id: str | None
    fix: str  # FIX_CHILD or FIX_EPISODE: which record to correct
    # A warning does not make DfE's tool refuse the file, but a rule could not be checked.
    warning: bool = False

    @property
    def rule_text(self) -> str:
        return RULES.get(self.rule, "")


@dataclass
class Return903:
    year: CollectionYear
    rows: list[Row]
    problems: list[Problem] = field(default_factory=list)

    @property
    def failures(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]

    def csv_rows(self) -> list[list[str]]:
        return [row.cells for row in self.rows]


def in_year(record: EpisodeRecord, year: CollectionYear) -> bool:
    """Whether the episode belongs in the year's table: it started by 31 March, had not ended
    before 1 April, and did not end before the child's current period of care began (then the
    child was not looked after: not a 903 period at all)."""
    start = uk_date(record.last_seen_at)
    end = uk_date(record.returned_at) if record.returned_at is not None else None
    if start > year.end or (end is not None and end < year.start):
        return False
    if end is not None and record.looked_after_since and end < record.looked_after_since:
        return False
    return True


def to_row(record: EpisodeRecord, year: CollectionYear) -> Row:
    end = uk_date(record.returned_at) if record.returned_at is not None else None
    if end is not None and end > year.end:
        end = None  # still open on 31 March: returned open, as it stood at the year's end
    return Row(
        child=record.child_ref or "",
        dob=dmy(record.date_of_birth),
        missing=missing_code(record.reported_type),
        mis_start=dmy(uk_date(record.last_seen_at)),
        mis_end=dmy(end),
        child_id=record.child_id,
        episode_id=record.episode_id,
        looked_after_since=record.looked_after_since,
    )


def build(records: Iterable[EpisodeRecord], year: CollectionYear) -> Return903:
    """The year's table from the authority's looked-after children's episodes (withdrawn ones
    already left out by the caller): each child's periods together, in the order they began,
    and every problem DfE's rules would find in it."""
    kept = sorted(
        (r for r in records if in_year(r, year)),
        key=lambda r: (r.child_ref or "", r.child_id, r.last_seen_at),
    )
    rows = [to_row(r, year) for r in kept]
    return Return903(year=year, rows=rows, problems=validate(rows, year))


# ---------------------------------------------------------------- the rules


class _Invalid:
    pass


INVALID = _Invalid()


def parse_dmy(text: str) -> date | None | _Invalid:
    """A DD/MM/YYYY cell: the date, None when blank, INVALID otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    if not _DMY.match(text):
        return INVALID
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return INVALID


def _valid(value) -> date | None:
    return value if isinstance(value, date) else None


def validate(rows: Sequence[Row], year: CollectionYear) -> list[Problem]:
    """Every problem DfE's rules for the Missing table find in these rows, in row order (574,
    which compares a child's periods with each other, after the rows)."""
    problems: list[Problem] = []
    unknown_care_start: set[str] = set()

    def add(rule: str, row: Row, message: str, fix: str = FIX_EPISODE, warning=False) -> None:
        problems.append(Problem(rule, message, row.child_id, row.episode_id, fix, warning))

    for row in rows:
        code = (row.missing or "").strip()
        start_text, end_text = (row.mis_start or "").strip(), (row.mis_end or "").strip()
        start, end = parse_dmy(start_text), parse_dmy(end_text)
        dob = _valid(parse_dmy(row.dob))
        if not (row.child or "").strip():
            add(
                "CHILD",
                row,
                "The child has no authority identifier, so the CHILD column would be empty: "
                "add the identifier from the case management system to the child's record",
                FIX_CHILD,
            )
        if start is INVALID:
            add("1004", row, f"The start date {start_text!r} is not a DD/MM/YYYY date")
        elif start is None and not code:
            add("1004", row, "The period has no start date")
        if end is INVALID:
            add("1005", row, f"The end date {end_text!r} is not a DD/MM/YYYY date")
        if code and code not in ("M", "A"):
            add("1006", row, f"The code {code!r} is neither M (missing) nor A (away)")
        if code and start is None:
            add("564", row, "The period has a code but no start date")
        if start_text and not code:
            add("565", row, "The period has a start date but no code (M or A)")
        if end_text and not code:
            add("566", row, "The period has an end date but no code (M or A)")
        start, end = _valid(start), _valid(end)
        if start and end and end < start:
            add("567", row, f"It ends on {dmy(end)}, before it starts on {dmy(start)}")
        if start and start > year.end:
            add(
                "570",
                row,
                f"It starts on {dmy(start)}, after the collection year ends on {dmy(year.end)}",
            )
        if end and not year.start <= end <= year.end:
            add(
                "571",
                row,
                f"It ends on {dmy(end)}, outside the collection year "
                f"({dmy(year.start)} to {dmy(year.end)})",
            )
        if start and dob and start < dob:
            add(
                "586",
                row,
                f"It starts on {dmy(start)}, before the child's date of birth ({dmy(dob)})",
            )
        if start:
            if row.looked_after_since is None:
                key = row.child_id or row.child
                if key not in unknown_care_start:
                    unknown_care_start.add(key)
                    add(
                        "581",
                        row,
                        "The date the child's current period of care began is not recorded, so "
                        "this rule cannot be checked: add it to the child's record",
                        FIX_CHILD,
                        warning=True,
                    )
            elif start < row.looked_after_since:
                add(
                    "581",
                    row,
                    f"It starts on {dmy(start)}, before the child's period of care began on "
                    f"{dmy(row.looked_after_since)}: correct the episode's times, or the date "
                    "care began on the child's record",
                )
    problems.extend(_overlaps(rows))
    return problems


def _overlaps(rows: Sequence[Row]) -> list[Problem]:
    """Rule 574 for each child: in the order the periods started (an open one after a closed one
    starting the same day), none may start while an earlier one is still open or before it
    ended. A period may start on the day the previous one ended (several short episodes in one
    day are several rows with the same dates). Compared with the latest end so far, not only
    the row before: a long period overlapping two short ones is found for both."""
    by_child: dict[str, list[tuple[date, date | None, bool, Row]]] = {}
    for row in rows:
        start = _valid(parse_dmy(row.mis_start))
        if start is None:
            continue  # no start to compare (1004/564 say so)
        raw_end = parse_dmy(row.mis_end)
        if raw_end is INVALID:
            continue  # 1005 says so; its end cannot be compared
        key = row.child_id or row.child
        by_child.setdefault(key, []).append((start, _valid(raw_end), raw_end is None, row))
    problems = []
    for periods in by_child.values():
        periods.sort(key=lambda p: (p[0], p[1] or date.max))
        latest: tuple[date, date | None, bool, Row] | None = None
        for period in periods:
            start, end, is_open, row = period
            if latest is not None:
                l_start, l_end, l_open, _ = latest
                if l_open:
                    message = (
                        f"It starts on {dmy(start)} while the child's period that started on "
                        f"{dmy(l_start)} is still open: record that return, or correct the times"
                    )
                elif start < l_end:
                    message = (
                        f"It starts on {dmy(start)}, before the child's period that started on "
                        f"{dmy(l_start)} ended on {dmy(l_end)}: correct one of them"
                    )
                else:
                    message = None
                if message:
                    problems.append(
                        Problem("574", message, row.child_id, row.episode_id, FIX_EPISODE)
                    )
            if latest is None or is_open or (not latest[2] and end > latest[1]):
                latest = period
    return problems


# ---------------------------------------------------------------- the SSD missing extract

SSD_HEADER = (
    "miss_table_id",
    "miss_la_person_id",
    "miss_mis_epi_start",
    "miss_mis_epi_type",
    "miss_mis_epi_end",
    "miss_mis_epi_rhi_offered",
    "miss_mis_epi_rhi_accepted",
)


@dataclass(frozen=True)
class SsdRecord:
    """One episode (not withdrawn) with the return interview covering it, if any."""

    episode_id: str
    child_ref: str | None
    reported_type: str
    last_seen_at: datetime
    returned_at: datetime | None
    offered: str | None  # the interview's envelope: Y / N / NA, or None when not recorded
    outcome: str | None  # accepted / declined, or None


def rhi_answers(returned: bool, offered: str | None, outcome: str | None) -> tuple[str, str]:
    """(RHI offered, RHI accepted), each Y, N or NA, as the record stands when the extract is
    made.

    - The child not back yet: NA and NA (no interview is due before a return).
    - Offered: what the interview covering the episode records (Y, N, or NA where the worker
      answered "not applicable"); N when no offer is recorded at all (no interview held yet, or
      the question not answered): the record shows no offer.
    - Accepted: only asked of an offer made (the SSD leaves it empty otherwise; NA here): Y when
      the child accepted, N when they declined, NA while the answer is not recorded.
    """
    if not returned:
        return "NA", "NA"
    offer = offered if offered in ("Y", "N", "NA") else "N"
    if offer != "Y":
        return offer, "NA"
    return offer, {"accepted": "Y", "declined": "N"}.get(outcome or "", "NA")


def _ssd_time(instant: datetime | None) -> str:
    # UK wall-clock time, as the SSD's datetime columns hold it in an authority's warehouse.
    return to_local(instant).strftime("%Y-%m-%d %H:%M") if instant is not None else ""


def ssd_in_year(record: SsdRecord, year: CollectionYear) -> bool:
    start = uk_date(record.last_seen_at)
    end = uk_date(record.returned_at) if record.returned_at is not None else None
    return start <= year.end and (end is None or end >= year.start)


def ssd_rows(records: Iterable[SsdRecord], year: CollectionYear) -> list[list[str]]:
    """The extract's rows for the episodes in the collection year, in the order they began."""
    rows = []
    for r in sorted(records, key=lambda r: (r.last_seen_at, r.episode_id)):
        if not ssd_in_year(r, year):
            continue
        offered, accepted = rhi_answers(r.returned_at is not None, r.offered, r.outcome)
        rows.append(
            [
                r.episode_id,
                r.child_ref or "",
                _ssd_time(r.last_seen_at),
                missing_code(r.reported_type),
                _ssd_time(r.returned_at),
                offered,
                accepted,
            ]
        )
    return rows
