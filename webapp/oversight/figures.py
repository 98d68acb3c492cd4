"""The oversight figures: counts over a period, under the access rules, for a manager.

Every function takes the person asking, a Period and Filters and returns plain dataclasses, so
the dashboard page, its CSV downloads and the monthly missing meeting pack show the same numbers.
Every count is one aggregate SQL query (SUM(CASE ...), COUNT, GROUP BY), the same on
SQLite and PostgreSQL; no Python loop walks the rows.

What counts:

* An episode belongs to the period in which the child was last seen, by its UK (Europe/London)
  date: a month runs from 00:00 London time on the 1st to 00:00 on the next 1st, whatever the
  clocks did in between. Withdrawn episodes (recorded by mistake) count for nothing.
* The return interviews of a period are those covering its episodes (an interview covering
  episodes of two months counts in both; one only needed for a withdrawn episode never counts).
  Held within 72 hours: held_at <= due_at (webapp/deadlines.py); the share is of the interviews
  held, as the national figure (63% in 2023-24) is.
* Filters: the team is the interview's; the placement type is where the child was missing from
  (home, care, school) or whether the child is looked after (as the record says today); the age
  band is the child's age on the UK date the episode began.
* Every query carries access.child_clause, so a figure, and the list of children behind it,
  holds only children the person may see (for a manager: of their authority, or placed there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    Index,
    Integer,
    and_,
    case,
    distinct,
    extract,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from webapp import access, audit, deadlines, uow
from webapp.accounts.models import Organisation, OrgKind, User
from webapp.children.models import Child, LegalStatus
from webapp.episodes.models import (
    FOUND_PLACE_LABELS,
    HOW_RETURNED_LABELS,
    Episode,
    EpisodeStatus,
    ReportedType,
)
from webapp.errors import NotFound, RuleError
from webapp.extensions import db
from webapp.interviews.models import Interview, InterviewStatus, interview_episodes
from webapp.oversight.factors import FACTOR_KIND, REASON_LABELS, InterviewFactor
from webapp.oversight.factors import KIND_LABELS as FACTOR_KINDS
from webapp.schools.absence_models import SchoolNotification

LONDON = deadlines.LONDON
NATIONAL_72H_SHARE = 0.63  # Missing People FOI study, 2023-24 (docs/DOMAIN.md)
TREND_MONTHS = 12
MAX_RANGE_DAYS = 6 * 366

# ---------------------------------------------------------------- the period


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, from 00:00 London time on first_day to 00:00 after last_day."""

    code: str
    label: str
    first_day: date
    last_day: date
    start: datetime = field(init=False)
    end: datetime = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "start", london_midnight(self.first_day))
        object.__setattr__(self, "end", london_midnight(self.last_day + timedelta(days=1)))


def london_midnight(day: date) -> datetime:
    # Midnight always exists in London (the clocks change at 01:00 UTC), so no fold to choose.
    return datetime(day.year, day.month, day.day, tzinfo=LONDON).astimezone(UTC)


def london_today(now: datetime) -> date:
    return deadlines.to_local(now).date()


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_period(year: int, month: int) -> Period:
    first = date(year, month, 1)
    return Period(f"m{year:04d}-{month:02d}", f"{first:%B %Y}", first, _next_month(first) - _DAY)


def quarter_period(year: int, quarter: int) -> Period:
    first = date(year, 3 * quarter - 2, 1)
    last = _next_month(date(year, 3 * quarter, 1)) - _DAY
    return Period(f"q{year:04d}-{quarter}", f"{first:%B} to {last:%B %Y}", first, last)


def year_period(year: int) -> Period:
    return Period(f"y{year:04d}", f"{year}", date(year, 1, 1), date(year, 12, 31))


def financial_year_period(year: int) -> Period:
    """1 April `year` to 31 March next year: the statutory collection year."""
    return Period(
        f"fy{year:04d}",
        f"April {year} to March {year + 1}",
        date(year, 4, 1),
        date(year + 1, 3, 31),
    )


def range_period(first: date, last: date) -> Period:
    if last < first:
        raise RuleError("to", "The end date must be on or after the start date")
    if (last - first).days > MAX_RANGE_DAYS:
        raise RuleError("to", "Choose at most six years")
    label = f"{first:%-d %B %Y} to {last:%-d %B %Y}"
    return Period(f"r{first.isoformat()}.{last.isoformat()}", label, first, last)


_DAY = timedelta(days=1)


def default_period(now: datetime) -> Period:
    """The last full month, as a monthly missing meeting looks at."""
    first_of_this = london_today(now).replace(day=1)
    last_month = first_of_this - _DAY
    return month_period(last_month.year, last_month.month)


