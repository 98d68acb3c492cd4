"""School days, and the timeline of a pupil's absence counted in them (PURE: no I/O).

A school day is a weekday inside one of the school's terms that is neither a closure day (INSET,
snow) nor an England bank holiday. Half-terms and holidays are simply the gaps between terms.

Outside the span of the terms a school has entered (before its first term, after its last, or
with no terms at all) every weekday that is not a bank holiday or closure counts as a school day:
a calendar not entered yet must never hide a deadline. The count then falls earlier, never later
and never nowhere.

The timeline's milestones come from the attendance guidance 2024, Kent's children missing
education procedure and the pupil registration regulations 2024 (../shared/DOMAIN.md, deadlines).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import holidays

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class SchoolCalendar:
    terms: tuple[tuple[date, date], ...]  # inclusive (start, end); half-terms are gaps
    closures: frozenset[date] = frozenset()  # INSET days, snow days...
    bank_holidays: frozenset[date] = frozenset()

    @property
    def first_known(self) -> date | None:
        """The first day of the first term entered (None: no terms)."""
        return min((start for start, _ in self.terms), default=None)

    @property
    def last_known(self) -> date | None:
        """The last day of the last term entered (None: no terms)."""
        return max((end for _, end in self.terms), default=None)

    def covers(self, d: date) -> bool:
        """Whether `d` falls within the span of the terms entered (so a gap there is a holiday)."""
        first, last = self.first_known, self.last_known
        return first is not None and first <= d <= last

    def in_term(self, d: date) -> bool:
        return any(start <= d <= end for start, end in self.terms)

    def is_school_day(self, d: date) -> bool:
        """Mon-Fri, inside a term (or beyond the terms entered), not a closure or bank holiday."""
        if d.weekday() >= 5 or d in self.closures or d in self.bank_holidays:
            return False
        return self.in_term(d) or not self.covers(d)

    def next_school_day(self, d: date) -> date:
        """`d` itself if it is a school day, otherwise the first school day after it."""
        while not self.is_school_day(d):
            d += ONE_DAY
        return d

    def school_days(self, start: date, end: date) -> list[date]:
        """The school days from `start` to `end`, both included (none if end is before start)."""
        days = []
        d = start
        while d <= end:
            if self.is_school_day(d):
                days.append(d)
            d += ONE_DAY
        return days

    def count(self, start: date, end: date) -> int:
        return len(self.school_days(start, end))

    def add_school_days(self, start: date, n: int) -> date:
        """The nth school day counting `start` as day 1 (a `start` that is not a school day moves
        to the next school day first, which is then day 1)."""
        if n < 1:
            raise ValueError("n counts school days from 1")
        d = self.next_school_day(start)
        for _ in range(n - 1):
            d = self.next_school_day(d + ONE_DAY)
        return d


def england_bank_holidays(years: Iterable[int]) -> frozenset[date]:
    """England's bank holidays in `years`, substitute days included (a holiday on a weekend moves
    to the Monday, which is then the day off). From the maintained `holidays` library, so a new
    one-off holiday (a coronation, a jubilee) arrives with a library update, not a code change."""
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=sorted(set(years))))


@dataclass(frozen=True)
class Milestone:
    code: str
    title: str
    who: str
    due_on: date
    state: str  # "due" | "upcoming" | "done"


MILESTONES = ("contact_day1", "ews_day3", "notify_day10", "illness_day15", "joint_enquiries_day20")

DSL = "Designated safeguarding lead"
SCHOOL = "School"
SCHOOL_AND_CME = "School, with the authority's children missing education officer"

# code: (school day it falls on, title, who). The words are the ones the DSL sees.
RULES = {
    "contact_day1": (1, "Contact the parents or carers", DSL),
    "ews_day3": (3, "Contact the Education Welfare Service", SCHOOL),
    "notify_day10": (
        10,
        "10 continuous school days of unauthorised absence: attendance notification to the "
        "local authority",
        SCHOOL,
    ),
    "illness_day15": (
        15,
        "Illness expected to reach 15 school days: sickness return to the local authority",
        SCHOOL,
    ),
    "joint_enquiries_day20": (
        20,
        "20 consecutive school days, whereabouts unknown: joint reasonable enquiries with the "
        "children missing education officer before removal from roll; notify the local authority",
        SCHOOL_AND_CME,
    ),
}


def applies(code: str, *, illness: bool, whereabouts_unknown: bool) -> bool:
    """Which milestones a follow-up has. Illness is authorised absence (code I): it has the
    sickness return, not the notification of unauthorised absence. Joint enquiries are for a
    pupil whose whereabouts are unknown, whatever else is recorded."""
    if code == "notify_day10":
        return not illness
    if code == "illness_day15":
        return illness
    if code == "joint_enquiries_day20":
        return whereabouts_unknown
    return True


def timeline(
    first_day: date,
    cal: SchoolCalendar,
    today: date,
    *,
    illness: bool = False,
    whereabouts_unknown: bool = True,
    done: Iterable[str] = (),
) -> list[Milestone]:
    """The milestones of an absence that began on `first_day` (day 1, or the next school day if
    it is not one), in the order they fall due. Due on or before `today`: "due"; later:
    "upcoming"; a code in `done` (what the school has recorded doing): "done". An absence
    recorded late is simply one whose milestones are already due."""
    done = set(done)
    milestones = []
    for code in MILESTONES:
        if not applies(code, illness=illness, whereabouts_unknown=whereabouts_unknown):
            continue
        day, title, who = RULES[code]
        due_on = cal.add_school_days(first_day, day)
        if code in done:
            state = "done"
        elif due_on <= today:
            state = "due"
        else:
            state = "upcoming"
        milestones.append(Milestone(code, title, who, due_on, state))
    return milestones


def school_day_number(first_day: date, cal: SchoolCalendar, today: date) -> int:
    """Which school day of the absence `today` is (0 before its first school day; a non-school
    day counts as the school days so far)."""
    return cal.count(first_day, today)
