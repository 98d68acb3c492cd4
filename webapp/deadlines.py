"""Deadlines and escalations for children who go missing: pure rules, no I/O.

Every rule here is a duration measured in elapsed time from a moment the product records: when the
child was last seen (the start of a missing episode) or when the child returned or was found. All
arithmetic is done in UTC, and only the display is converted to Europe/London. A 72-hour clock that
crosses a clock change therefore ends at a different wall-clock hour: a return at 10:00 on Friday
27 March 2026 (GMT) is due at 11:00 on Monday 30 March 2026 (BST), and a return at 10:00 on Friday
23 October 2026 (BST) is due at 09:00 on Monday 26 October 2026 (GMT).

The rules, with the defaults in :class:`Thresholds` (local areas vary them through configuration):

* Return home interview (RHI): offered and held by someone independent within 72 hours of the
  child returning or being found; the clock starts at the return, not at the referral (Kent and
  Medway; Wigan section 9; DfE statutory guidance on children who run away or go missing from home
  or care, January 2014). :func:`rhi_due_at`, :func:`rhi_clock`.
* Looked-after child returns: the social worker sees the child alone within 24 hours (Wigan 9).
  ``lac_visit``.
* Missing over 24 hours: "Need to Know" notification to the Assistant Director and service manager
  (Wigan 12; Hertfordshire). ``need_to_know``.
* Missing 72 hours or more: urgent strategy meeting (Wigan 12). ``urgent_strategy_meeting``.
* Missing 7 days or more: strategy meeting chaired by a principal manager, IRO attends (Wigan 12).
  For a child on a child protection plan or subject of s47 enquiries Kent and Medway also require a
  strategy meeting "as soon as practicable and in any event within 7 days", not needed once the
  child is back, which falls on the same moment. ``strategy_meeting``.
* Three episodes in one month, or one episode exceeding 24 hours: intervention meeting (Wigan 11).
  ``intervention_meeting``.
* Two or more episodes: an independent RHI is especially important; consider a SEARCH panel
  referral (Kent and Medway; Hertfordshire). ``repeat_episodes``.
* Looked-after child missing more than 9 times in a 90-day period: second-stage intervention
  meeting managed by the senior IRO (Lancashire 3.5). ``lac_second_stage_intervention``.

Boundary decisions (the sources say "over", "or more" and "within" without defining the instant):

* A missing-time trigger (24 h, 72 h, 7 days, and the 24-hour limb of the intervention meeting)
  is reached AT ``last_seen_at + threshold``; the action is due from that instant (``now >=
  due_at`` is "due"). It applies only if the child was still missing at that instant, so a child
  back at or before it (``returned_at <= due_at``) does not trigger it. "Missing over 24 hours"
  therefore means strictly more than 24 hours of absence.
* Counting windows ("3 in 30 days", "more than 9 in 90 days") are closed at both ends: they hold the
  episodes whose ``last_seen_at`` is between ``last_seen_at - window`` and ``last_seen_at``
  inclusive, this episode included. Days are 24-hour elapsed days.
* "More than 9" is ``count > lac_repeat_episodes``: 9 episodes give nothing, 10 give the meeting.
* The RHI is overdue from the instant it falls due (``remaining <= 0``); it is "due soon" when
  strictly less than ``due_soon_hours`` remain.
* An "away from placement" episode (``reported_type == "away"``: whereabouts known) raises no
  missing-time escalation (Need to Know, strategy meetings, the 24-hour limb of the intervention
  meeting): the child is not missing. It still counts in the episode counts, as the SSDA903
  return counts "A" periods beside "M" ones.
* A child counts as looked after when ``looked_after`` is set or ``legal_status`` is
  ``"looked_after"``. The LAC 90-day count covers all the child's episodes, since an episode just
  before coming into care is still part of the pattern the senior IRO needs to see.

Naive datetimes are refused everywhere except :func:`local_to_utc`, whose job is to interpret them:
we never guess a time zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

LEGAL_STATUSES = frozenset(
    {"looked_after", "cp_plan", "child_in_need", "s47", "early_help", "none"}
)

UPCOMING = "upcoming"
DUE = "due"

OVERDUE = "overdue"
DUE_SOON = "due_soon"
ON_TRACK = "on_track"


@dataclass(frozen=True)
class Thresholds:
    rhi_hours: int = 72
    lac_visit_hours: int = 24
    need_to_know_hours: int = 24
    urgent_strategy_hours: int = 72
    strategy_meeting_days: int = 7
    intervention_episodes: int = 3
    intervention_window_days: int = 30
    intervention_long_hours: int = 24
    repeat_episodes: int = 2
    lac_repeat_episodes: int = 9  # "more than" this many
    lac_repeat_window_days: int = 90
    # Kent and Medway, a looked-after child missing: a missing-from-care meeting and the
    # Assistant Director told within 3 days, the Lead Member within 7.
    lac_meeting_days: int = 3
    lac_ad_days: int = 3
    lac_lead_member_days: int = 7
    # A looked-after child missing this many times within lac_repeat_window_days: the IRO
    # reviews the care plan (DOMAIN.md: prompted after repeated episodes).
    care_plan_review_episodes: int = 3
    # Kent: while a looked-after child stays missing, a meeting each month (30 days).
    lac_monthly_days: int = 30
    due_soon_hours: int = 24

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> Thresholds:
        # Config comes from environment variables, so values arrive as strings and may include keys
        # meant for something else.
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in m.items() if k in names})


DEFAULT = Thresholds()


class NonExistentLocalTime(ValueError):
    """A wall-clock time skipped when the clocks went forward; shown to users as a form error."""


def ensure_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: give a time zone, we never guess one")
    return dt.astimezone(UTC)


def to_local(dt: datetime) -> datetime:
    return ensure_utc(dt).astimezone(LONDON)


def local_to_utc(naive_local: datetime) -> datetime:
    if naive_local.tzinfo is not None:
        # An aware value here means the caller already knows the zone; converting it silently
        # would hide a mix-up between stored and typed times.
        raise ValueError("local_to_utc expects a naive wall-clock time")
    # fold=0 is the earlier of two readings of an ambiguous autumn time, i.e. still BST: a carer
    # typing 01:30 that night most likely means the first 01:30, and an earlier time is the safer
    # reading for a deadline clock.
    aware = naive_local.replace(tzinfo=LONDON, fold=0)
    as_utc = aware.astimezone(UTC)
    if as_utc.astimezone(LONDON).replace(tzinfo=None) != naive_local:
        shifted = as_utc.astimezone(LONDON)
        raise NonExistentLocalTime(
            f"{_wall(naive_local)} did not happen in the UK: the clocks went forward an hour that "
            f"night, so that moment read {shifted:%H:%M} on the clock. Check the time and enter it "
            "again."
        )
    return as_utc


def _wall(naive: datetime) -> str:
    return f"{naive.day} {naive:%B %Y} at {naive:%H:%M}"


def rhi_due_at(returned_at: datetime, t: Thresholds = DEFAULT) -> datetime:
    return ensure_utc(returned_at) + timedelta(hours=t.rhi_hours)


def lac_visit_due_at(
    returned_at: datetime, looked_after: bool, t: Thresholds = DEFAULT
) -> datetime | None:
    if not looked_after:
        return None
    return ensure_utc(returned_at) + timedelta(hours=t.lac_visit_hours)


@dataclass(frozen=True)
class RhiClock:
    due_at: datetime
    remaining: timedelta
    state: str

    def label(self) -> str:
        if self.state == OVERDUE:
            text = _duration(-self.remaining)
            return f"Overdue by {text}" if text else "Overdue by less than 1 min"
        text = _duration(self.remaining)
        return f"{text} left" if text else "Less than 1 min left"


def _duration(d: timedelta) -> str:
    # Whole minutes, rounded down: the time left is never overstated. Minutes are dropped once the
    # span is a day or more because nobody plans an interview to the minute two days out.
    minutes = int(d.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        text = f"{days} day" if days == 1 else f"{days} days"
        return f"{text} {hours} h" if hours else text
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min" if mins else ""


def rhi_clock(due_at: datetime, now: datetime, t: Thresholds = DEFAULT) -> RhiClock:
    due_at = ensure_utc(due_at)
    remaining = due_at - ensure_utc(now)
    if remaining <= timedelta(0):
        state = OVERDUE
    elif remaining < timedelta(hours=t.due_soon_hours):
        state = DUE_SOON
    else:
        state = ON_TRACK
    return RhiClock(due_at=due_at, remaining=remaining, state=state)


@dataclass(frozen=True)
class EpisodeFacts:
    id: str
    last_seen_at: datetime
    returned_at: datetime | None
    looked_after: bool = False
    legal_status: str = "none"
    reported_type: str = "missing"
    # Flagged as trafficked or an unaccompanied asylum-seeking child: treated as a potential
    # victim of trafficking, so a National Referral Mechanism referral is expected.
    trafficking: bool = False

    def __post_init__(self) -> None:
        # Normalised once here so every rule below compares UTC with UTC; bad records fail loudly
        # rather than producing a plausible but wrong deadline.
        object.__setattr__(self, "last_seen_at", ensure_utc(self.last_seen_at))
        if self.returned_at is not None:
            object.__setattr__(self, "returned_at", ensure_utc(self.returned_at))
            if self.returned_at < self.last_seen_at:
                raise ValueError(f"episode {self.id}: returned before last seen")
        if self.legal_status not in LEGAL_STATUSES:
            raise ValueError(f"episode {self.id}: unknown legal status {self.legal_status!r}")

    @property
    def is_looked_after(self) -> bool:
        return self.looked_after or self.legal_status == "looked_after"

    @property
    def away(self) -> bool:
        """Away from placement, whereabouts known: not missing, so no missing-time escalation."""
        return self.reported_type == "away"


@dataclass(frozen=True)
class Escalation:
    code: str
    title: str
    who: str
    due_at: datetime
    state: str
    reason: str


# Ties on due_at are broken by this order so lists are stable between page loads.
CODES = (
    "need_to_know",
    "urgent_strategy_meeting",
    "strategy_meeting",
    "intervention_meeting",
    "repeat_episodes",
    "lac_second_stage_intervention",
    "lac_visit",
    "lac_missing_meeting",
    "lac_ad_told",
    "lac_lead_member_told",
    "nrm_referral",
    "care_plan_review",
    "lac_monthly_meeting",
)
# A task that comes back: its codes carry the occurrence ("lac_monthly_meeting:2", the second
# month), so each is a task of its own with its own action; base_code gives its kind.
REPEATING_CODES = frozenset({"lac_monthly_meeting"})


def base_code(code: str) -> str:
    """The kind of an escalation's code: "lac_monthly_meeting:2" -> "lac_monthly_meeting"."""
    return code.split(":", 1)[0]


