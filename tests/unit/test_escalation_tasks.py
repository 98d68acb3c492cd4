"""Escalations as tasks (webapp/episodes/tasks.py): done when an action is recorded, closed by
themselves when only needed while the child was missing and the child is back, otherwise open
and ordered overdue first, then due soon, then upcoming."""

from datetime import UTC, datetime, timedelta

import pytest

from webapp import deadlines
from webapp.episodes import tasks

H = timedelta(hours=1)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SOON = timedelta(hours=12)


def esc(code: str, due_at: datetime) -> deadlines.Escalation:
    return deadlines.Escalation(
        code=code,
        title=deadlines.TITLES[code],
        who=deadlines.WHO[code],
        due_at=due_at,
        state=deadlines.DUE if NOW >= due_at else deadlines.UPCOMING,
        reason="because",
    )


def test_an_open_task_is_overdue_due_soon_or_upcoming_at_its_edges():
    found = tasks.tasks(
        [
            esc("need_to_know", NOW),  # due this very moment: overdue
            esc("urgent_strategy_meeting", NOW + SOON),  # exactly the due-soon window: due soon
            esc("strategy_meeting", NOW + SOON + timedelta(seconds=1)),
        ],
        {},
        None,
        NOW,
        SOON,
    )
    assert [(t.state, t.urgency) for t in found] == [
        ("open", "overdue"),
        ("open", "due_soon"),
        ("open", "upcoming"),
    ]


def test_an_action_recorded_closes_the_task_whatever_its_time():
    action = tasks.Action(kind="held", done_at=NOW - H)
    (task,) = tasks.tasks(
        [esc("intervention_meeting", NOW - 5 * H)],
        {"intervention_meeting": action},
        None,
        NOW,
        SOON,
    )
    assert (task.state, task.urgency, task.action) == ("done", None, action)
    assert not task.is_open


@pytest.mark.parametrize("code", sorted(deadlines.MISSING_TIME_CODES))
def test_a_missing_time_task_closes_itself_once_the_child_is_back_saying_why(code):
    (task,) = tasks.tasks(
        [esc(code, NOW - 10 * H)], {}, NOW - H, NOW, SOON, "on Mon 30 Nov at 11:00"
    )
    assert task.state == "closed"
    assert task.closed_because == "No longer needed: the child came back on Mon 30 Nov at 11:00"


@pytest.mark.parametrize(
    "code",
    ["intervention_meeting", "repeat_episodes", "lac_second_stage_intervention", "lac_visit"],
)
def test_a_task_about_the_pattern_or_the_return_stays_open_after_the_return(code):
    (task,) = tasks.tasks([esc(code, NOW - 10 * H)], {}, NOW - H, NOW, SOON)
    assert (task.state, task.urgency) == ("open", "overdue")


def test_an_action_wins_over_closing_by_itself():
    action = tasks.Action(kind="sent", done_at=NOW - 3 * H)
    (task,) = tasks.tasks(
        [esc("need_to_know", NOW - 4 * H)], {"need_to_know": action}, NOW - H, NOW, SOON
    )
    assert task.state == "done"


def test_the_worklist_leads_with_the_longest_overdue_then_due_soon_then_upcoming():
    found = tasks.tasks(
        [
            esc("strategy_meeting", NOW + 2 * SOON),
            esc("lac_visit", NOW + H),
            esc("need_to_know", NOW - H),
            esc("intervention_meeting", NOW - 30 * H),
        ],
        {},
        None,
        NOW,
        SOON,
    )
    ordered = sorted(found, key=tasks.worklist_order)
    assert [t.code for t in ordered] == [
        "intervention_meeting",
        "need_to_know",
        "lac_visit",
        "strategy_meeting",
    ]


def test_every_escalation_has_a_form_and_reasons_are_asked_where_the_rules_say():
    assert set(tasks.FORMS) == set(deadlines.CODES)
    needing_reason = {
        (code, k.value) for code, form in tasks.FORMS.items() for k in form.kinds if k.reason_needed
    }
    assert needing_reason == {
        ("repeat_episodes", "not_referred"),
        ("lac_visit", "exception"),
        ("care_plan_review", "not_changed"),
    }
    assert tasks.kind_label("lac_visit", "exception") == "Team manager agreed an exception"


def test_a_pattern_task_carried_to_a_later_episode_is_closed_saying_so_and_others_are_not():
    carried = {"repeat_episodes": "Carried to the child's latest episode (last seen Mon 30 Nov)"}
    found = tasks.tasks(
        [esc("repeat_episodes", NOW - 50 * H), esc("lac_visit", NOW - 40 * H)],
        {},
        NOW - 45 * H,
        NOW,
        SOON,
        carried=carried,
    )
    assert [(t.code, t.state) for t in found] == [
        ("repeat_episodes", "closed"),
        ("lac_visit", "open"),
    ]
    assert found[0].closed_because.startswith("Carried to the child's latest episode")
    assert tasks.PATTERN_CODES <= set(deadlines.CODES)


def test_each_months_meeting_is_a_task_of_its_own_and_closes_itself_on_return():
    months = [
        esc_any("lac_monthly_meeting:1", NOW - 40 * 24 * H),
        esc_any("lac_monthly_meeting:2", NOW - 10 * 24 * H),
    ]
    done = {"lac_monthly_meeting:1": tasks.Action(kind="held", done_at=NOW - 39 * 24 * H)}
    found = tasks.tasks(months, done, None, NOW, SOON)
    assert [(t.code, t.state) for t in found] == [
        ("lac_monthly_meeting:1", "done"),
        ("lac_monthly_meeting:2", "open"),
    ]
    assert tasks.kind_label("lac_monthly_meeting:2", "held") == "Meeting held"
    back = tasks.tasks(months, {}, NOW - H, NOW, SOON, "on Mon")
    assert {t.state for t in back} == {"closed"}
    assert sorted(found, key=tasks.worklist_order)[0].code == "lac_monthly_meeting:2"


def esc_any(code: str, due_at: datetime) -> deadlines.Escalation:
    base = deadlines.base_code(code)
    return deadlines.Escalation(
        code=code,
        title=deadlines.TITLES[base],
        who=deadlines.WHO[base],
        due_at=due_at,
        state=deadlines.DUE if NOW >= due_at else deadlines.UPCOMING,
        reason="because",
    )
