"""When a child's record may be deleted: the retention rules, as pure functions of dates.

No Flask, no SQLAlchemy: webapp/retention/service.py gathers each child's facts from the
database and asks `assess` what the rules say, so every edge (29 February, death before or after
18, the day itself) is tested here without a database.

The rules (docs/operations/retention.md says why each is what it is):

- A looked-after child's case record: kept until the 75th anniversary of the date of birth, or,
  if the child died before reaching 18, for 15 years beginning with the date of death (Care
  Planning, Placement and Case Review (England) Regulations 2010, regulation 50).
- Any other child's record: a period the authority sets (`years_other`) counted from the day the
  case closed (the last thing recorded about the child), and optionally never before a birthday
  the authority sets (`min_age_other`). With no period set, other children's records are kept.
- Whatever the dates say, a record with anything still in progress is never due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

# The rule that decided, as it is written in the report and the audit entry.
LAC_75 = "looked_after_75th_birthday"
LAC_DIED = "looked_after_died_before_18"
OTHER = "other_local_period"
OTHER_NOT_SET = "other_no_period_set"

RULE_LABELS = {
    LAC_75: "Looked after: kept until the 75th anniversary of the date of birth (reg. 50)",
    LAC_DIED: "Looked after, died before 18: kept 15 years beginning with the date of death "
    "(reg. 50)",
    OTHER: "Not looked after: the period set locally after the case closed",
    OTHER_NOT_SET: "Not looked after: no local period set, so kept",
}

# What keeps a record however old it is, as the report names it.
OPEN_EPISODE = "open_episode"  # the child is still missing
OPEN_INTERVIEW = "open_interview"  # a return interview not yet authorised (or not needed)
OPEN_ESCALATION = "open_escalation"  # an escalation with no action recorded
OPEN_CME_CASE = "open_cme_case"  # a children-missing-education case still open
OPEN_SCHOOL_FOLLOWUP = "open_school_followup"  # a school's absence follow-up still open
DIED_ON_UNCERTAIN = "died_on_before_birth"  # a date of death before the date of birth: a typo

HOLD_LABELS = {
    OPEN_EPISODE: "Still missing (an open episode)",
    OPEN_INTERVIEW: "A return interview not finished",
    OPEN_ESCALATION: "An escalation with no action recorded",
    OPEN_CME_CASE: "An open children-missing-education case",
    OPEN_SCHOOL_FOLLOWUP: "An open school absence follow-up",
    DIED_ON_UNCERTAIN: "The date of death is before the date of birth: correct it first",
}


class SettingsError(ValueError):
    """The retention settings cannot be used (the message names the setting)."""


@dataclass(frozen=True)
class Settings:
    # Years after the case closed that a child who was never looked after is kept: None keeps
    # them (nothing is deleted under a period nobody has set).
    years_other: int | None = None
    # Never before this birthday either (e.g. 25): None for no such floor.
    min_age_other: int | None = None

    def as_dict(self) -> dict:
        return {"years_other": self.years_other, "min_age_other": self.min_age_other}


ENV_YEARS_OTHER = "HOMEWARD_RETENTION_YEARS_OTHER"
ENV_MIN_AGE_OTHER = "HOMEWARD_RETENTION_MIN_AGE_OTHER"


def settings_from(values: Mapping[str, object]) -> Settings:
    """The settings from configuration or the environment (strings or ints); unset or empty is
    None. Refuses nonsense rather than guessing: a typo here decides what gets deleted."""

    def years(name: str, low: int, high: int) -> int | None:
        raw = values.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        try:
            n = int(str(raw).strip())
        except ValueError:
            raise SettingsError(f"{name} must be a whole number of years, not {raw!r}") from None
        if not low <= n <= high:
            raise SettingsError(f"{name} must be between {low} and {high} years, not {n}")
        return n

    # At least a year: 0 would make every closed case due the day it closed.
    return Settings(
        years_other=years(ENV_YEARS_OTHER, 1, 100),
        min_age_other=years(ENV_MIN_AGE_OTHER, 18, 100),
    )


@dataclass(frozen=True)
class ChildFacts:
    date_of_birth: date
    died_on: date | None
    # Looked after now or, as far as the record shows, ever (service.py says how it tells).
    looked_after: bool
    # The local date the case last closed: the latest thing recorded about the child.
    closed_on: date
    # What is still in progress (HOLD_LABELS' keys); empty when nothing is.
    holds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    rule: str
    # The first day the record may be deleted (None: not under this rule, ever, as things stand).
    due_from: date | None
    holds: frozenset[str]
    due: bool


def anniversary(day: date, years: int) -> date:
    """The `years`th anniversary of `day`. 29 February falls on 1 March in a common year: a
    person born on 29 February attains an age on 1 March in such a year (the reading used for
    ages in England), and it is the later of the two candidates, so nothing is deleted early."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return date(day.year + years, 3, 1)


def died_before_18(facts: ChildFacts) -> bool:
    return facts.died_on is not None and facts.died_on < anniversary(facts.date_of_birth, 18)


def due_from(facts: ChildFacts, settings: Settings) -> tuple[str, date | None]:
    """(rule, the first day the record may be deleted under it)."""
    if facts.looked_after:
        if died_before_18(facts):
            # "A period of 15 years beginning with the date of death": the last day kept is the
            # day before the 15th anniversary, so the anniversary is the first day it may go.
            return LAC_DIED, anniversary(facts.died_on, 15)
        # "Until the 75th anniversary": kept through that day, deleted from the day after
        # (the later reading of "until", so nothing is deleted a day early).
        return LAC_75, anniversary(facts.date_of_birth, 75) + timedelta(days=1)
    if settings.years_other is None:
        return OTHER_NOT_SET, None
    first = anniversary(facts.closed_on, settings.years_other)
    if settings.min_age_other is not None:
        first = max(first, anniversary(facts.date_of_birth, settings.min_age_other))
    return OTHER, first


def assess(facts: ChildFacts, today: date, settings: Settings) -> Decision:
    """What the rules say about one child's record on `today` (a local date)."""
    holds = set(facts.holds)
    if facts.died_on is not None and facts.died_on < facts.date_of_birth:
        holds.add(DIED_ON_UNCERTAIN)
    rule, first = due_from(facts, settings)
    due = first is not None and today >= first and not holds
    return Decision(rule=rule, due_from=first, holds=frozenset(holds), due=due)