def parse_period(code: str | None, now: datetime) -> Period:
    """A period from its code ("m2026-03", "q2026-1", "y2025", "fy2025",
    "r2026-01-01.2026-03-31"); the default (last full month) when empty. RuleError if bad."""
    if not code:
        return default_period(now)
    try:
        if code.startswith("fy"):
            return financial_year_period(_year(code[2:]))
        if code.startswith("m"):
            year, month = code[1:].split("-")
            return month_period(_year(year), _in(month, 1, 12))
        if code.startswith("q"):
            year, quarter = code[1:].split("-")
            return quarter_period(_year(year), _in(quarter, 1, 4))
        if code.startswith("y"):
            return year_period(_year(code[1:]))
        if code.startswith("r"):
            first, last = code[1:].split(".")
            return range_period(date.fromisoformat(first), date.fromisoformat(last))
    except ValueError:
        pass
    raise RuleError("period", "Choose a period from the list")


def _in(text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(text)
    return int(text)


def _year(text: str) -> int:
    return _in(text, 2000, 2100)


def period_choices(now: datetime) -> list[tuple[str, list[tuple[str, str]]]]:
    """The periods a manager picks from, grouped: months, quarters, years."""
    today = london_today(now)
    months, day = [], today.replace(day=1)
    for _ in range(25):
        p = month_period(day.year, day.month)
        months.append((p.code, p.label + (" (so far)" if day.month == today.month else "")))
        day = (day - _DAY).replace(day=1)
    quarters = []
    year, quarter = today.year, (today.month - 1) // 3 + 1
    for _ in range(9):
        quarters.append((quarter_period(year, quarter).code, quarter_period(year, quarter).label))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    years = [
        (year_period(y).code, year_period(y).label) for y in range(today.year, today.year - 6, -1)
    ]
    fy_now = today.year if today.month >= 4 else today.year - 1
    fys = [
        (financial_year_period(y).code, financial_year_period(y).label)
        for y in range(fy_now, fy_now - 6, -1)
    ]
    return [
        ("Months", months),
        ("Quarters", quarters),
        ("Years (January to December)", years),
        ("Years (April to March)", fys),
    ]


# ---------------------------------------------------------------- the filters

PLACEMENTS = {
    "home": "Missing from home",
    "placement": "Missing from care (a placement)",
    "school": "Missing from school",
    "looked_after": "Looked after children",
    "not_looked_after": "Children not looked after",
}
# (label, lowest age, age below which): the child's age on the UK date the episode began.
AGE_BANDS = {
    "under10": ("Under 10", None, 10),
    "10-13": ("10 to 13", 10, 14),
    "14-15": ("14 to 15", 14, 16),
    "16-17": ("16 to 17", 16, 18),
}


@dataclass(frozen=True)
class Filters:
    team_id: str | None = None
    placement: str | None = None
    age_band: str | None = None

    def params(self) -> dict[str, str]:
        """As query parameters: codes and a team's id, never anything about a child."""
        return {
            k: v
            for k, v in (
                ("team", self.team_id),
                ("placement", self.placement),
                ("age", self.age_band),
            )
            if v
        }

    def code(self) -> str:
        """For the audit row: which filters, by code."""
        return ",".join(f"{k}={v}" for k, v in self.params().items()) or "none"


def teams_of(user: User) -> list[Organisation]:
    return list(
        db.session.scalars(
            select(Organisation)
            .where(Organisation.kind == OrgKind.TEAM, Organisation.parent_id == user.authority_id)
            .order_by(Organisation.name)
        )
    )


def parse_filters(user: User, team: str | None, placement: str | None, age: str | None):
    """Filters from their codes; RuleError for one not offered (a team of another authority is
    not offered: its name would be news to this manager, and it could only ever count nothing)."""
    if team and team not in {t.id for t in teams_of(user)}:
        raise RuleError("team", "Choose a team from the list")
    if placement and placement not in PLACEMENTS:
        raise RuleError("placement", "Choose a placement type from the list")
    if age and age not in AGE_BANDS:
        raise RuleError("age", "Choose an age band from the list")
    return Filters(team or None, placement or None, age or None)


# ---------------------------------------------------------------- SQL pieces


class _LondonDateNumber(FunctionElement):
    """The UK calendar date of a stored UTC instant, as the integer YYYYMMDD."""

    type = Integer()
    inherit_cache = True
    name = "london_date_number"


@compiles(_LondonDateNumber, "postgresql")
def _london_date_pg(element, compiler, **kw):
    instant = compiler.process(element.clauses, **kw)
    # Stored naive UTC: read as UTC, then shown in London time (the zone database's rules).
    return (
        f"CAST(to_char(({instant} AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/London', "
        "'YYYYMMDD') AS INTEGER)"
    )


@compiles(_LondonDateNumber, "sqlite")
def _london_date_sqlite(element, compiler, **kw):
    instant = compiler.process(element.clauses, **kw)
    # SQLite has no zone database: British Summer Time runs from 01:00 UTC on the last Sunday of
    # March to 01:00 UTC on the last Sunday of October (the rule since 1996). 'weekday 0' moves
    # the 25th to the Sunday on or after it, which is the month's last Sunday.
    year = f"strftime('%Y', {instant})"
    bst = (
        f"{instant} >= datetime({year} || '-03-25', 'weekday 0', '+1 hours') AND "
        f"{instant} < datetime({year} || '-10-25', 'weekday 0', '+1 hours')"
    )
    return (
        f"CAST(strftime('%Y%m%d', {instant}, CASE WHEN {bst} THEN '+1 hours' "
        "ELSE '+0 hours' END) AS INTEGER)"
    )


def _date_number(column):
    return extract("year", column) * 10000 + extract("month", column) * 100 + extract("day", column)


def _age_clause(band: str):
    """The child's age on the episode's UK date within the band: the difference of the two
    dates written YYYYMMDD, divided by 10,000, is the age in whole years."""
    _label, low, high = AGE_BANDS[band]
    gap = _LondonDateNumber(Episode.last_seen_at) - _date_number(Child.date_of_birth)
    clauses = [gap < high * 10000]
    if low is not None:
        clauses.append(gap >= low * 10000)
    return and_(*clauses)


def _looked_after():
    return or_(Child.looked_after.is_(True), Child.legal_status == LegalStatus.LOOKED_AFTER)


def _team_clause(team_id: str):
    return (
        select(literal(1))
        .select_from(interview_episodes.join(Interview))
        .where(interview_episodes.c.episode_id == Episode.id, Interview.team_id == team_id)
        .exists()
    )


def _filter_clauses(filters: Filters, *, team: bool = True) -> list:
    clauses = []
    if filters.team_id and team:
        clauses.append(_team_clause(filters.team_id))
    if filters.placement in ("home", "placement", "school"):
        clauses.append(Episode.missing_from == filters.placement)
    elif filters.placement == "looked_after":
        clauses.append(_looked_after())
    elif filters.placement == "not_looked_after":
        clauses.append(not_(_looked_after()))
    if filters.age_band:
        clauses.append(_age_clause(filters.age_band))
    return clauses


def _episodes_where(
    user: User, filters: Filters, period: Period | None, *, team: bool = True
) -> list:
    """The episodes a figure counts: the person's, not withdrawn, in the period, filtered.

    team=False leaves the team filter to a query that joins the interviews anyway
    (`_interviews_of_team`): an episode has at most one interview (interview_episodes.episode_id
    is unique), so "the episode's interview is the team's" is the same as "this interview is the
    team's", without the semi join per episode that the team filter costs otherwise."""
    clauses = [access.child_clause(user), Episode.status != EpisodeStatus.WITHDRAWN]
    if period is not None:
        clauses += [Episode.last_seen_at >= period.start, Episode.last_seen_at < period.end]
    return clauses + _filter_clauses(filters, team=team)


def _interviews_of_team(filters: Filters) -> list:
    """The team filter for a query over interviews (see `_episodes_where`'s team=False)."""
    return [Interview.team_id == filters.team_id] if filters.team_id else []


def _episodes_from(*columns):
    return select(*columns).select_from(Episode).join(Child, Episode.child_id == Child.id)


def _with_interviews(query):
    return query.join(interview_episodes, interview_episodes.c.episode_id == Episode.id).join(
        Interview,
        and_(
            Interview.id == interview_episodes.c.interview_id,
            Interview.status != InterviewStatus.NOT_NEEDED,
        ),
    )


# Every figure reads the period's episodes by last_seen_at and these columns: one index holds
# them all, so PostgreSQL answers from the index alone (an index-only scan) instead of visiting
# a heap page per episode of the year. Declared here, on the episodes table, with migration 0019
# (found_place added by 0021).
Index(
    "ix_episodes_figures",
    Episode.last_seen_at,
    Episode.child_id,
    Episode.status,
    Episode.reported_type,
    Episode.missing_from,
    Episode.how_returned,
    Episode.found_place,
    Episode.id,
)


# ---------------------------------------------------------------- what each figure counts

EPISODE_TYPES = {
    # The police decide missing or absent; "not back when expected" is reported as missing.
    "missing": (
        "Missing (and not back when expected)",
        (ReportedType.MISSING, ReportedType.NOT_BACK),
    ),
    "absent": ("Absent", (ReportedType.ABSENT,)),
    "away": ("Away from placement without authorisation", (ReportedType.AWAY,)),
}
MISSING_FROM = {"home": "Home", "placement": "Care (a placement)", "school": "School"}
HOW_FOUND = {
    **HOW_RETURNED_LABELS,
    "not_recorded": "Back, how not recorded",
    "still_missing": "Still missing",
}
# Where children were found (episodes.found_place, a code kept in clear for this count): every
# episode of the period in exactly one row, as in HOW_FOUND. "Not known" is an answer (asked,
# nobody knew); "not recorded" is a return with no answer (a carer may leave it out).
WHERE_FOUND = {
    **FOUND_PLACE_LABELS,
    "not_recorded": "Back, where not recorded",
    "still_missing": "Still missing",
}
OPEN_FOR = {
    "24h": ("Missing over 24 hours", timedelta(hours=24)),
    "72h": ("Missing over 72 hours", timedelta(hours=72)),
    "7d": ("Missing over 7 days", timedelta(days=7)),
}
INTERVIEW_KEYS = {
    "all": "Return interviews for these episodes",
    "offered": "Offered",
    "accepted": "Accepted",
    "declined": "Declined",
    "authorised": "Completed (authorised)",
    "held": "Held",
    "within_72h": "Held within 72 hours",
    "late": "Held after 72 hours",
    "overdue": "Not held, past 72 hours",
}
REPEAT = {
    "2": ("Children with 2 or more episodes", 2),
    "3": ("Children with 3 or more episodes", 3),
}
# What a school telling the authority means the child is missing from education too.
CME_NOTIFICATIONS = ("notify_day10", "joint_enquiries_day20", "missing_in_school_day")


def _cme_clause(period: Period):
    notified = select(SchoolNotification.child_id).where(
        SchoolNotification.kind.in_(CME_NOTIFICATIONS),
        SchoolNotification.sent_at >= period.start,
        SchoolNotification.sent_at < period.end,
    )
    return Episode.child_id.in_(notified)


def _episode_condition(user: User, figure: str, key: str, period: Period | None):
    """The condition on an episode row for one number (None: not an episode figure)."""
    if figure == "episodes" and key == "all":
        return true()
    if figure == "type" and key in EPISODE_TYPES:
        return Episode.reported_type.in_(EPISODE_TYPES[key][1])
    if figure == "from" and key in MISSING_FROM:
        return Episode.missing_from == key
    if figure == "found" and key in HOW_FOUND:
        if key == "still_missing":
            return Episode.status == EpisodeStatus.MISSING
        returned = Episode.status == EpisodeStatus.RETURNED
        if key == "not_recorded":
            return and_(returned, Episode.how_returned.is_(None))
        return and_(returned, Episode.how_returned == key)
    if figure == "place" and key in WHERE_FOUND:
        if key == "still_missing":
            return Episode.status == EpisodeStatus.MISSING
        returned = Episode.status == EpisodeStatus.RETURNED
        if key == "not_recorded":
            return and_(returned, Episode.found_place.is_(None))
        return and_(returned, Episode.found_place == key)
    if figure == "placed" and key == "all":
        return and_(
            Child.host_authority_id == user.authority_id,
            Child.responsible_authority_id != user.authority_id,
        )
    if figure == "cme" and key == "all" and period is not None:
        return _cme_clause(period)
    return None


def _interview_condition(key: str, now: datetime):
    return {
        "all": true(),
        "offered": Interview.offered == "Y",
        "accepted": Interview.outcome == "accepted",
        "declined": Interview.outcome == "declined",
        "authorised": Interview.status == InterviewStatus.AUTHORISED,
        "held": Interview.held_at.is_not(None),
        "within_72h": Interview.held_at <= Interview.due_at,
        "late": Interview.held_at > Interview.due_at,
        "overdue": and_(Interview.held_at.is_(None), Interview.due_at < now),
    }.get(key)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    count: int  # episodes, or interviews for the interview tables
    children: int
    kind: str = ""  # a factor's push / pull / other


@dataclass(frozen=True)
class Table:
    figure: str  # the drill-down's name for its rows
    title: str
    unit: str  # what `count` counts
    rows: tuple[Row, ...]

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)


