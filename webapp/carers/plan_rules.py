"""The risk assessment and action plan (Wigan appendix a): its shape and its timing rules.
Pure: no I/O, no Flask, no database. static/js/plan.js mirrors police_report_due and next_step
word for word; tests/vectors/plan.json is run against both.

Decisions (the guidance leaves them open; the tests hold them):

* "Report to police if absent more than N hours after due back": N is 0 to 6 (never more than
  6 hours, DOMAIN.md "carer: child not back when due"); 0 means at once. Elapsed hours in UTC,
  so a due-back time on a clock-change night still gives N real hours.
* A child of 12 or under is reported at once, whatever the plan says. The age is taken on the
  UK (Europe/London) date of the moment the clock starts (due back, or last seen): a child
  whose 13th birthday is that day is 13. A 29 February birthday counts from 1 March in a year
  without one (as UK law does).
* No plan: at once. Nobody has agreed a wait with the social worker, so there is none to allow.
  (``RiskPlan.report_after_hours`` defaults to 0 for the same reason.)
* "Away from placement" (whereabouts known) has no police deadline: ``None``.
* The clock starts at due back when the carer gave one, else at last seen.
* Review: 6 calendar months after the last review (the UK date, same wall-clock time), or
  ``REVIEW_AFTER_RETURN_DAYS`` (7) elapsed days after the first return since that review,
  whichever is sooner. Seven days leaves time to hold the return interview (72 hours) and bring
  what it found into the plan. Never reviewed and no return since: no due date (the plan is not
  signed off yet, which the page says).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from webapp.deadlines import LONDON, ensure_utc

MAX_REPORT_AFTER_HOURS = 6
NO_PLAN_REPORT_AFTER_HOURS = 0
AT_ONCE_AGE = 12  # "12 or under: at once"
REVIEW_MONTHS = 6
REVIEW_AFTER_RETURN_DAYS = 7
MAX_TEXT = 4000
MAX_ROWS = 5  # contacts and addresses on the form: a fixed number of rows, phone-first
MAX_VISIT_DAYS = 28

AWAY = "away"
RISK_LEVELS = ("low", "medium", "high")
RISK_LABELS = {"low": "Low", "medium": "Medium", "high": "High"}

# The plan's free-text sections, in the order of Wigan appendix a, with their labels.
TEXT_FIELDS = (
    "pattern",
    "vulnerabilities",
    "circumstances",
    "return_arrangements",
    "welfare_check",
    "rhi_offer",
)
TEXT_LABELS = {
    "pattern": "Pattern and history",
    "vulnerabilities": "Concerns and vulnerabilities",
    "circumstances": "Current circumstances",
    "return_arrangements": "Return arrangements",
    "welfare_check": "Return welfare check",
    "rhi_offer": "Return interview offer",
}
CONTACT_FIELDS = ("name", "relationship", "phone")
ADDRESS_FIELDS = ("address", "risk", "action", "max_wait_hours")
# RiskPlan.content holds these; report_after_hours is the row's clear column.
PLAN_FIELDS = (*TEXT_FIELDS, "contacts", "addresses", "visit_within_days")


class PlanRuleError(ValueError):
    """A broken rule of the plan, naming the form field (the service raises it as RuleError)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _int(value, field: str, label: str, lo: int, hi: int) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        raise PlanRuleError(field, f"{label} must be a whole number") from None
    if not lo <= n <= hi:
        raise PlanRuleError(field, f"{label} must be between {lo} and {hi}")
    return n


def check_report_after_hours(value) -> int:
    """The plan's hours before reporting: 0 (at once) to 6. 7 is refused, never capped quietly:
    a plan that says 7 is a plan nobody may follow."""
    n = _int(value, "report_after_hours", "Hours before reporting to police", 0, 10**6)
    if n is None:
        raise PlanRuleError(
            "report_after_hours",
            "Enter how many hours after due back to report to police (0 for at once)",
        )
    if n > MAX_REPORT_AFTER_HOURS:
        raise PlanRuleError(
            "report_after_hours",
            f"Report to police no more than {MAX_REPORT_AFTER_HOURS} hours after due back",
        )
    return n


def _text(value, field: str, label: str) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if len(text) > MAX_TEXT:
        raise PlanRuleError(field, f"{label} must be {MAX_TEXT} characters or fewer")
    return text


def validate(data: Mapping) -> tuple[dict, int]:
    """(content, report_after_hours) from what was typed, or PlanRuleError naming the field.

    Empty contact and address rows are dropped. An address needs its words; its risk level and
    longest wait are then required, the wait 0 to 6 hours like the plan's own rule.
    """
    content: dict = {}
    for name in TEXT_FIELDS:
        content[name] = _text(data.get(name), name, TEXT_LABELS[name])

    contacts = []
    for i, row in enumerate(list(data.get("contacts") or [])[:MAX_ROWS]):
        row = {k: _text(row.get(k), f"contacts-{i}-{k}", "Contact") for k in CONTACT_FIELDS}
        if any(row.values()):
            if not row["name"]:
                raise PlanRuleError(f"contacts-{i}-name", "Enter who to contact")
            contacts.append(row)
    content["contacts"] = contacts

    addresses = []
    for i, row in enumerate(list(data.get("addresses") or [])[:MAX_ROWS]):
        address = _text(row.get("address"), f"addresses-{i}-address", "Address")
        action = _text(row.get("action"), f"addresses-{i}-action", "Action")
        risk = (row.get("risk") or "").strip()
        wait = row.get("max_wait_hours")
        if not (address or action or risk or (wait not in (None, ""))):
            continue
        if not address:
            raise PlanRuleError(f"addresses-{i}-address", "Enter the address or place")
        if risk not in RISK_LEVELS:
            raise PlanRuleError(f"addresses-{i}-risk", "Choose the level of risk at this address")
        hours = _int(
            wait,
            f"addresses-{i}-max_wait_hours",
            "Longest wait before reporting",
            0,
            MAX_REPORT_AFTER_HOURS,
        )
        if hours is None:
            raise PlanRuleError(
                f"addresses-{i}-max_wait_hours",
                "Enter the longest wait before reporting to police (0 to 6 hours)",
            )
        addresses.append(
            {"address": address, "risk": risk, "action": action, "max_wait_hours": hours}
        )
    content["addresses"] = addresses

    content["visit_within_days"] = _int(
        data.get("visit_within_days"),
        "visit_within_days",
        "Social worker visit within",
        0,
        MAX_VISIT_DAYS,
    )
    return content, check_report_after_hours(data.get("report_after_hours"))