# Raised by time missing, only if the child is still missing when they fall due.
MISSING_TIME_CODES = frozenset(
    {
        "need_to_know",
        "urgent_strategy_meeting",
        "strategy_meeting",
        "lac_missing_meeting",
        "lac_ad_told",
        "lac_lead_member_told",
        "lac_monthly_meeting",
    }
)

TITLES = {
    "need_to_know": "Need to Know notification",
    "urgent_strategy_meeting": "Urgent strategy meeting",
    "strategy_meeting": "Strategy meeting",
    "intervention_meeting": "Intervention meeting",
    "repeat_episodes": "Repeat missing episodes",
    "lac_second_stage_intervention": "Second-stage intervention meeting",
    "lac_visit": "Social worker visit",
    "lac_missing_meeting": "Missing-from-care meeting",
    "lac_ad_told": "Assistant Director told",
    "lac_lead_member_told": "Lead Member told",
    "nrm_referral": "National Referral Mechanism referral",
    "care_plan_review": "Care plan review",
    "lac_monthly_meeting": "Monthly missing-from-care meeting",
}

WHO = {
    "need_to_know": "Manager: notify the Assistant Director and service manager",
    "urgent_strategy_meeting": (
        "Manager: convene an urgent strategy meeting and share the outcome with the Assistant "
        "Director and service manager"
    ),
    "strategy_meeting": "Principal manager: chair a strategy meeting; the IRO attends if involved",
    "intervention_meeting": (
        "Manager: hold an intervention meeting with all involved professionals"
    ),
    "repeat_episodes": (
        "Worker and manager: make sure an independent return interview is offered; consider a "
        "SEARCH panel referral"
    ),
    "lac_second_stage_intervention": "Senior IRO: manage a second-stage intervention meeting",
    "lac_visit": (
        "Social worker: see the child alone (team manager arranges it if the social worker cannot)"
    ),
    "lac_missing_meeting": "Social worker and manager: hold a missing-from-care meeting",
    "lac_ad_told": "Manager: tell the Assistant Director that a looked-after child is missing",
    "lac_lead_member_told": "Manager: tell the Lead Member for children's services",
    "nrm_referral": (
        "Manager: treat the child as a potential victim of trafficking; make the National "
        "Referral Mechanism referral, or record the one already made"
    ),
    "care_plan_review": (
        "Independent reviewing officer: review the care plan in the light of the episodes"
    ),
    "lac_monthly_meeting": (
        "Social worker and manager: meet again while the child stays missing, each month"
    ),
}