@dataclass(frozen=True)
class Timeliness:
    interviews: int
    held: int
    within_72h: int
    national: float = NATIONAL_72H_SHARE

    @property
    def share(self) -> float | None:
        return self.within_72h / self.held if self.held else None


@dataclass(frozen=True)
class Month:
    period: Period
    episodes: int
    children: int
    held: int
    within_72h: int

    @property
    def share(self) -> float | None:
        return self.within_72h / self.held if self.held else None


@dataclass(frozen=True)
class Figures:
    period: Period
    filters: Filters
    now: datetime
    episodes: Row
    by_type: Table
    by_from: Table
    how_found: Table
    where_found: Table
    placed: Table
    cme: Table
    open: Table
    interviews: Table
    timeliness: Timeliness
    teams: tuple[TeamRow, ...]
    factors: Table
    repeat: Table
    trend: tuple[Month, ...]


# ---------------------------------------------------------------- the queries


# Children are counted in two steps, never with COUNT(DISTINCT ...): the rows are first grouped
# by child (one SUM(CASE ...) per number: that child's episodes or interviews behind it), then
# the outer query adds those up and counts the children with any. PostgreSQL sorts its input once
# for every COUNT(DISTINCT ...) of an aggregate; a year's figures had 40 of them (benchmarked in
# docs/BENCHMARKS.md), where one hash aggregate by child does the same work once.