# ------------------------------------------------------------------------------- timing


def london_date(moment: datetime) -> date:
    return ensure_utc(moment).astimezone(LONDON).date()


def age_on(date_of_birth: date, day: date) -> int:
    # (month, day) compared as a pair: a 29 February birthday is reached on 1 March.
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def police_report_due(
    *,
    reported_type: str,
    last_seen_at: datetime,
    due_back_at: datetime | None,
    date_of_birth: date,
    report_after_hours: int | None,
    now_tz: str = "Europe/London",
) -> datetime | None:
    """When the carer must have reported to police (aware UTC), or None for "away".

    now_tz: the zone whose date the child's age is taken on (the UK's)."""
    if reported_type == AWAY:
        return None
    start = ensure_utc(due_back_at if due_back_at is not None else last_seen_at)
    hours = NO_PLAN_REPORT_AFTER_HOURS if report_after_hours is None else report_after_hours
    # A stored value out of range is held to the rule rather than trusted.
    hours = max(0, min(int(hours), MAX_REPORT_AFTER_HOURS))
    day = start.astimezone(LONDON if now_tz == "Europe/London" else ZoneInfo(now_tz)).date()
    if age_on(date_of_birth, day) <= AT_ONCE_AGE:
        hours = 0
    return start + timedelta(hours=hours)


@dataclass(frozen=True)
class Step:
    code: str
    text: str
    due_at: datetime | None  # aware UTC; the screen counts down to it itself


STEP_TEXT = {
    "returned": "The child is back. Check they are safe and well, and record how they returned.",
    "away": "Whereabouts known. Keep in touch and follow the plan's return arrangements.",
    "police_told": "Police have been told. Keep trying the plan's contacts and tell police "
    "anything new.",
    "search": "Try the contacts and addresses in the plan. If the child is not back by the "
    "time shown, report to police.",
    "report_now": "Report to police now: the plan says not to wait any longer.",
}


def next_step(
    *,
    reported_type: str,
    last_seen_at: datetime,
    due_back_at: datetime | None,
    date_of_birth: date,
    report_after_hours: int | None,
    reported_to_police_at: datetime | None,
    returned_at: datetime | None,
    now: datetime,
) -> Step:
    """What the carer's screen says to do next. Due from the instant the time runs out."""
    if returned_at is not None:
        return Step("returned", STEP_TEXT["returned"], None)
    due = police_report_due(
        reported_type=reported_type,
        last_seen_at=last_seen_at,
        due_back_at=due_back_at,
        date_of_birth=date_of_birth,
        report_after_hours=report_after_hours,
    )
    if due is None:
        return Step("away", STEP_TEXT["away"], None)
    if reported_to_police_at is not None:
        return Step("police_told", STEP_TEXT["police_told"], None)
    if ensure_utc(now) >= due:
        return Step("report_now", STEP_TEXT["report_now"], due)
    return Step("search", STEP_TEXT["search"], due)


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months on, or the month's last day (31 August + 6 months
    is 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def review_due_at(
    reviewed_at: datetime | None, returns_since: Iterable[datetime | None] = ()
) -> datetime | None:
    """When the plan is next due for review: 6 months on (calendar, UK date and wall-clock
    time), or 7 days after the first return since the last review, whichever is sooner."""
    candidates: list[datetime] = []
    if reviewed_at is not None:
        reviewed_at = ensure_utc(reviewed_at)
        local = reviewed_at.astimezone(LONDON)
        day = add_months(local.date(), REVIEW_MONTHS)
        # A wall-clock time that does not exist that night (spring forward) reads an hour on.
        wall = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=LONDON)
        candidates.append(wall.astimezone(UTC))
    for returned in returns_since:
        if returned is None:
            continue
        returned = ensure_utc(returned)
        if reviewed_at is None or returned > reviewed_at:
            candidates.append(returned + timedelta(days=REVIEW_AFTER_RETURN_DAYS))
    return min(candidates) if candidates else None


def review_state(review_due: datetime | None, now: datetime) -> str:
    """ "not_reviewed", "overdue" or "in_date": for the plan page and the manager's list."""
    if review_due is None:
        return "not_reviewed"
    return "overdue" if ensure_utc(now) >= ensure_utc(review_due) else "in_date"


__all__ = [
    "MAX_REPORT_AFTER_HOURS",
    "PLAN_FIELDS",
    "PlanRuleError",
    "Step",
    "check_report_after_hours",
    "next_step",
    "police_report_due",
    "review_due_at",
    "validate",
]