def _hours(n: int) -> str:
    return "1 hour" if n == 1 else f"{n} hours"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def _episodes(n: int) -> str:
    return "1 episode" if n == 1 else f"{n} episodes"


def _dedupe(episode: EpisodeFacts | None, history: Iterable[EpisodeFacts]) -> list[EpisodeFacts]:
    by_id = {e.id: e for e in history}
    if episode is not None:
        # The episode being assessed may be fresher than the copy in history (e.g. just returned).
        by_id[episode.id] = episode
    return list(by_id.values())


def _count_between(episodes: Iterable[EpisodeFacts], start: datetime, end: datetime) -> int:
    return sum(1 for e in episodes if start <= e.last_seen_at <= end)


def _escalation(code: str, due_at: datetime, now: datetime, reason: str) -> Escalation:
    return Escalation(
        code=code,
        title=TITLES[base_code(code)],
        who=WHO[base_code(code)],
        due_at=due_at,
        state=DUE if now >= due_at else UPCOMING,
        reason=reason,
    )


def _missing_at(episode: EpisodeFacts, moment: datetime) -> bool:
    return episode.returned_at is None or episode.returned_at > moment


def episode_escalations(
    episode: EpisodeFacts,
    history: Sequence[EpisodeFacts],
    now: datetime,
    t: Thresholds = DEFAULT,
) -> list[Escalation]:
    now = ensure_utc(now)
    seen = episode.last_seen_at
    episodes = _dedupe(episode, history)
    out: list[Escalation] = []

    missing_time = (
        (
            "need_to_know",
            timedelta(hours=t.need_to_know_hours),
            f"Missing for more than {_hours(t.need_to_know_hours)}",
        ),
        (
            "urgent_strategy_meeting",
            timedelta(hours=t.urgent_strategy_hours),
            f"Missing for {_hours(t.urgent_strategy_hours)} or more",
        ),
        (
            "strategy_meeting",
            timedelta(days=t.strategy_meeting_days),
            f"Missing for {_days(t.strategy_meeting_days)} or more",
        ),
    )
    for code, after, reason in missing_time:
        trigger = seen + after
        if episode.away or not _missing_at(episode, trigger):
            continue
        if code == "strategy_meeting" and episode.legal_status in ("cp_plan", "s47"):
            reason += "; child protection plan or s47 enquiries: hold it by this time at the latest"
        out.append(_escalation(code, trigger, now, reason))

    if episode.is_looked_after and not episode.away:
        # Kent and Medway's looked-after rules: only while the child is still missing then.
        for code, days in (
            ("lac_missing_meeting", t.lac_meeting_days),
            ("lac_ad_told", t.lac_ad_days),
            ("lac_lead_member_told", t.lac_lead_member_days),
        ):
            trigger = seen + timedelta(days=days)
            if _missing_at(episode, trigger):
                reason = f"Looked after and missing for {_days(days)} or more"
                out.append(_escalation(code, trigger, now, reason))
        # Then a meeting each month while the child stays missing: those fallen due, and the
        # next one (so it can be planned).
        month = 1
        while True:
            trigger = seen + timedelta(days=t.lac_monthly_days * month)
            if not _missing_at(episode, trigger):
                break
            reason = f"Looked after and still missing after {_days(t.lac_monthly_days * month)}"
            out.append(_escalation(f"lac_monthly_meeting:{month}", trigger, now, reason))
            if trigger > now:
                break
            month += 1

    if episode.trafficking:
        out.append(
            _escalation(
                "nrm_referral",
                seen,
                now,
                "Flagged as trafficked or an unaccompanied asylum-seeking child",
            )
        )

    intervention: list[tuple[datetime, str]] = []
    recent = _count_between(episodes, seen - timedelta(days=t.intervention_window_days), seen)
    if recent >= t.intervention_episodes:
        intervention.append((seen, f"{_episodes(recent)} in {_days(t.intervention_window_days)}"))
    long_trigger = seen + timedelta(hours=t.intervention_long_hours)
    if not episode.away and _missing_at(episode, long_trigger):
        intervention.append(
            (long_trigger, f"Missing for more than {_hours(t.intervention_long_hours)}")
        )
    if intervention:
        due_at, reason = min(intervention)
        out.append(_escalation("intervention_meeting", due_at, now, reason))

    so_far = sum(1 for e in episodes if e.last_seen_at <= seen)
    if so_far >= t.repeat_episodes:
        out.append(
            _escalation("repeat_episodes", seen, now, f"{_episodes(so_far)} in total so far")
        )

    if episode.is_looked_after:
        lac_recent = _count_between(episodes, seen - timedelta(days=t.lac_repeat_window_days), seen)
        if lac_recent >= t.care_plan_review_episodes:
            out.append(
                _escalation(
                    "care_plan_review",
                    seen + timedelta(days=t.lac_meeting_days),
                    now,
                    f"Looked after and missing {lac_recent} times in "
                    f"{_days(t.lac_repeat_window_days)}",
                )
            )
        if lac_recent > t.lac_repeat_episodes:
            out.append(
                _escalation(
                    "lac_second_stage_intervention",
                    seen,
                    now,
                    f"Looked after and missing {lac_recent} times in "
                    f"{_days(t.lac_repeat_window_days)} (more than {t.lac_repeat_episodes})",
                )
            )
        if episode.returned_at is not None:
            visit_due = episode.returned_at + timedelta(hours=t.lac_visit_hours)
            out.append(
                _escalation(
                    "lac_visit",
                    visit_due,
                    now,
                    f"Looked-after child returned: to be seen alone within "
                    f"{_hours(t.lac_visit_hours)} of the return",
                )
            )

    out.sort(key=lambda e: (e.due_at, CODES.index(base_code(e.code))))
    return out


def child_flags(
    history: Sequence[EpisodeFacts], now: datetime, t: Thresholds = DEFAULT
) -> list[str]:
    now = ensure_utc(now)
    # Episodes recorded with a start after `now` are left out of "the last N days" counts: those
    # windows end now, and a clock-skewed device must not inflate them.
    episodes = _dedupe(None, history)
    flags: list[str] = []
    if not episodes:
        return flags

    recent = _count_between(episodes, now - timedelta(days=t.intervention_window_days), now)
    if recent >= t.intervention_episodes:
        flags.append(f"{_episodes(recent)} in the last {_days(t.intervention_window_days)}")

    # The child's current status is the one on their latest episode.
    latest = max(episodes, key=lambda e: e.last_seen_at)
    if latest.is_looked_after:
        lac_recent = _count_between(episodes, now - timedelta(days=t.lac_repeat_window_days), now)
        if lac_recent > t.lac_repeat_episodes:
            flags.append(
                f"More than {t.lac_repeat_episodes} episodes in "
                f"{_days(t.lac_repeat_window_days)} (looked after)"
            )

    if len(episodes) >= t.repeat_episodes:
        flags.append(f"{_episodes(len(episodes))} in total (repeat missing)")
    return flags