def _flag(condition):
    return case((condition, 1), else_=0)


def _counts_by_child(child_column, conditions: list, source) -> list:
    """(count, children) for each condition, from `source` (a Select over the counted rows
    with `child_column` among its FROMs): one GROUP BY child, then one aggregate."""
    per_child = (
        source.with_only_columns(
            child_column.label("child_id"),
            *(func.sum(_flag(c)).label(f"k{n}") for n, c in enumerate(conditions)),
        )
        .group_by(child_column)
        .subquery()
    )
    columns = []
    for n in range(len(conditions)):
        k = per_child.c[f"k{n}"]
        columns += [func.coalesce(func.sum(k), 0), func.count(case((k > 0, 1)))]
    values = db.session.execute(select(*columns).select_from(per_child)).one()
    return [(int(values[2 * n]), int(values[2 * n + 1])) for n in range(len(conditions))]


def episode_tables(user: User, period: Period, filters: Filters) -> dict[str, Table | Row]:
    """Episodes and children by type, by where from, by how and where found; placed here by
    other authorities; missing from education too. One scan of the period's episodes."""
    specs = {
        "type": ("Episodes by type", {k: v[0] for k, v in EPISODE_TYPES.items()}),
        "from": ("Episodes by where the child was missing from", MISSING_FROM),
        "found": ("How children were found or came back", HOW_FOUND),
        "place": ("Where children were found", WHERE_FOUND),
        "placed": (
            "Children placed here by other authorities",
            {"all": "Placed here by another authority"},
        ),
        "cme": (
            "Children also missing from education",
            {"all": "Notified by a school as missing from education in the period"},
        ),
    }
    conditions, keys = [true()], [("episodes", "all")]
    for figure, (_title, labels) in specs.items():
        for key in labels:
            conditions.append(_episode_condition(user, figure, key, period))
            keys.append((figure, key))
    source = _episodes_from(Episode.id).where(*_episodes_where(user, filters, period))
    counted = dict(zip(keys, _counts_by_child(Episode.child_id, conditions, source), strict=True))
    out: dict[str, Table | Row] = {
        "episodes": Row("all", "Episodes in the period", *counted[("episodes", "all")])
    }
    for figure, (title, labels) in specs.items():
        rows = tuple(Row(k, label, *counted[(figure, k)]) for k, label in labels.items())
        out[figure] = Table(figure, title, "Episodes", rows)
    return out


