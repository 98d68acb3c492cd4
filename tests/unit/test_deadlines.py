"""Deadline and escalation rules: every rule, its boundaries, and both 2026 UK clock changes.

2026 clock changes: clocks go forward at 01:00 UTC on Sunday 29 March (01:00 GMT becomes 02:00
BST) and back at 01:00 UTC on Sunday 25 October (02:00 BST becomes 01:00 GMT).
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.deadlines import (
    CODES,
    DEFAULT,
    LONDON,
    MISSING_TIME_CODES,
    EpisodeFacts,
    Escalation,
    NonExistentLocalTime,
    RhiClock,
    Thresholds,
    base_code,
    child_flags,
    ensure_utc,
    episode_escalations,
    lac_visit_due_at,
    local_to_utc,
    rhi_clock,
    rhi_due_at,
    to_local,
)

H = timedelta(hours=1)
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)
DAY = timedelta(days=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(*args: int) -> datetime:
    """A London wall-clock time, as the UTC instant the product stores."""
    return local_to_utc(datetime(*args))


def wall(dt: datetime) -> tuple[int, int, int, int, int, str]:
    lt = to_local(dt)
    return (lt.year, lt.month, lt.day, lt.hour, lt.minute, lt.tzname())


def ep(
    id: str,
    last_seen_at: datetime,
    returned_at: datetime | None = None,
    looked_after: bool = False,
    legal_status: str = "none",
) -> EpisodeFacts:
    return EpisodeFacts(id, last_seen_at, returned_at, looked_after, legal_status)


def codes(escs: list[Escalation]) -> list[str]:
    return [e.code for e in escs]


def by_code(escs: list[Escalation]) -> dict[str, Escalation]:
    out = {e.code: e for e in escs}
    assert len(out) == len(escs), "each code at most once per episode"
    return out


T0 = utc(2026, 1, 12, 9, 0)  # a Monday in winter, far from either clock change


# --- Thresholds ------------------------------------------------------------------------------


def test_default_thresholds_match_the_sources():
    t = Thresholds()
    assert t == DEFAULT
    assert (t.rhi_hours, t.lac_visit_hours) == (72, 24)
    assert (t.need_to_know_hours, t.urgent_strategy_hours, t.strategy_meeting_days) == (24, 72, 7)
    assert (t.intervention_episodes, t.intervention_window_days, t.intervention_long_hours) == (
        3,
        30,
        24,
    )
    assert t.repeat_episodes == 2
    assert (t.lac_repeat_episodes, t.lac_repeat_window_days) == (9, 90)
    assert t.due_soon_hours == 24


def test_thresholds_from_mapping_ints_values_and_ignores_unknown_keys():
    t = Thresholds.from_mapping({"rhi_hours": "48", "due_soon_hours": 12, "colour": "blue"})
    assert t.rhi_hours == 48
    assert t.due_soon_hours == 12
    assert t.need_to_know_hours == 24


def test_thresholds_from_empty_mapping_is_default():
    assert Thresholds.from_mapping({}) == DEFAULT


def test_thresholds_from_mapping_rejects_non_numbers():
    with pytest.raises(ValueError):
        Thresholds.from_mapping({"rhi_hours": "three days"})


def test_thresholds_are_frozen():
    with pytest.raises(FrozenInstanceError):
        DEFAULT.rhi_hours = 1  # type: ignore[misc]


# --- Time zones ------------------------------------------------------------------------------


def test_ensure_utc_rejects_naive():
    with pytest.raises(ValueError, match="naive"):
        ensure_utc(datetime(2026, 5, 1, 12, 0))


def test_ensure_utc_converts_other_zones():
    bst = datetime(2026, 6, 1, 13, 0, tzinfo=LONDON)
    assert ensure_utc(bst) == utc(2026, 6, 1, 12, 0)
    assert ensure_utc(bst).tzinfo is UTC
    plus_two = datetime(2026, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert ensure_utc(plus_two) == utc(2026, 6, 1, 12, 0)


def test_to_local_shows_gmt_in_winter_and_bst_in_summer():
    assert wall(utc(2026, 1, 15, 12, 0)) == (2026, 1, 15, 12, 0, "GMT")
    assert wall(utc(2026, 7, 15, 12, 0)) == (2026, 7, 15, 13, 0, "BST")
    assert to_local(utc(2026, 7, 15, 12, 0)).tzinfo is LONDON


def test_to_local_rejects_naive():
    with pytest.raises(ValueError):
        to_local(datetime(2026, 7, 15, 12, 0))


def test_local_to_utc_in_winter_and_summer():
    assert local(2026, 1, 15, 12, 0) == utc(2026, 1, 15, 12, 0)
    assert local(2026, 7, 15, 12, 0) == utc(2026, 7, 15, 11, 0)
    assert local(2026, 7, 15, 12, 0).tzinfo is UTC


def test_local_to_utc_rejects_aware():
    with pytest.raises(ValueError):
        local_to_utc(utc(2026, 7, 15, 12, 0))


@pytest.mark.parametrize("minute", [0, 30, 59])
def test_spring_gap_does_not_exist(minute):
    with pytest.raises(NonExistentLocalTime) as info:
        local_to_utc(datetime(2026, 3, 29, 1, minute))
    assert isinstance(info.value, ValueError)  # forms catch ValueError
    message = str(info.value)
    assert "clocks went forward" in message
    assert "29 March 2026 at 01:" in message
    assert f"02:{minute:02d}" in message  # what the clock actually read


def test_spring_gap_edges_exist():
    assert local(2026, 3, 29, 0, 59) == utc(2026, 3, 29, 0, 59)
    assert local(2026, 3, 29, 2, 0) == utc(2026, 3, 29, 1, 0)


def test_autumn_ambiguous_time_takes_the_first_occurrence_bst():
    # 01:30 happens twice on 25 October 2026: 00:30 UTC (BST) and 01:30 UTC (GMT).
    assert local(2026, 10, 25, 1, 30) == utc(2026, 10, 25, 0, 30)
    assert local(2026, 10, 25, 1, 0) == utc(2026, 10, 25, 0, 0)
    assert local(2026, 10, 25, 1, 59) == utc(2026, 10, 25, 0, 59)


def test_autumn_edges_are_unambiguous():
    assert local(2026, 10, 25, 0, 59) == utc(2026, 10, 24, 23, 59)
    assert local(2026, 10, 25, 2, 0) == utc(2026, 10, 25, 2, 0)


def test_autumn_second_occurrence_still_displays_correctly():
    assert wall(utc(2026, 10, 25, 0, 30)) == (2026, 10, 25, 1, 30, "BST")
    assert wall(utc(2026, 10, 25, 1, 30)) == (2026, 10, 25, 1, 30, "GMT")


# --- RHI 72-hour clock -----------------------------------------------------------------------


def test_rhi_due_72_hours_after_return():
    assert rhi_due_at(T0) == T0 + 72 * H
    assert rhi_due_at(T0).tzinfo is UTC


def test_rhi_due_across_spring_change_ends_an_hour_later_on_the_wall_clock():
    returned = local(2026, 3, 27, 10, 0)  # Friday, GMT
    due = rhi_due_at(returned)
    assert due - returned == 72 * H
    assert due == utc(2026, 3, 30, 10, 0)
    assert wall(due) == (2026, 3, 30, 11, 0, "BST")


def test_rhi_due_across_autumn_change_ends_an_hour_earlier_on_the_wall_clock():
    returned = local(2026, 10, 23, 10, 0)  # Friday, BST
    assert returned == utc(2026, 10, 23, 9, 0)
    due = rhi_due_at(returned)
    assert due - returned == 72 * H
    assert due == utc(2026, 10, 26, 9, 0)
    assert wall(due) == (2026, 10, 26, 9, 0, "GMT")


def test_wall_clock_subtraction_would_be_wrong_which_is_why_we_use_utc():
    # Python subtracts two datetimes sharing a tzinfo by wall time; this pins the trap down.
    returned = local(2026, 3, 27, 10, 0)
    due = rhi_due_at(returned)
    assert to_local(due) - to_local(returned) == 73 * H
    assert ensure_utc(to_local(due)) - ensure_utc(to_local(returned)) == 72 * H


def test_rhi_due_for_a_return_in_the_repeated_autumn_hour():
    first = utc(2026, 10, 25, 0, 30)  # 01:30 BST
    second = utc(2026, 10, 25, 1, 30)  # 01:30 GMT
    assert wall(rhi_due_at(first)) == (2026, 10, 28, 0, 30, "GMT")
    assert wall(rhi_due_at(second)) == (2026, 10, 28, 1, 30, "GMT")


def test_rhi_due_accepts_any_aware_zone():
    bst = datetime(2026, 6, 1, 13, 0, tzinfo=LONDON)
    assert rhi_due_at(bst) == utc(2026, 6, 4, 12, 0)


def test_rhi_due_uses_configured_hours():
    assert rhi_due_at(T0, Thresholds(rhi_hours=48)) == T0 + 48 * H


def test_rhi_due_rejects_naive():
    with pytest.raises(ValueError):
        rhi_due_at(datetime(2026, 3, 27, 10, 0))


def test_lac_visit_due_24_hours_after_return():
    assert lac_visit_due_at(T0, True) == T0 + 24 * H
    assert lac_visit_due_at(T0, True).tzinfo is UTC
    assert lac_visit_due_at(T0, True, Thresholds(lac_visit_hours=12)) == T0 + 12 * H


def test_lac_visit_not_needed_for_child_not_looked_after():
    assert lac_visit_due_at(T0, False) is None


def test_lac_visit_across_spring_change():
    returned = local(2026, 3, 28, 12, 0)  # Saturday, GMT
    assert wall(lac_visit_due_at(returned, True)) == (2026, 3, 29, 13, 0, "BST")


def test_lac_visit_across_autumn_change():
    returned = local(2026, 10, 24, 12, 0)  # Saturday, BST
    assert wall(lac_visit_due_at(returned, True)) == (2026, 10, 25, 11, 0, "GMT")


@pytest.mark.parametrize(
    ("remaining", "state"),
    [
        (72 * H, "on_track"),
        (24 * H + SEC, "on_track"),
        (24 * H, "on_track"),  # "under 24 h left" is due soon; exactly 24 h is not under
        (24 * H - SEC, "due_soon"),
        (MIN, "due_soon"),
        (SEC, "due_soon"),
        (timedelta(0), "overdue"),  # the deadline has been reached
        (-SEC, "overdue"),
        (-5 * DAY, "overdue"),
    ],
)
def test_rhi_clock_states(remaining, state):
    due = T0 + 72 * H
    clock = rhi_clock(due, due - remaining)
    assert clock == RhiClock(due_at=due, remaining=remaining, state=state)


def test_rhi_clock_due_soon_uses_configured_hours():
    due = T0 + 72 * H
    assert rhi_clock(due, due - 10 * H, Thresholds(due_soon_hours=12)).state == "due_soon"
    assert rhi_clock(due, due - 13 * H, Thresholds(due_soon_hours=12)).state == "on_track"


def test_rhi_clock_normalises_to_utc_and_rejects_naive():
    due = datetime(2026, 6, 4, 13, 0, tzinfo=LONDON)
    clock = rhi_clock(due, utc(2026, 6, 4, 11, 0))
    assert clock.due_at.tzinfo is UTC
    assert clock.remaining == H
    with pytest.raises(ValueError):
        rhi_clock(due, datetime(2026, 6, 4, 11, 0))


def test_rhi_clock_across_spring_change_counts_elapsed_time():
    returned = local(2026, 3, 27, 10, 0)
    now = local(2026, 3, 30, 10, 30)  # half past ten BST on Monday: 30 min before 11:00 BST
    clock = rhi_clock(rhi_due_at(returned), now)
    assert clock.remaining == 30 * MIN
    assert clock.label() == "30 min left"


def test_rhi_clock_across_autumn_change_counts_elapsed_time():
    returned = local(2026, 10, 23, 10, 0)
    now = local(2026, 10, 26, 9, 30)  # 09:30 GMT Monday: already 30 min past 09:00 GMT
    clock = rhi_clock(rhi_due_at(returned), now)
    assert clock.state == "overdue"
    assert clock.label() == "Overdue by 30 min"


@pytest.mark.parametrize(
    ("remaining", "label"),
    [
        (3 * H + 20 * MIN, "3 h 20 min left"),
        (3 * H + 20 * MIN + 59 * SEC, "3 h 20 min left"),  # never overstate the time left
        (3 * H, "3 h left"),
        (45 * MIN, "45 min left"),
        (MIN, "1 min left"),
        (59 * SEC, "Less than 1 min left"),
        (DAY, "1 day left"),
        (DAY + H, "1 day 1 h left"),
        (2 * DAY + 4 * H + 59 * MIN, "2 days 4 h left"),
        (72 * H, "3 days left"),
        (timedelta(0), "Overdue by less than 1 min"),
        (-30 * SEC, "Overdue by less than 1 min"),
        (-(5 * H + 10 * MIN), "Overdue by 5 h 10 min"),
        (-(5 * H + 10 * MIN + 30 * SEC), "Overdue by 5 h 10 min"),
        (-(DAY + 2 * H + 3 * MIN), "Overdue by 1 day 2 h"),
        (-3 * DAY, "Overdue by 3 days"),
    ],
)
def test_rhi_clock_label(remaining, label):
    due = T0 + 72 * H
    assert rhi_clock(due, due - remaining).label() == label


# --- EpisodeFacts ----------------------------------------------------------------------------


def test_episode_facts_normalise_to_utc():
    e = ep(
        "a", datetime(2026, 6, 1, 13, 0, tzinfo=LONDON), datetime(2026, 6, 1, 15, 0, tzinfo=LONDON)
    )
    assert e.last_seen_at == utc(2026, 6, 1, 12, 0)
    assert e.last_seen_at.tzinfo is UTC
    assert e.returned_at == utc(2026, 6, 1, 14, 0)


def test_episode_facts_reject_naive_times():
    with pytest.raises(ValueError):
        ep("a", datetime(2026, 6, 1, 12, 0))
    with pytest.raises(ValueError):
        ep("a", T0, datetime(2026, 6, 1, 12, 0))


def test_episode_facts_reject_return_before_last_seen():
    with pytest.raises(ValueError, match="returned before last seen"):
        ep("a", T0, T0 - MIN)


def test_episode_facts_allow_return_at_the_moment_last_seen():
    assert ep("a", T0, T0).returned_at == T0


def test_episode_facts_legal_status():
    class LegalStatus(StrEnum):  # as the models define it
        CP_PLAN = "cp_plan"

    assert ep("a", T0, legal_status=LegalStatus.CP_PLAN).legal_status == "cp_plan"
    with pytest.raises(ValueError, match="legal status"):
        ep("a", T0, legal_status="in care")


def test_legal_status_looked_after_counts_as_looked_after():
    assert ep("a", T0, legal_status="looked_after").is_looked_after
    assert ep("a", T0, looked_after=True).is_looked_after
    assert not ep("a", T0, legal_status="cp_plan").is_looked_after


# --- Escalations: missing time ---------------------------------------------------------------


def test_fresh_episode_shows_every_missing_time_trigger_as_upcoming():
    e = ep("a", T0)
    escs = episode_escalations(e, [e], T0 + H)
    assert codes(escs) == [
        "need_to_know",
        "intervention_meeting",
        "urgent_strategy_meeting",
        "strategy_meeting",
    ]
    d = by_code(escs)
    assert d["need_to_know"].due_at == T0 + 24 * H
    assert d["intervention_meeting"].due_at == T0 + 24 * H
    assert d["urgent_strategy_meeting"].due_at == T0 + 72 * H
    assert d["strategy_meeting"].due_at == T0 + 7 * DAY
    assert all(x.state == "upcoming" for x in escs)
    assert all(x.due_at.tzinfo is UTC for x in escs)


def test_escalation_wording():
    e = ep("a", T0)
    d = by_code(episode_escalations(e, [e], T0 + 8 * DAY))
    assert d["need_to_know"].title == "Need to Know notification"
    assert d["need_to_know"].who == "Manager: notify the Assistant Director and service manager"
    assert d["need_to_know"].reason == "Missing for more than 24 hours"
    assert d["urgent_strategy_meeting"].title == "Urgent strategy meeting"
    assert d["urgent_strategy_meeting"].reason == "Missing for 72 hours or more"
    assert d["strategy_meeting"].reason == "Missing for 7 days or more"
    assert "Principal manager" in d["strategy_meeting"].who
    assert "IRO" in d["strategy_meeting"].who
    assert d["intervention_meeting"].reason == "Missing for more than 24 hours"


@pytest.mark.parametrize(
    ("code", "after"),
    [
        ("need_to_know", 24 * H),
        ("urgent_strategy_meeting", 72 * H),
        ("strategy_meeting", 7 * DAY),
        ("intervention_meeting", 24 * H),
    ],
)
def test_missing_time_trigger_is_due_at_the_instant_it_is_reached(code, after):
    e = ep("a", T0)
    assert by_code(episode_escalations(e, [e], T0 + after - SEC))[code].state == "upcoming"
    assert by_code(episode_escalations(e, [e], T0 + after))[code].state == "due"
    assert by_code(episode_escalations(e, [e], T0 + after + SEC))[code].state == "due"


@pytest.mark.parametrize(
    ("code", "after"),
    [
        ("need_to_know", 24 * H),
        ("urgent_strategy_meeting", 72 * H),
        ("strategy_meeting", 7 * DAY),
        ("intervention_meeting", 24 * H),
    ],
)
def test_child_back_at_or_before_the_trigger_does_not_trigger_it(code, after):
    later = T0 + 30 * DAY
    for returned in (T0 + H, T0 + after - SEC, T0 + after):
        e = ep("a", T0, returned)
        assert code not in codes(episode_escalations(e, [e], later)), returned


@pytest.mark.parametrize(
    ("code", "after"),
    [
        ("need_to_know", 24 * H),
        ("urgent_strategy_meeting", 72 * H),
        ("strategy_meeting", 7 * DAY),
        ("intervention_meeting", 24 * H),
    ],
)
def test_child_back_after_the_trigger_keeps_it_as_due(code, after):
    e = ep("a", T0, T0 + after + SEC)
    esc = by_code(episode_escalations(e, [e], T0 + 30 * DAY))[code]
    assert esc.state == "due"
    assert esc.due_at == T0 + after


def test_back_after_25_hours_gets_need_to_know_and_intervention_but_no_strategy_meetings():
    e = ep("a", T0, T0 + 25 * H)
    assert codes(episode_escalations(e, [e], T0 + 2 * DAY)) == [
        "need_to_know",
        "intervention_meeting",
    ]


def test_back_within_a_day_gets_nothing_for_a_first_episode():
    e = ep("a", T0, T0 + 5 * H)
    assert episode_escalations(e, [e], T0 + 6 * H) == []


def test_need_to_know_across_spring_change():
    seen = local(2026, 3, 28, 12, 0)  # Saturday noon GMT
    e = ep("a", seen)
    esc = by_code(episode_escalations(e, [e], seen + H))["need_to_know"]
    assert wall(esc.due_at) == (2026, 3, 29, 13, 0, "BST")
    assert esc.due_at - seen == 24 * H


def test_need_to_know_across_autumn_change():
    seen = local(2026, 10, 24, 12, 0)  # Saturday noon BST
    e = ep("a", seen)
    esc = by_code(episode_escalations(e, [e], seen + H))["need_to_know"]
    assert wall(esc.due_at) == (2026, 10, 25, 11, 0, "GMT")
    assert esc.due_at - seen == 24 * H


def test_strategy_meeting_across_both_changes():
    spring = local(2026, 3, 26, 18, 0)
    autumn = local(2026, 10, 22, 18, 0)
    s = by_code(episode_escalations(ep("a", spring), [], spring))["strategy_meeting"]
    a = by_code(episode_escalations(ep("b", autumn), [], autumn))["strategy_meeting"]
    assert wall(s.due_at) == (2026, 4, 2, 19, 0, "BST")
    assert wall(a.due_at) == (2026, 10, 29, 17, 0, "GMT")


@pytest.mark.parametrize("status", ["cp_plan", "s47"])
def test_strategy_meeting_for_child_protection_says_by_seven_days_at_the_latest(status):
    e = ep("a", T0, legal_status=status)
    esc = by_code(episode_escalations(e, [e], T0))["strategy_meeting"]
    assert esc.due_at == T0 + 7 * DAY
    assert "child protection plan or s47" in esc.reason


def test_child_protection_strategy_meeting_not_needed_once_back():
    e = ep("a", T0, T0 + 3 * DAY, legal_status="cp_plan")
    assert "strategy_meeting" not in codes(episode_escalations(e, [e], T0 + 10 * DAY))


def test_missing_time_thresholds_are_configurable():
    t = Thresholds(need_to_know_hours=12, urgent_strategy_hours=48, strategy_meeting_days=5)
    e = ep("a", T0)
    d = by_code(episode_escalations(e, [e], T0, t))
    assert d["need_to_know"].due_at == T0 + 12 * H
    assert d["need_to_know"].reason == "Missing for more than 12 hours"
    assert d["urgent_strategy_meeting"].due_at == T0 + 48 * H
    assert d["strategy_meeting"].due_at == T0 + 5 * DAY


# --- Escalations: intervention meeting (3 in 30 days, or 1 over 24 h) -------------------------


def short(id: str, seen: datetime) -> EpisodeFacts:
    return ep(id, seen, seen + H)


def test_third_episode_in_30_days_triggers_intervention_meeting_at_its_start():
    history = [short("a", T0 - 30 * DAY), short("b", T0 - 10 * DAY), short("c", T0)]
    esc = by_code(episode_escalations(history[2], history, T0 + 2 * H))["intervention_meeting"]
    assert esc.due_at == T0
    assert esc.state == "due"
    assert esc.reason == "3 episodes in 30 days"


def test_30_day_window_is_inclusive_at_the_far_edge():
    history = [short("a", T0 - 30 * DAY), short("b", T0 - DAY), short("c", T0)]
    assert "intervention_meeting" in codes(episode_escalations(history[2], history, T0 + 2 * H))


def test_episode_just_outside_30_days_does_not_count():
    history = [short("a", T0 - 30 * DAY - SEC), short("b", T0 - DAY), short("c", T0)]
    assert "intervention_meeting" not in codes(episode_escalations(history[2], history, T0 + 2 * H))


def test_30_days_are_elapsed_days_across_the_spring_change():
    # 30 days before 2026-04-10 12:00 BST is 2026-03-11 11:00 GMT (same instant less 720 h).
    seen = local(2026, 4, 10, 12, 0)
    edge = seen - 30 * DAY
    assert wall(edge) == (2026, 3, 11, 11, 0, "GMT")
    history = [short("a", edge), short("b", seen - DAY), short("c", seen)]
    assert "intervention_meeting" in codes(episode_escalations(history[2], history, seen + 2 * H))
    history[0] = short("a", edge - SEC)
    assert "intervention_meeting" not in codes(
        episode_escalations(history[2], history, seen + 2 * H)
    )


def test_two_in_30_days_is_not_enough():
    history = [short("b", T0 - DAY), short("c", T0)]
    assert "intervention_meeting" not in codes(episode_escalations(history[1], history, T0 + 2 * H))


def test_later_episodes_do_not_count_towards_an_earlier_one():
    history = [short("a", T0), short("b", T0 + DAY), short("c", T0 + 2 * DAY)]
    assert "intervention_meeting" not in codes(
        episode_escalations(history[0], history, T0 + 3 * DAY)
    )
    assert "intervention_meeting" in codes(episode_escalations(history[2], history, T0 + 3 * DAY))


def test_only_one_intervention_meeting_with_the_earliest_due_time():
    history = [short("a", T0 - 20 * DAY), short("b", T0 - 10 * DAY), ep("c", T0)]
    escs = episode_escalations(history[2], history, T0 + 2 * DAY)
    assert codes(escs).count("intervention_meeting") == 1
    esc = by_code(escs)["intervention_meeting"]
    assert esc.due_at == T0
    assert esc.state == "due"


def test_intervention_threshold_is_configurable():
    history = [short("b", T0 - DAY), short("c", T0)]
    t = Thresholds(intervention_episodes=2, intervention_window_days=7)
    esc = by_code(episode_escalations(history[1], history, T0 + 2 * H, t))["intervention_meeting"]
    assert esc.reason == "2 episodes in 7 days"


# --- Escalations: repeat episodes ------------------------------------------------------------


def test_first_episode_is_not_a_repeat():
    e = short("a", T0)
    assert "repeat_episodes" not in codes(episode_escalations(e, [e], T0 + 2 * H))


def test_second_episode_is_a_repeat_however_far_apart():
    history = [short("a", T0 - 400 * DAY), short("b", T0)]
    esc = by_code(episode_escalations(history[1], history, T0 + 2 * H))["repeat_episodes"]
    assert esc.due_at == T0
    assert esc.state == "due"
    assert esc.reason == "2 episodes in total so far"
    assert "SEARCH" in esc.who
    assert "independent" in esc.who


def test_an_earlier_episode_is_not_made_a_repeat_by_a_later_one():
    history = [short("a", T0), short("b", T0 + DAY)]
    assert "repeat_episodes" not in codes(episode_escalations(history[0], history, T0 + 2 * DAY))


# --- Escalations: history handling -----------------------------------------------------------


def test_history_with_or_without_the_episode_gives_the_same_answer():
    earlier = [short("a", T0 - 20 * DAY), short("b", T0 - 10 * DAY)]
    e = ep("c", T0)
    now = T0 + 2 * DAY
    with_it = episode_escalations(e, [*earlier, e], now)
    without = episode_escalations(e, earlier, now)
    duplicated = episode_escalations(e, [*earlier, *earlier, e, e], now)
    assert with_it == without == duplicated


def test_the_episode_passed_in_wins_over_its_copy_in_history():
    stale = ep("a", T0)
    fresh = ep("a", T0, T0 + 2 * H)
    assert episode_escalations(fresh, [stale], T0 + 3 * DAY) == []


def test_naive_now_is_rejected():
    e = ep("a", T0)
    with pytest.raises(ValueError):
        episode_escalations(e, [e], datetime(2026, 1, 13, 9, 0))


# --- Escalations: looked-after children ------------------------------------------------------


def lac_run(n: int, seen: datetime, spacing: timedelta, looked_after: bool = True):
    """n short episodes ending with one last seen at `seen`, oldest first."""
    return [
        ep(f"e{i}", seen - (n - 1 - i) * spacing, seen - (n - 1 - i) * spacing + H, looked_after)
        for i in range(n)
    ]


def test_nine_episodes_in_90_days_is_not_more_than_nine():
    history = lac_run(9, T0, 10 * DAY)
    assert "lac_second_stage_intervention" not in codes(
        episode_escalations(history[-1], history, T0 + 2 * H)
    )


def test_ten_episodes_in_90_days_triggers_second_stage_meeting():
    history = lac_run(10, T0, 10 * DAY)  # the first is exactly 90 days before the last
    assert history[0].last_seen_at == T0 - 90 * DAY
    esc = by_code(episode_escalations(history[-1], history, T0 + 2 * H))[
        "lac_second_stage_intervention"
    ]
    assert esc.due_at == T0
    assert esc.state == "due"
    assert esc.title == "Second-stage intervention meeting"
    assert "senior IRO" in esc.who.lower() or esc.who.startswith("Senior IRO")
    assert esc.reason == "Looked after and missing 10 times in 90 days (more than 9)"


def test_90_day_window_excludes_an_episode_a_second_too_old():
    history = lac_run(10, T0, 10 * DAY)
    history[0] = ep("e0", T0 - 90 * DAY - SEC, T0 - 90 * DAY + H, True)
    assert "lac_second_stage_intervention" not in codes(
        episode_escalations(history[-1], history, T0 + 2 * H)
    )


def test_second_stage_meeting_is_only_for_looked_after_children():
    history = lac_run(10, T0, 10 * DAY, looked_after=False)
    escs = codes(episode_escalations(history[-1], history, T0 + 2 * H))
    assert "lac_second_stage_intervention" not in escs
    assert "lac_visit" not in escs
    assert "repeat_episodes" in escs


def test_second_stage_meeting_via_legal_status():
    history = [
        replace(e, looked_after=False, legal_status="looked_after") for e in lac_run(10, T0, DAY)
    ]
    assert "lac_second_stage_intervention" in codes(
        episode_escalations(history[-1], history, T0 + 2 * H)
    )


def test_lac_visit_upcoming_then_due():
    e = ep("a", T0, T0 + 5 * H, looked_after=True)
    due = T0 + 29 * H
    before = by_code(episode_escalations(e, [e], due - SEC))["lac_visit"]
    assert before.due_at == due
    assert before.state == "upcoming"
    assert before.title == "Social worker visit"
    assert "alone" in before.who
    assert by_code(episode_escalations(e, [e], due))["lac_visit"].state == "due"


def test_lac_visit_not_while_still_missing():
    e = ep("a", T0, looked_after=True)
    assert "lac_visit" not in codes(episode_escalations(e, [e], T0 + 2 * H))


def test_lac_visit_not_for_child_not_looked_after():
    e = ep("a", T0, T0 + 5 * H, legal_status="child_in_need")
    assert "lac_visit" not in codes(episode_escalations(e, [e], T0 + 6 * H))


def test_lac_visit_across_spring_change_in_escalations():
    returned = local(2026, 3, 28, 22, 0)  # Saturday 22:00 GMT
    e = ep("a", returned - 3 * H, returned, looked_after=True)
    esc = by_code(episode_escalations(e, [e], returned))["lac_visit"]
    assert wall(esc.due_at) == (2026, 3, 29, 23, 0, "BST")


def test_looked_after_child_missing_8_days_gets_the_full_ordered_list():
    history = lac_run(10, T0 - 5 * DAY, DAY)
    e = ep("now", T0, T0 + 8 * DAY, looked_after=True)
    escs = episode_escalations(e, [*history, e], T0 + 8 * DAY + H)
    assert codes(escs) == [
        "intervention_meeting",  # T0: 3 in 30 days (earlier than the 24 h limb)
        "repeat_episodes",  # T0
        "lac_second_stage_intervention",  # T0
        "need_to_know",  # T0 + 24 h
        "urgent_strategy_meeting",  # T0 + 72 h
        "lac_missing_meeting",  # T0 + 3 days (Kent: looked after)
        "lac_ad_told",  # T0 + 3 days
        "care_plan_review",  # T0 + 3 days: 11 episodes in 90 days (the IRO)
        "strategy_meeting",  # T0 + 7 days
        "lac_lead_member_told",  # T0 + 7 days
        "lac_visit",  # T0 + 8 days + 24 h
    ]
    d = by_code(escs)
    assert d["intervention_meeting"].reason == "11 episodes in 30 days"
    assert d["lac_visit"].state == "upcoming"
    assert all(x.state == "due" for x in escs if x.code != "lac_visit")


# --- Child flags -----------------------------------------------------------------------------


def test_no_flags_without_history_or_for_one_episode():
    assert child_flags([], T0) == []
    assert child_flags([short("a", T0)], T0 + DAY) == []


def test_two_episodes_flag_repeat_missing():
    history = [short("a", T0 - 200 * DAY), short("b", T0 - 100 * DAY)]
    assert child_flags(history, T0) == ["2 episodes in total (repeat missing)"]


def test_three_in_last_30_days_flag():
    history = [short("a", T0 - 30 * DAY), short("b", T0 - 2 * DAY), short("c", T0)]
    assert child_flags(history, T0) == [
        "3 episodes in the last 30 days",
        "3 episodes in total (repeat missing)",
    ]
    assert child_flags(history, T0 + SEC) == ["3 episodes in total (repeat missing)"]


def test_lac_more_than_nine_in_90_days_flag():
    history = lac_run(10, T0, 9 * DAY)
    assert child_flags(history, T0 + H) == [
        "4 episodes in the last 30 days",  # T0 and 9, 18, 27 days before
        "More than 9 episodes in 90 days (looked after)",
        "10 episodes in total (repeat missing)",
    ]
    assert "More than 9 episodes in 90 days (looked after)" not in child_flags(history[1:], T0 + H)
    not_lac = lac_run(10, T0, 9 * DAY, looked_after=False)
    assert "More than 9 episodes in 90 days (looked after)" not in child_flags(not_lac, T0 + H)


def test_child_flags_dedupe_by_id_and_reject_naive_now():
    e = short("a", T0)
    assert child_flags([e, e], T0 + DAY) == []
    with pytest.raises(ValueError):
        child_flags([e], datetime(2026, 1, 13))


# --- Properties ------------------------------------------------------------------------------

aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.timezones()
)


@given(aware_datetimes)
def test_rhi_due_is_exactly_72_elapsed_hours_for_any_aware_time(returned):
    due = rhi_due_at(returned)
    assert due.tzinfo is UTC
    assert due - returned == 72 * H
    assert ensure_utc(to_local(due)) == due


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
def test_local_to_utc_round_trips_or_names_the_gap(naive):
    try:
        instant = local_to_utc(naive)
    except NonExistentLocalTime:
        # Only the spring-forward hour (01:00-01:59 on the last Sunday of March) is missing.
        assert naive.month == 3 and naive.weekday() == 6 and naive.day >= 25 and naive.hour == 1
        return
    assert to_local(instant).replace(tzinfo=None) == naive
    if naive.month == 10 and naive.weekday() == 6 and naive.day >= 25 and naive.hour == 1:
        assert to_local(instant).utcoffset() == H  # the repeated hour reads as BST


@given(st.timedeltas(min_value=-10 * DAY, max_value=10 * DAY))
def test_rhi_clock_label_agrees_with_state(remaining):
    clock = rhi_clock(T0, T0 - remaining)
    label = clock.label()
    assert (clock.state == "overdue") == label.startswith("Overdue")
    assert (clock.state == "overdue") == (remaining <= timedelta(0))
    assert "sec" not in label
    assert label.endswith("left") != label.startswith("Overdue")


@st.composite
def child_histories(draw):
    looked_after = draw(st.booleans())
    legal = draw(st.sampled_from(["looked_after", "cp_plan", "child_in_need", "s47", "none"]))
    n = draw(st.integers(min_value=1, max_value=14))
    episodes = []
    for i in range(n):
        start = T0 + draw(st.integers(min_value=-120 * 24 * 60, max_value=0)) * MIN
        length = draw(st.none() | st.integers(min_value=0, max_value=10 * 24 * 60))
        returned = None if length is None else start + length * MIN
        episodes.append(ep(f"e{i}", start, returned, looked_after, legal))
    now = T0 + draw(st.integers(min_value=0, max_value=12 * 24 * 60)) * MIN
    return episodes, draw(st.sampled_from(episodes)), now


@settings(max_examples=300)
@given(child_histories())
def test_escalation_invariants(case):
    history, episode, now = case
    escs = episode_escalations(episode, history, now)
    keys = [(x.due_at, CODES.index(base_code(x.code))) for x in escs]
    assert keys == sorted(keys)
    assert len({x.code for x in escs}) == len(escs)
    for x in escs:
        assert x.due_at.tzinfo is UTC
        assert x.state == ("due" if now >= x.due_at else "upcoming")
        assert x.title and x.who and x.reason
        if base_code(x.code) in MISSING_TIME_CODES:
            # Never raised for a child who was back by the trigger.
            assert episode.returned_at is None or episode.returned_at > x.due_at
        if x.code in ("lac_second_stage_intervention", "lac_visit"):
            assert episode.is_looked_after
    if episode.returned_at is not None:
        elapsed = episode.returned_at - episode.last_seen_at
        assert ("need_to_know" in codes(escs)) == (elapsed > 24 * H)
        assert ("urgent_strategy_meeting" in codes(escs)) == (elapsed > 72 * H)
        assert ("strategy_meeting" in codes(escs)) == (elapsed > 7 * DAY)
    else:
        assert {"need_to_know", "urgent_strategy_meeting", "strategy_meeting"} <= set(codes(escs))


@given(child_histories())
def test_escalations_do_not_depend_on_history_order_or_duplicates(case):
    history, episode, now = case
    assert episode_escalations(episode, history, now) == episode_escalations(
        episode, [*reversed(history), *history], now
    )


# --- Kent and Medway: a looked-after child missing ------------------------------


def test_kent_looked_after_rules_fall_due_at_3_and_7_days_only_while_still_missing():
    e = ep("a", T0, looked_after=True)
    escs = by_code(episode_escalations(e, [e], T0 + 7 * DAY))
    assert escs["lac_missing_meeting"].due_at == T0 + 3 * DAY
    assert escs["lac_ad_told"].due_at == T0 + 3 * DAY
    assert escs["lac_lead_member_told"].due_at == T0 + 7 * DAY
    assert escs["lac_lead_member_told"].state == "due"  # due at the very moment
    assert escs["lac_missing_meeting"].reason == "Looked after and missing for 3 days or more"
    # Back a second before 3 days: none of them; back between 3 and 7 days: the first two only.
    early = ep("b", T0, T0 + 3 * DAY - SEC, looked_after=True)
    assert not {"lac_missing_meeting", "lac_ad_told", "lac_lead_member_told"} & set(
        codes(episode_escalations(early, [early], T0 + 10 * DAY))
    )
    mid = ep("c", T0, T0 + 5 * DAY, looked_after=True)
    kent = [
        c for c in codes(episode_escalations(mid, [mid], T0 + 10 * DAY)) if c.startswith("lac_")
    ]
    assert "lac_missing_meeting" in kent and "lac_ad_told" in kent
    assert "lac_lead_member_told" not in kent


def test_kent_rules_not_for_a_child_not_looked_after_nor_away_from_placement():
    e = ep("a", T0, legal_status="child_in_need")
    assert not [
        c for c in codes(episode_escalations(e, [e], T0 + 10 * DAY)) if c.startswith("lac_m")
    ]
    away = EpisodeFacts("b", T0, None, True, "none", reported_type="away")
    assert "lac_ad_told" not in codes(episode_escalations(away, [away], T0 + 10 * DAY))


def test_a_trafficked_or_unaccompanied_child_gets_an_nrm_referral_task_at_once():
    e = EpisodeFacts("a", T0, None, False, "none", trafficking=True)
    (nrm,) = [x for x in episode_escalations(e, [e], T0) if x.code == "nrm_referral"]
    assert nrm.due_at == T0 and nrm.state == "due"
    assert "trafficking" in nrm.who
    plain = ep("b", T0)
    assert "nrm_referral" not in codes(episode_escalations(plain, [plain], T0 + DAY))


def test_a_looked_after_child_missing_a_third_time_in_90_days_prompts_the_care_plan_review():
    history = lac_run(2, T0 - 40 * DAY, 10 * DAY)
    third = ep("third", T0, T0 + 5 * H, looked_after=True)
    review = by_code(episode_escalations(third, [*history, third], T0 + 4 * DAY))
    assert review["care_plan_review"].due_at == T0 + 3 * DAY
    assert "3 times in 90 days" in review["care_plan_review"].reason
    assert "reviewing officer" in review["care_plan_review"].who
    second = ep("second", T0, T0 + 5 * H, looked_after=True)
    fewer = codes(episode_escalations(second, [history[0], second], T0 + 4 * DAY))
    assert "care_plan_review" not in fewer
    not_lac = ep("x", T0, T0 + 5 * H)
    assert "care_plan_review" not in codes(
        episode_escalations(not_lac, [*[ep(f"n{i}", T0 - i * DAY) for i in (5, 9)], not_lac], T0)
    )


def test_kent_monthly_meetings_while_a_looked_after_child_stays_missing():
    e = ep("a", T0, looked_after=True)
    at_65_days = [x for x in codes(episode_escalations(e, [e], T0 + 65 * DAY)) if "monthly" in x]
    # Months one and two have fallen due; the third is listed so it can be planned.
    assert at_65_days == ["lac_monthly_meeting:1", "lac_monthly_meeting:2", "lac_monthly_meeting:3"]
    third = by_code(episode_escalations(e, [e], T0 + 65 * DAY))["lac_monthly_meeting:3"]
    assert third.due_at == T0 + 90 * DAY and third.state == "upcoming"
    assert third.title == "Monthly missing-from-care meeting"
    # Back after 40 days: the first month's meeting only; none for a child not looked after.
    back = ep("b", T0, T0 + 40 * DAY, looked_after=True)
    assert [
        x for x in codes(episode_escalations(back, [back], T0 + 90 * DAY)) if "monthly" in x
    ] == ["lac_monthly_meeting:1"]
    plain = ep("c", T0)
    assert not [
        x for x in codes(episode_escalations(plain, [plain], T0 + 90 * DAY)) if "monthly" in x
    ]
