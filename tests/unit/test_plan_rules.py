"""The risk plan's rules at their edges: the 6-hour cap, 12 and under, 0 hours, away, the clock
changes, the review's calendar months. The shared vectors (tests/vectors/plan.json) are also run
by tests/js/plan.test.mjs against static/js/plan.js, so phone and server agree."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from webapp.carers import plan_rules as rules
from webapp.deadlines import LONDON

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "plan.json").read_text())
H = timedelta(hours=1)


def _t(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _due(case: dict) -> datetime | None:
    return rules.police_report_due(
        reported_type=case["reportedType"],
        last_seen_at=_t(case["lastSeenAt"]),
        due_back_at=_t(case["dueBackAt"]),
        date_of_birth=date.fromisoformat(case["dateOfBirth"]),
        report_after_hours=case["reportAfterHours"],
    )


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_police_report_due_matches_the_shared_vectors(case):
    assert _due(case) == _t(case["policeDue"])


STEPS = [(c, s) for c in VECTORS["cases"] for s in c.get("steps", ())]


@pytest.mark.parametrize("case,step", STEPS, ids=lambda x: x.get("name") or x["code"])
def test_next_step_matches_the_shared_vectors(case, step):
    got = rules.next_step(
        reported_type=case["reportedType"],
        last_seen_at=_t(case["lastSeenAt"]),
        due_back_at=_t(case["dueBackAt"]),
        date_of_birth=date.fromisoformat(case["dateOfBirth"]),
        report_after_hours=case["reportAfterHours"],
        reported_to_police_at=_t(step.get("reportedToPoliceAt")),
        returned_at=_t(step.get("returnedAt")),
        now=_t(step["now"]),
    )
    assert (got.code, got.due_at) == (step["code"], _t(step["dueAt"]))
    assert got.text == rules.STEP_TEXT[step["code"]]


def test_the_step_words_are_the_vectors_words():
    # static/js/plan.js is held to the same words by tests/js/plan.test.mjs.
    assert rules.STEP_TEXT == VECTORS["stepText"]


def test_the_vectors_cover_every_step_and_the_edges():
    codes = {s["code"] for _, s in STEPS}
    assert codes == set(rules.STEP_TEXT)
    assert {c["reportAfterHours"] for c in VECTORS["cases"]} >= {0, 6, None, 10}


# ------------------------------------------------------------------ the plan's own hours


def test_six_hours_is_the_most_a_plan_may_say_and_seven_is_refused():
    assert rules.check_report_after_hours(6) == 6
    assert rules.check_report_after_hours("0") == 0
    with pytest.raises(rules.PlanRuleError) as err:
        rules.check_report_after_hours(7)
    assert err.value.field == "report_after_hours"
    assert "no more than 6 hours" in err.value.message
    for bad in ("", None, "two", -1):
        with pytest.raises(rules.PlanRuleError):
            rules.check_report_after_hours(bad)


def _plan(**kw):
    data = {"report_after_hours": "2", "pattern": "  Goes to town  "}
    data.update(kw)
    return data


def test_validate_keeps_filled_rows_and_drops_empty_ones():
    content, hours = rules.validate(
        _plan(
            contacts=[{"name": "Aunt", "relationship": "aunt", "phone": "0700"}, {}],
            addresses=[
                {"address": "Park", "risk": "high", "action": "Go", "max_wait_hours": "1"},
                {"address": "", "risk": "", "action": "", "max_wait_hours": ""},
            ],
            visit_within_days="5",
        )
    )
    assert hours == 2
    assert content["pattern"] == "Goes to town"
    assert content["contacts"] == [{"name": "Aunt", "relationship": "aunt", "phone": "0700"}]
    assert content["addresses"] == [
        {"address": "Park", "risk": "high", "action": "Go", "max_wait_hours": 1}
    ]
    assert content["visit_within_days"] == 5
    assert set(content) == set(rules.PLAN_FIELDS)


@pytest.mark.parametrize(
    "row,field",
    [
        ({"address": "Park", "risk": "high", "max_wait_hours": "7"}, "addresses-0-max_wait_hours"),
        ({"address": "Park", "risk": "high", "max_wait_hours": ""}, "addresses-0-max_wait_hours"),
        ({"address": "Park", "risk": "extreme", "max_wait_hours": "1"}, "addresses-0-risk"),
        ({"address": "", "risk": "low", "max_wait_hours": "1"}, "addresses-0-address"),
    ],
)
def test_an_address_needs_its_risk_and_a_wait_of_at_most_six_hours(row, field):
    with pytest.raises(rules.PlanRuleError) as err:
        rules.validate(_plan(addresses=[row]))
    assert err.value.field == field


def test_a_contact_needs_a_name_and_text_has_a_limit():
    with pytest.raises(rules.PlanRuleError) as err:
        rules.validate(_plan(contacts=[{"phone": "0700"}]))
    assert err.value.field == "contacts-0-name"
    with pytest.raises(rules.PlanRuleError) as err:
        rules.validate(_plan(pattern="x" * (rules.MAX_TEXT + 1)))
    assert err.value.field == "pattern"


# ------------------------------------------------------------------ police deadline


def _due_for(dob, due_back, hours=3, kind="not_back"):
    return rules.police_report_due(
        reported_type=kind,
        last_seen_at=due_back - 4 * H,
        due_back_at=due_back,
        date_of_birth=dob,
        report_after_hours=hours,
    )


def test_twelve_and_under_is_at_once_until_the_thirteenth_birthday():
    due_back = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    assert _due_for(date(2013, 6, 11), due_back) == due_back  # 13 tomorrow
    assert _due_for(date(2014, 6, 10), due_back) == due_back  # 12 today
    assert _due_for(date(2013, 6, 10), due_back) == due_back + 3 * H  # 13 today


def test_zero_hours_and_no_plan_are_at_once_and_away_has_no_deadline():
    due_back = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    assert _due_for(date(2009, 1, 1), due_back, hours=0) == due_back
    assert _due_for(date(2009, 1, 1), due_back, hours=None) == due_back
    assert _due_for(date(2016, 1, 1), due_back, kind="away") is None


def test_hours_after_due_back_are_elapsed_across_both_clock_changes():
    # 00:30 on the night the clocks go back (BST): two real hours later the wall reads 01:30 GMT.
    autumn = datetime(2026, 10, 25, 0, 30, tzinfo=LONDON).astimezone(UTC)
    due = _due_for(date(2009, 1, 1), autumn, hours=2)
    assert due - autumn == 2 * H
    assert due.astimezone(LONDON).strftime("%H:%M %Z") == "01:30 GMT"
    # 00:30 on the night the clocks go forward (GMT): two real hours later it reads 03:30 BST.
    spring = datetime(2026, 3, 29, 0, 30, tzinfo=LONDON).astimezone(UTC)
    due = _due_for(date(2009, 1, 1), spring, hours=2)
    assert due - spring == 2 * H
    assert due.astimezone(LONDON).strftime("%H:%M %Z") == "03:30 BST"


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        _due_for(date(2009, 1, 1), datetime(2026, 6, 10, 12, 0))


# ------------------------------------------------------------------ review


def _london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)


@pytest.mark.parametrize(
    "reviewed,due",
    [
        ((2025, 8, 31, 10, 0), (2026, 2, 28, 10, 0)),  # no 31st: the month's last day
        ((2023, 8, 31, 10, 0), (2024, 2, 29, 10, 0)),  # a leap year's 29th
        ((2024, 2, 29, 10, 0), (2024, 8, 29, 10, 0)),
        ((2025, 12, 31, 9, 0), (2026, 6, 30, 9, 0)),  # across the year end
        # Reviewed in winter (GMT), due in summer (BST): the same wall-clock time, not 6 x 30 days.
        ((2026, 1, 15, 14, 0), (2026, 7, 15, 14, 0)),
    ],
)
def test_review_is_six_calendar_months_on_by_the_uk_calendar(reviewed, due):
    assert rules.review_due_at(_london(*reviewed)) == _london(*due)


def test_a_return_since_the_review_brings_the_review_forward_to_seven_days():
    reviewed = _london(2026, 1, 15, 14, 0)
    back = reviewed + 30 * 24 * H
    assert rules.review_due_at(reviewed, [back]) == back + 7 * 24 * H
    # A return before the review is what the review already took in.
    assert rules.review_due_at(reviewed, [reviewed - H]) == _london(2026, 7, 15, 14, 0)
    assert rules.review_due_at(None, [back, None]) == back + 7 * 24 * H
    assert rules.review_due_at(None, []) is None


def test_review_state():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert rules.review_state(None, now) == "not_reviewed"
    assert rules.review_state(now, now) == "overdue"
    assert rules.review_state(now + H, now) == "in_date"


# ------------------------------------------------------------------ the carers' reminders


def test_the_carers_reminders_carry_no_personal_data_and_last_until_stale():
    from webapp.deadlines import EpisodeFacts
    from webapp.reminders import schedule

    name = "Amara-Okafor-2011-05-14"
    seen = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
    due_back = seen + 4 * H
    episode = EpisodeFacts(
        id=f"{name}-ep",
        last_seen_at=seen,
        returned_at=due_back + 10 * H,
        reported_type="not_back",
    )
    facts = schedule.EpisodeReminderFacts(
        episode=episode,
        manager_ids=(f"{name}-mgr", f"{name}-host-mgr"),
        carer_id=f"{name}-carer",
        social_worker_id=f"{name}-sw",
        date_of_birth=date(2011, 5, 14),
        report_after_hours=3,
        due_back_at=due_back,
        reported_at=seen + 5 * H,
        rhi_due_at=due_back + 82 * H,
    )
    got = schedule.episode_reminders(facts, seen)
    kinds = {r.kind for r in got}
    # Back 10 hours after due: the police threshold is no longer wanted.
    assert kinds >= {"sw_missing", "sw_returned", "rhi_to_allocate"}
    assert "police_report_due" not in kinds
    open_facts = schedule.EpisodeReminderFacts(
        **{
            **facts.__dict__,
            "episode": EpisodeFacts(id=episode.id, last_seen_at=seen, returned_at=None),
        }
    )
    police = [
        r for r in schedule.episode_reminders(open_facts, seen) if r.kind == "police_report_due"
    ]
    assert [(r.due_at, r.urgency, r.ttl_seconds) for r in police] == [
        (due_back + 3 * H, "high", 24 * 3600)
    ]
    review = schedule.plan_reminders(
        schedule.PlanReminderFacts(f"{name}-child", seen, (f"{name}-carer",))
    )
    for r in [*got, *police, *review]:
        for text in (r.title, r.body):
            assert "amara" not in text.lower() and "okafor" not in text.lower(), (r.kind, text)
            assert "2011" not in text
    # The next review is another reminder: a key is only ever sent once.
    later = schedule.plan_reminders(
        schedule.PlanReminderFacts(f"{name}-child", seen + 4000 * H, (f"{name}-carer",))
    )
    assert review[0].key != later[0].key