def open_episodes(user: User, filters: Filters, now: datetime) -> Table:
    """Episodes still open now, by how long the child has been missing (each row includes the
    longer ones: over 72 hours is also over 24). Not bound to the period: it is the present."""
    source = _episodes_from(Episode.id).where(
        *_episodes_where(user, filters, None), Episode.status == EpisodeStatus.MISSING
    )
    conditions = [Episode.last_seen_at < now - after for _label, after in OPEN_FOR.values()]
    values = _counts_by_child(Episode.child_id, conditions, source)
    rows = tuple(
        Row(key, label, *values[n]) for n, (key, (label, _)) in enumerate(OPEN_FOR.items())
    )
    return Table(
        "open", "Open episodes by how long the child has been missing (now)", "Episodes", rows
    )


def _interview_ids(user: User, filters: Filters, period: Period):
    """The ids of the interviews covering the period's counted episodes (an interview covering
    several of them is listed more than once: callers ask `Interview.id IN` it)."""
    return (
        _episodes_from(interview_episodes.c.interview_id)
        .join(interview_episodes, interview_episodes.c.episode_id == Episode.id)
        .where(*_episodes_where(user, filters, period, team=False))
    )


def _period_interviews(user: User, filters: Filters, period: Period):
    """The period's interviews, each once (not the one only a withdrawn episode needed)."""
    return select(Interview.id).where(
        Interview.id.in_(_interview_ids(user, filters, period)),
        Interview.status != InterviewStatus.NOT_NEEDED,
        *_interviews_of_team(filters),
    )


def interview_table(user: User, period: Period, filters: Filters, now: datetime) -> Table:
    conditions = [_interview_condition(key, now) for key in INTERVIEW_KEYS]
    values = _counts_by_child(
        Interview.child_id, conditions, _period_interviews(user, filters, period)
    )
    rows = tuple(
        Row(key, label, *values[n]) for n, (key, label) in enumerate(INTERVIEW_KEYS.items())
    )
    return Table("interviews", "Return interviews", "Interviews", rows)


def timeliness(table: Table) -> Timeliness:
    return Timeliness(
        table.row("all").count, table.row("held").count, table.row("within_72h").count
    )


@dataclass(frozen=True)
class TeamRow:
    key: str  # the team's id, or "none" for interviews not allocated
    label: str
    interviews: int
    held: int
    within_72h: int

    @property
    def share(self) -> float | None:
        return self.within_72h / self.held if self.held else None


def team_table(user: User, period: Period, filters: Filters) -> tuple[TeamRow, ...]:
    """Return interviews by the team they are allocated to: how many, held, held within 72
    hours. One GROUP BY."""
    result = db.session.execute(
        _period_interviews(user, filters, period)
        .with_only_columns(
            Interview.team_id,
            func.count(Interview.id),
            func.sum(_flag(Interview.held_at.is_not(None))),
            func.sum(_flag(Interview.held_at <= Interview.due_at)),
        )
        .group_by(Interview.team_id)
    ).all()
    names = {t.id: t.name for t in teams_of(user)}
    rows = [
        TeamRow(
            team_id or "none",
            (names.get(team_id, "Another authority's team") if team_id else "Not allocated"),
            int(interviews),
            int(held_n),
            int(within_n),
        )
        for team_id, interviews, held_n, within_n in result
    ]
    return tuple(sorted(rows, key=lambda r: (r.key == "none", r.label)))


def factor_table(user: User, period: Period, filters: Filters) -> Table:
    """The reasons children gave in the period's interviews, most given first: interviews and
    children per reason, each reason marked push, pull or neither."""
    per_child = (
        _period_interviews(user, filters, period)
        .with_only_columns(
            InterviewFactor.code.label("code"),
            func.count(Interview.id).label("n"),  # one row per interview and code
        )
        .join(InterviewFactor, InterviewFactor.interview_id == Interview.id)
        .group_by(InterviewFactor.code, Interview.child_id)
        .subquery()
    )
    result = db.session.execute(
        select(per_child.c.code, func.sum(per_child.c.n), func.count())
        .select_from(per_child)
        .group_by(per_child.c.code)
    ).all()
    counted = {code: (int(n), c) for code, n, c in result}
    rows = [
        Row(code, label, *counted.get(code, (0, 0)), kind=FACTOR_KIND[code])
        for code, label in REASON_LABELS.items()
    ]
    rows.sort(key=lambda r: (-r.count, r.label))
    return Table("factor", "Push and pull factors children gave", "Interviews", tuple(rows))


def _per_child(user: User, period: Period, filters: Filters):
    return (
        _episodes_from(Episode.child_id, func.count(Episode.id).label("n"))
        .where(*_episodes_where(user, filters, period))
        .group_by(Episode.child_id)
    )


def repeat_table(user: User, period: Period, filters: Filters) -> Table:
    """Children with 2 or more, and 3 or more, episodes in the period (and those episodes)."""
    per_child = _per_child(user, period, filters).subquery()
    columns = []
    for _label, least in REPEAT.values():
        columns += [
            func.coalesce(func.sum(case((per_child.c.n >= least, per_child.c.n))), 0),
            func.count(case((per_child.c.n >= least, per_child.c.child_id))),
        ]
    values = db.session.execute(select(*columns).select_from(per_child)).one()
    rows = tuple(
        Row(key, label, int(values[2 * n]), values[2 * n + 1])
        for n, (key, (label, _)) in enumerate(REPEAT.items())
    )
    return Table("repeat", "Children with repeat episodes in the period", "Episodes", rows)


def trend_months(period: Period) -> list[Period]:
    """The 12 UK months ending with the one the period ends in."""
    last = (period.end - timedelta(microseconds=1)).astimezone(LONDON).date().replace(day=1)
    months = []
    for _ in range(TREND_MONTHS):
        months.append(month_period(last.year, last.month))
        last = (last - _DAY).replace(day=1)
    return months[::-1]


def trend(user: User, period: Period, filters: Filters) -> tuple[Month, ...]:
    """Episodes, children and interviews held (within 72 hours) per month over 12 months: a
    CASE puts each episode in its month by the months' UTC bounds; each month's children are
    counted from a GROUP BY (month, child), each month's interviews from the distinct (month,
    interview) pairs (an interview covering episodes of two months counts in both)."""
    months = trend_months(period)
    bucket = case(
        *((Episode.last_seen_at < m.end, n) for n, m in enumerate(months)), else_=None
    ).label("bucket")
    span = Period("trend", "", months[0].first_day, months[-1].last_day)
    where = _episodes_where(user, filters, span)
    per_child = (
        _episodes_from(bucket, Episode.child_id, func.count(Episode.id).label("n"))
        .where(*where)
        .group_by(bucket, Episode.child_id)
        .subquery()
    )
    episodes = {
        b: (int(e), c)
        for b, e, c in db.session.execute(
            select(per_child.c.bucket, func.sum(per_child.c.n), func.count())
            .select_from(per_child)
            .group_by(per_child.c.bucket)
        )
    }
    pairs = (
        _episodes_from(bucket, interview_episodes.c.interview_id.label("interview_id"))
        .join(interview_episodes, interview_episodes.c.episode_id == Episode.id)
        .where(*_episodes_where(user, filters, span, team=False))
        .distinct()
        .subquery()
    )
    held = {
        b: (int(h), int(w))
        for b, h, w in db.session.execute(
            select(
                pairs.c.bucket,
                func.sum(_flag(Interview.held_at.is_not(None))),
                func.sum(_flag(Interview.held_at <= Interview.due_at)),
            )
            .select_from(pairs)
            .join(Interview, Interview.id == pairs.c.interview_id)
            .where(Interview.status != InterviewStatus.NOT_NEEDED, *_interviews_of_team(filters))
            .group_by(pairs.c.bucket)
        )
    }
    return tuple(
        Month(m, *episodes.get(n, (0, 0)), *held.get(n, (0, 0))) for n, m in enumerate(months)
    )


def figures(user: User, period: Period, filters: Filters, now: datetime) -> Figures:
    """Every figure of the dashboard, audited as one view (codes only in the audit row)."""
    episodes = episode_tables(user, period, filters)
    interviews = interview_table(user, period, filters, now)
    result = Figures(
        period=period,
        filters=filters,
        now=now,
        episodes=episodes["episodes"],
        by_type=episodes["type"],
        by_from=episodes["from"],
        how_found=episodes["found"],
        where_found=episodes["place"],
        placed=episodes["placed"],
        cme=episodes["cme"],
        open=open_episodes(user, filters, now),
        interviews=interviews,
        timeliness=timeliness(interviews),
        teams=team_table(user, period, filters),
        factors=factor_table(user, period, filters),
        repeat=repeat_table(user, period, filters),
        trend=trend(user, period, filters),
    )
    audit.record("view", "figures", None, detail=f"{period.code} {filters.code()}"[:200])
    uow.commit()
    return result


# ---------------------------------------------------------------- the children behind a number


@dataclass(frozen=True)
class ChildRow:
    child_id: str
    first_name: str
    last_name: str
    authority_child_id: str | None
    count: int

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Behind:
    figure: str
    key: str
    title: str  # what the number counts, in words
    unit: str  # what each child's count counts
    period: Period | None  # None: now (open episodes)
    rows: tuple[ChildRow, ...]


def _label(figure: str, key: str, user: User) -> tuple[str, str] | None:
    """(title, unit) of a drill-down, or None for a figure or key there is none of."""
    if figure == "episodes" and key == "all":
        return "Episodes in the period", "Episodes"
    if figure == "type" and key in EPISODE_TYPES:
        return f"Episodes by type: {EPISODE_TYPES[key][0]}", "Episodes"
    if figure == "from" and key in MISSING_FROM:
        return f"Episodes missing from: {MISSING_FROM[key]}", "Episodes"
    if figure == "found" and key in HOW_FOUND:
        return f"How found or back: {HOW_FOUND[key]}", "Episodes"
    if figure == "place" and key in WHERE_FOUND:
        return f"Where found: {WHERE_FOUND[key]}", "Episodes"
    if figure == "placed" and key == "all":
        return "Children placed here by other authorities", "Episodes"
    if figure == "cme" and key == "all":
        return "Children also missing from education", "Episodes"
    if figure == "open" and key in OPEN_FOR:
        return f"Open episodes: {OPEN_FOR[key][0]}", "Episodes"
    if figure == "repeat" and key in REPEAT:
        return REPEAT[key][0], "Episodes"
    if figure == "interviews" and key in INTERVIEW_KEYS:
        return f"Return interviews: {INTERVIEW_KEYS[key]}", "Interviews"
    if figure == "factor" and key in REASON_LABELS:
        return f"Reason given: {REASON_LABELS[key]}", "Interviews"
    if figure == "team" and (key == "none" or key in {t.id for t in teams_of(user)}):
        return "Return interviews of the team", "Interviews"
    return None


def children_behind(
    user: User, figure: str, key: str, period: Period, filters: Filters, now: datetime
) -> Behind:
    """The children behind one number of the dashboard, each with how many of the counted
    episodes (or interviews) are theirs; the same conditions as the number itself, so the counts
    add up to it (children with repeat episodes: to its episodes). NotFound for a figure there is
    none of."""
    named = _label(figure, key, user)
    if named is None:
        raise NotFound
    title, unit = named
    child_columns = (Child.id, Child.first_name, Child.last_name, Child.authority_child_id)
    shown_period: Period | None = period
    if figure == "open":
        shown_period = None
        query = _episodes_from(*child_columns, func.count(Episode.id)).where(
            *_episodes_where(user, filters, None),
            Episode.status == EpisodeStatus.MISSING,
            Episode.last_seen_at < now - OPEN_FOR[key][1],
        )
    elif figure == "repeat":
        query = (
            _episodes_from(*child_columns, func.count(Episode.id))
            .where(*_episodes_where(user, filters, period))
            .having(func.count(Episode.id) >= REPEAT[key][1])
        )
    elif figure in ("interviews", "factor", "team"):
        if figure == "interviews":
            condition = _interview_condition(key, now)
        elif figure == "factor":
            condition = Interview.id.in_(
                select(InterviewFactor.interview_id).where(InterviewFactor.code == key)
            )
        else:
            condition = Interview.team_id.is_(None) if key == "none" else Interview.team_id == key
        query = _with_interviews(
            _episodes_from(*child_columns, func.count(distinct(Interview.id)))
        ).where(*_episodes_where(user, filters, period), condition)
    else:
        condition = _episode_condition(user, figure, key, period)
        query = _episodes_from(*child_columns, func.count(Episode.id)).where(
            *_episodes_where(user, filters, period), condition if condition is not None else false()
        )
    rows = db.session.execute(
        query.group_by(*child_columns).order_by(Child.last_name, Child.first_name, Child.id)
    ).all()
    where = shown_period.code if shown_period else "now"
    audit.record(
        "list",
        "figures",
        None,
        detail=f"{figure}:{key} {where} {filters.code()} {len(rows)} children"[:200],
    )
    uow.commit()
    return Behind(figure, key, title, unit, shown_period, tuple(ChildRow(*r) for r in rows))


def record_export(behind: Behind) -> None:
    """A drill-down downloaded as CSV: its names leave the app, so the audit says so."""
    where = behind.period.code if behind.period else "now"
    audit.record(
        "export",
        "figures",
        None,
        detail=f"{behind.figure}:{behind.key} {where} {len(behind.rows)} children"[:200],
    )
    uow.commit()


def percent(share: float | None) -> str:
    return "" if share is None else f"{round(share * 100)}%"


def table_rows(f: Figures, table: str) -> tuple[list[str], list[tuple]]:
    """One of the page's tables as a CSV header and rows (the same numbers as the page)."""
    tables = {
        "type": f.by_type,
        "from": f.by_from,
        "found": f.how_found,
        "place": f.where_found,
        "placed": f.placed,
        "cme": f.cme,
        "open": f.open,
        "interviews": f.interviews,
        "repeat": f.repeat,
    }
    if table in tables:
        t = tables[table]
        return [t.title, t.unit, "Children"], [(r.label, r.count, r.children) for r in t.rows]
    if table == "factor":
        return (
            [f.factors.title, "Push or pull", f.factors.unit, "Children"],
            [(r.label, FACTOR_KINDS[r.kind], r.count, r.children) for r in f.factors.rows],
        )
    if table == "team":
        return (
            ["Team", "Interviews", "Held", "Held within 72 hours", "Share held within 72 hours"],
            [(r.label, r.interviews, r.held, r.within_72h, percent(r.share)) for r in f.teams],
        )
    if table == "timeliness":
        t = f.timeliness
        return (
            ["Period", "Interviews", "Held", "Held within 72 hours", "Share", "National average"],
            [
                (
                    f.period.label,
                    t.interviews,
                    t.held,
                    t.within_72h,
                    percent(t.share),
                    percent(t.national),
                )
            ],
        )
    if table == "trend":
        return (
            [
                "Month",
                "Episodes",
                "Children",
                "Interviews held",
                "Held within 72 hours",
                "Share held within 72 hours",
            ],
            [
                (m.period.label, m.episodes, m.children, m.held, m.within_72h, percent(m.share))
                for m in f.trend
            ],
        )
    raise NotFound
