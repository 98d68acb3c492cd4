"""The reminder schedule: every kind, who gets it, when it is stale, and how recomputes diff.

Frozen-time style: nothing reads the clock; `now` is passed in. 2026 UK clock changes: forward at
01:00 UTC on Sunday 29 March, back at 01:00 UTC on Sunday 25 October.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.deadlines import LONDON, EpisodeFacts, Thresholds, local_to_utc, rhi_due_at, to_local
from webapp.reminders.schedule import (
    DEFAULT_SETTINGS,
    KINDS,
    SCHEDULE,
    DueReminder,
    EpisodeReminderFacts,
    InterviewFacts,
    ReminderSettings,
    episode_reminders,
    interview_reminders,
    plan,
    topic_for,
)

H = timedelta(hours=1)
DAY = timedelta(days=1)
R = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # a return on a winter Monday, far from clock changes
S = datetime(2026, 1, 12, 18, 30, tzinfo=UTC)  # last seen, for episodes


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def interview(**kw) -> InterviewFacts:
    base = dict(
        id="iv1",
        returned_at=R,
        due_at=rhi_due_at(R),
        allocated_to="w1",
        allocated_at=R + H,
        manager_ids=("m1", "m2"),
        done=False,
    )
    base.update(kw)
    return InterviewFacts(**base)


def episode(id="ep1", last_seen_at=S, returned_at=None, **kw) -> EpisodeFacts:
    return EpisodeFacts(id=id, last_seen_at=last_seen_at, returned_at=returned_at, **kw)


def ep_facts(ep: EpisodeFacts, history=(), managers=("m1",), seniors=("s1",)):
    return EpisodeReminderFacts(
        episode=ep, history=tuple(history), manager_ids=managers, senior_manager_ids=seniors
    )


def rows(reminders: list[DueReminder], anchor: datetime):
    return [(r.kind, r.recipient_id, (r.due_at - anchor) / H) for r in reminders]


# --- The table ---------------------------------------------------------------------------------


def test_the_table_names_every_kind_once():
    assert [k.kind for k in SCHEDULE] == [
        "rhi_allocated",
        "rhi_24h",
        "rhi_48h",
        "rhi_66h",
        "rhi_overdue",
        "need_to_know",
        "urgent_strategy_meeting",
        "strategy_meeting",
        "intervention_meeting",
        "lac_second_stage_intervention",
        "lac_missing_meeting",
        "lac_ad_told",
        "lac_lead_member_told",
        "lac_monthly_meeting",
        "care_plan_review",
        "nrm_referral",
    ]
    assert {k.subject_type for k in SCHEDULE} == {"interview", "episode"}
    assert KINDS["rhi_overdue"].urgency == "high"
    assert KINDS["need_to_know"].urgency == "high"


# --- Interviews --------------------------------------------------------------------------------


def test_interview_chain_with_defaults():
    got = interview_reminders(interview())
    assert rows(got, R) == [
        ("rhi_allocated", "w1", 1),
        ("rhi_24h", "w1", 24),
        ("rhi_48h", "w1", 48),
        ("rhi_66h", "w1", 66),
        ("rhi_overdue", "m1", 72),
        ("rhi_overdue", "m2", 72),
        ("rhi_overdue", "w1", 72),
    ]
    by = {(r.kind, r.recipient_id): r for r in got}
    # Each chain reminder is pointless once the next is due; the last ones after a day.
    assert [(by[("rhi_allocated", "w1")].stale_at - R) / H] == [25]
    assert [(by[(k, "w1")].stale_at - R) / H for k in ("rhi_24h", "rhi_48h", "rhi_66h")] == [
        48,
        66,
        72,
    ]
    assert (by[("rhi_overdue", "m1")].stale_at - R) / H == 96
    # TTL: long enough for a phone offline for hours, never past the point of being useful.
    assert [by[(k, "w1")].ttl_seconds / 3600 for k in ("rhi_24h", "rhi_48h", "rhi_66h")] == [
        24,
        18,
        6,
    ]
    assert by[("rhi_overdue", "w1")].ttl_seconds == 24 * 3600
    assert by[("rhi_allocated", "w1")].body == (
        "A return interview has been allocated to you. It is due in 71 hours."
    )
    assert [by[(k, "w1")].body for k in ("rhi_24h", "rhi_48h", "rhi_66h", "rhi_overdue")] == [
        "A return interview is due in 48 hours.",
        "A return interview is due in 24 hours.",
        "A return interview is due in 6 hours.",
        "A return interview is overdue.",
    ]
    assert [by[(k, "w1")].urgency for k in ("rhi_allocated", "rhi_24h", "rhi_48h")] == [
        "normal"
    ] * 3
    assert by[("rhi_66h", "w1")].urgency == "high"
    assert {by[("rhi_overdue", m)].urgency for m in ("w1", "m1", "m2")} == {"high"}
    assert {r.subject_type for r in got} == {"interview"}
    assert {r.subject_id for r in got} == {"iv1"}


def test_keys_are_deterministic_unique_and_name_kind_subject_recipient():
    first = interview_reminders(interview())
    again = interview_reminders(interview())
    assert first == again
    assert [r.key for r in first] == [f"{r.kind}:iv1:{r.recipient_id}" for r in first]
    assert len({r.key for r in first}) == len(first)


def test_topic_collapses_the_same_kind_and_subject_only():
    got = interview_reminders(interview())
    overdue = {r.topic for r in got if r.kind == "rhi_overdue"}
    assert overdue == {topic_for("rhi_overdue", "iv1")}
    assert len({r.topic for r in got}) == len(SCHEDULE[:5])
    for r in got:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", r.topic)
        assert "iv1" not in r.topic


def test_done_interview_gets_nothing_and_plan_cancels_everything_pending():
    pending = {r.key for r in interview_reminders(interview())}
    assert interview_reminders(interview(done=True)) == []
    to_upsert, to_cancel = plan(pending, interview_reminders(interview(done=True)))
    assert to_upsert == []
    assert to_cancel == sorted(pending)


def test_unallocated_interview_reminds_only_managers_when_overdue():
    got = interview_reminders(interview(allocated_to=None, allocated_at=None))
    assert rows(got, R) == [("rhi_overdue", "m1", 72), ("rhi_overdue", "m2", 72)]


def test_no_managers_and_no_worker_means_no_reminders():
    assert (
        interview_reminders(interview(allocated_to=None, allocated_at=None, manager_ids=())) == []
    )


def test_late_allocation_skips_what_already_fell_due():
    got = interview_reminders(interview(allocated_at=R + 50 * H))
    assert rows(got, R) == [
        ("rhi_allocated", "w1", 50),
        ("rhi_66h", "w1", 66),
        ("rhi_overdue", "m1", 72),
        ("rhi_overdue", "m2", 72),
        ("rhi_overdue", "w1", 72),
    ]
    assert got[0].body == "A return interview has been allocated to you. It is due in 22 hours."


def test_allocation_after_the_deadline_says_overdue_and_managers_still_hear():
    got = interview_reminders(interview(allocated_at=R + 80 * H))
    assert rows(got, R) == [
        ("rhi_overdue", "m1", 72),
        ("rhi_overdue", "m2", 72),
        ("rhi_allocated", "w1", 80),
    ]
    assert got[-1].body == "A return interview has been allocated to you. It is overdue."


def test_manager_who_is_also_the_worker_is_reminded_once():
    got = interview_reminders(interview(allocated_to="m1"))
    overdue = [r for r in got if r.kind == "rhi_overdue"]
    assert [r.recipient_id for r in overdue] == ["m1", "m2"]
    assert len({r.key for r in got}) == len(got)


def test_duplicate_manager_ids_are_collapsed():
    assert InterviewFacts(
        id="iv1", returned_at=R, due_at=rhi_due_at(R), manager_ids=("m1", "m1", "m2")
    ).manager_ids == ("m1", "m2")


def test_a_stored_shorter_deadline_drops_reminders_at_or_after_it():
    # An area with a 48-hour rule stores due_at = return + 48 h.
    got = interview_reminders(interview(due_at=R + 48 * H, manager_ids=()))
    assert rows(got, R) == [
        ("rhi_allocated", "w1", 1),
        ("rhi_24h", "w1", 24),
        ("rhi_overdue", "w1", 48),
    ]
    assert got[1].body == "A return interview is due in 24 hours."


def test_configured_hours_move_the_chain_and_keep_the_kind_names():
    s = ReminderSettings.from_mapping(
        {"rhi_reminder_hours": "12,36,60", "stale_after_hours": "12", "max_ttl_hours": "6", "x": 1}
    )
    assert s.rhi_reminder_hours == (12, 36, 60)
    got = interview_reminders(interview(manager_ids=()), s)
    assert rows(got, R) == [
        ("rhi_allocated", "w1", 1),
        ("rhi_24h", "w1", 12),
        ("rhi_48h", "w1", 36),
        ("rhi_66h", "w1", 60),
        ("rhi_overdue", "w1", 72),
    ]
    assert got[-1].stale_at == R + 84 * H
    assert {r.ttl_seconds for r in got} == {6 * 3600}
    assert got[3].body == "A return interview is due in 12 hours."


def test_settings_share_the_apps_thresholds_and_reject_nonsense():
    t = Thresholds(rhi_hours=96)
    assert ReminderSettings.from_mapping({}, thresholds=t).thresholds is t
    assert ReminderSettings.from_mapping({"rhi_hours": "96"}).thresholds.rhi_hours == 96
    assert ReminderSettings.from_mapping({}) == DEFAULT_SETTINGS
    for bad in ("24,24,66", "48,24,66", "24,48,72", "0,24,48", "24,48"):
        with pytest.raises(ValueError):
            ReminderSettings.from_mapping({"rhi_reminder_hours": bad})
    with pytest.raises(ValueError):
        ReminderSettings(stale_after_hours=0)
    with pytest.raises(ValueError):
        ReminderSettings(max_ttl_hours=0)


def test_now_leaves_out_reminders_already_stale():
    got = interview_reminders(interview(), now=R + 50 * H)
    assert [r.kind for r in got if r.recipient_id == "w1"] == ["rhi_48h", "rhi_66h", "rhi_overdue"]
    assert interview_reminders(interview(), now=R + 96 * H) == []


def test_ttl_at_shrinks_towards_stale_and_is_zero_after():
    r = next(r for r in interview_reminders(interview()) if r.kind == "rhi_66h")
    assert r.ttl_at(r.due_at) == 6 * 3600
    assert r.ttl_at(r.due_at + 5 * H) == 3600
    assert r.ttl_at(r.stale_at) == 0
    assert r.is_stale(r.stale_at) and not r.is_stale(r.stale_at - timedelta(seconds=1))


def test_interview_facts_refuse_bad_input():
    with pytest.raises(ValueError, match="naive"):
        interview(returned_at=datetime(2026, 1, 12, 9, 0))
    with pytest.raises(ValueError, match="due before"):
        interview(due_at=R - H)
    with pytest.raises(ValueError, match="go together"):
        interview(allocated_at=None)
    with pytest.raises(ValueError, match="without ':'"):
        interview(id="a:b")
    with pytest.raises(ValueError):
        interview(manager_ids=("",))


# --- Recomputing: plan ---------------------------------------------------------------------------


def test_corrected_return_time_re_times_the_chain_and_cancels_nothing():
    old = interview_reminders(interview())
    corrected = R - 3 * H
    new = interview_reminders(
        interview(returned_at=corrected, due_at=rhi_due_at(corrected), allocated_at=R + H)
    )
    assert [r.key for r in new] == [r.key for r in old]
    to_upsert, to_cancel = plan({r.key for r in old}, new)
    assert to_cancel == []
    assert to_upsert == new
    old_due = {r.key: r.due_at for r in old}
    for r in to_upsert:
        if r.kind != "rhi_allocated":
            assert old_due[r.key] - r.due_at == 3 * H


def test_plan_with_stored_reminders_upserts_exactly_what_changed():
    old = interview_reminders(interview())
    stored = {r.key: r for r in old}
    new = interview_reminders(interview(manager_ids=("m1", "m2", "m3")))
    to_upsert, to_cancel = plan(stored, new)
    assert [r.key for r in to_upsert] == ["rhi_overdue:iv1:m3"]
    assert to_cancel == []
    assert plan(stored, old) == ([], [])


def test_reallocation_cancels_the_old_workers_pending_reminders_exactly():
    old = interview_reminders(interview(), now=R + 30 * H)
    new = interview_reminders(interview(allocated_to="w2", allocated_at=R + 30 * H), now=R + 30 * H)
    to_upsert, to_cancel = plan({r.key for r in old}, new)
    assert to_cancel == sorted(r.key for r in old if r.recipient_id == "w1")
    assert {r.recipient_id for r in to_upsert} == {"w2", "m1", "m2"}
    assert [r.kind for r in to_upsert if r.recipient_id == "w2"] == [
        "rhi_allocated",
        "rhi_48h",
        "rhi_66h",
        "rhi_overdue",
    ]


def test_plan_refuses_two_different_reminders_with_one_key():
    r = interview_reminders(interview())[0]
    with pytest.raises(ValueError, match="share the key"):
        plan(set(), [r, replace(r, body="A return interview is due.")])
    assert plan(set(), [r, r]) == ([r], [])


# --- Episodes ----------------------------------------------------------------------------------


def test_open_episode_escalations_and_recipients():
    got = episode_reminders(ep_facts(episode(), managers=("m1", "m2")), now=S + H)
    assert rows(got, S) == [
        ("need_to_know", "m1", 24),
        ("need_to_know", "m2", 24),
        ("need_to_know", "s1", 24),
        ("intervention_meeting", "m1", 24),
        ("intervention_meeting", "m2", 24),
        ("urgent_strategy_meeting", "m1", 72),
        ("urgent_strategy_meeting", "m2", 72),
        ("strategy_meeting", "m1", 168),
        ("strategy_meeting", "m2", 168),
    ]
    by = {r.kind: r for r in got}
    assert by["need_to_know"].body == (
        "A child has been missing for 24 hours: Need to Know notification due."
    )
    assert by["urgent_strategy_meeting"].body == (
        "A child has been missing for 72 hours: an urgent strategy meeting is due."
    )
    assert by["strategy_meeting"].body == (
        "A child has been missing for 7 days: a strategy meeting is due."
    )
    assert by["intervention_meeting"].body == (
        "A child has been missing for more than 24 hours: an intervention meeting is due."
    )
    # The missing-time chain: each stale when the next is due, or a day after.
    assert [(by[k].stale_at - S) / H for k in ("need_to_know", "urgent_strategy_meeting")] == [
        48,
        96,
    ]
    assert (by["strategy_meeting"].stale_at - S) / H == 192
    assert (by["intervention_meeting"].stale_at - S) / H == 48
    assert {
        by[k].urgency for k in ("need_to_know", "urgent_strategy_meeting", "strategy_meeting")
    } == {"high"}
    assert by["intervention_meeting"].urgency == "normal"
    assert {r.subject_type for r in got} == {"episode"}
    assert [r.key for r in got] == [f"{r.kind}:ep1:{r.recipient_id}" for r in got]


def test_child_back_before_24_hours_gets_no_need_to_know():
    for back in (S + 23 * H, S + 24 * H):  # "over 24 hours": back exactly at 24 h is not over
        got = episode_reminders(ep_facts(episode(returned_at=back)), now=back)
        assert got == []


def test_returned_child_gets_no_future_missing_time_reminders():
    back = S + 30 * H
    got = episode_reminders(ep_facts(episode(returned_at=back)), now=back)
    assert sorted({r.kind for r in got}) == ["intervention_meeting", "need_to_know"]


def test_corrected_return_time_cancels_exactly_the_escalations_no_longer_due():
    was = episode_reminders(ep_facts(episode(returned_at=S + 30 * H)), now=S + 30 * H)
    now_back = episode_reminders(ep_facts(episode(returned_at=S + 20 * H)), now=S + 30 * H)
    to_upsert, to_cancel = plan({r.key for r in was}, now_back)
    assert to_upsert == []
    assert to_cancel == sorted(r.key for r in was)


def test_child_missing_again_gets_reminders_keyed_to_the_new_episode():
    first = episode(id="ep1", last_seen_at=S - 10 * DAY, returned_at=S - 10 * DAY + 5 * H)
    second = episode(id="ep2", last_seen_at=S - 3 * DAY, returned_at=S - 3 * DAY + 2 * H)
    third = episode(id="ep3", last_seen_at=S)
    got = episode_reminders(ep_facts(third, history=(first, second)), now=S + H)
    assert {r.subject_id for r in got} == {"ep3"}
    meeting = next(r for r in got if r.kind == "intervention_meeting")
    # Three in 30 days: due at once, from the start of this episode.
    assert meeting.due_at == S
    assert meeting.body == (
        "A child has gone missing 3 or more times in 30 days: an intervention meeting is due."
    )


def test_looked_after_child_missing_more_than_9_times_in_90_days():
    def run(n: int, **kw):
        history = [
            episode(
                id=f"e{i}",
                last_seen_at=S - (i + 1) * 5 * DAY,
                returned_at=S - (i + 1) * 5 * DAY + H,
                **kw,
            )
            for i in range(n - 1)
        ]
        current = episode(id="cur", last_seen_at=S, returned_at=S + H, **kw)
        return episode_reminders(ep_facts(current, history=history), now=S + H)

    got = run(10, looked_after=True)
    lac = [r for r in got if r.kind == "lac_second_stage_intervention"]
    assert [r.recipient_id for r in lac] == ["m1"]
    assert lac[0].due_at == S
    assert lac[0].body == (
        "A child has gone missing more than 9 times in 90 days: "
        "a second-stage intervention meeting is due."
    )
    assert not [r for r in run(9, looked_after=True) if r.kind == "lac_second_stage_intervention"]
    assert not [r for r in run(10) if r.kind == "lac_second_stage_intervention"]
    # Escalations that are not push reminders never appear.
    assert not {"repeat_episodes", "lac_visit"} & {r.kind for r in got}


def test_episode_now_leaves_out_stale_reminders():
    got = episode_reminders(ep_facts(episode()), now=S + 60 * H)
    assert sorted({r.kind for r in got}) == ["strategy_meeting", "urgent_strategy_meeting"]


def test_need_to_know_without_senior_managers_goes_to_managers():
    got = episode_reminders(ep_facts(episode(), seniors=()), now=S)
    assert [r.recipient_id for r in got if r.kind == "need_to_know"] == ["m1"]


# --- No personal data ----------------------------------------------------------------------------


def test_titles_and_bodies_carry_no_personal_data():
    child = {
        "first_name": "Amara",
        "last_name": "Okafor",
        "date_of_birth": "2011-05-14",
        "placement": "Larchwood",
    }
    # Ids made from the child's details: nothing from the facts may reach a lock screen.
    iv_id = f"{child['first_name']}-{child['last_name']}-{child['date_of_birth']}"
    worker = f"{child['placement']}-worker"
    iv = interview(id=iv_id, allocated_to=worker, manager_ids=(f"{child['last_name']}-mgr",))
    lac_history = [
        episode(
            id=f"{iv_id}-{i}",
            last_seen_at=S - (i + 1) * 5 * DAY,
            returned_at=S - (i + 1) * 5 * DAY + H,
            looked_after=True,
        )
        for i in range(9)
    ]
    open_ep = episode(id=f"{iv_id}-open", looked_after=True, trafficking=True)
    reminders = interview_reminders(iv) + episode_reminders(
        ep_facts(open_ep, history=lac_history, managers=(worker,), seniors=(iv_id + "-s",)),
        now=S,
    )
    assert {r.kind for r in reminders} == set(KINDS)  # every kind is checked
    forbidden = [*child.values(), iv_id, worker]
    for r in reminders:
        for text in (r.title, r.body):
            for value in forbidden:
                assert value.lower() not in text.lower(), (r.kind, text)
            assert re.fullmatch(r"A (return interview|child) [a-z0-9 ,.:-]+\.", r.body, re.I)
        assert r.title == KINDS[r.kind].title


# --- Clock changes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned_local", "overdue_local"),
    [
        # Spring: 10:00 GMT Friday -> 72 elapsed hours -> 11:00 BST Monday.
        (datetime(2026, 3, 27, 10, 0), datetime(2026, 3, 30, 11, 0)),
        # Autumn: 10:00 BST Friday -> 72 elapsed hours -> 09:00 GMT Monday.
        (datetime(2026, 10, 23, 10, 0), datetime(2026, 10, 26, 9, 0)),
    ],
)
def test_due_times_are_elapsed_utc_across_clock_changes(returned_local, overdue_local):
    returned = local_to_utc(returned_local)
    # Facts given in London time are normalised to UTC.
    f = interview(
        returned_at=returned.astimezone(LONDON),
        due_at=rhi_due_at(returned),
        allocated_at=returned + H,
        manager_ids=(),
    )
    got = interview_reminders(f)
    assert all(r.due_at.tzinfo is UTC and r.stale_at.tzinfo is UTC for r in got)
    assert [(r.kind, (r.due_at - returned) / H) for r in got] == [
        ("rhi_allocated", 1),
        ("rhi_24h", 24),
        ("rhi_48h", 48),
        ("rhi_66h", 66),
        ("rhi_overdue", 72),
    ]
    overdue = got[-1]
    assert to_local(overdue.due_at).replace(tzinfo=None) == overdue_local
    assert [r.body for r in got[1:4]] == [
        "A return interview is due in 48 hours.",
        "A return interview is due in 24 hours.",
        "A return interview is due in 6 hours.",
    ]
    assert got[3].ttl_seconds == 6 * 3600


# --- Properties ----------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(
    returned=moments,
    alloc_after_min=st.one_of(st.none(), st.integers(min_value=0, max_value=100 * 60)),
    managers=st.lists(st.sampled_from(["m1", "m2", "w1"]), max_size=3),
)
def test_interview_invariants(returned, alloc_after_min, managers):
    allocated = None if alloc_after_min is None else returned + timedelta(minutes=alloc_after_min)
    f = InterviewFacts(
        id="iv",
        returned_at=returned,
        due_at=rhi_due_at(returned),
        allocated_to=None if allocated is None else "w1",
        allocated_at=allocated,
        manager_ids=tuple(managers),
    )
    got = interview_reminders(f)
    assert got == sorted(got, key=lambda r: (r.due_at, list(KINDS).index(r.kind), r.recipient_id))
    assert len({r.key for r in got}) == len(got)
    for r in got:
        assert r.stale_at > r.due_at
        assert r.ttl_seconds == min(24 * 3600, int((r.stale_at - r.due_at).total_seconds()))
        assert r.topic == topic_for(r.kind, "iv")
        if r.kind in ("rhi_24h", "rhi_48h", "rhi_66h"):
            assert r.due_at > allocated
    # Whoever is on it, someone hears when it is overdue.
    if managers or allocated is not None:
        assert any(r.kind in ("rhi_overdue", "rhi_allocated") for r in got)
    # Done means silence.
    assert interview_reminders(replace(f, done=True)) == []


def test_kents_looked_after_steps_remind_managers_beside_the_missing_chain():
    """At 3 days a looked-after child still missing has the urgent strategy meeting (72 hours)
    and Kent's missing-from-care meeting and Assistant Director due at the same moment: each is
    sent (none is made stale by another falling due beside it), and acting on one cancels only
    its own."""
    ep = episode(looked_after=True)
    at_3_days = S + 72 * H + timedelta(minutes=1)
    kinds = {r.kind for r in episode_reminders(ep_facts(ep), at_3_days)}
    assert {"urgent_strategy_meeting", "lac_missing_meeting", "lac_ad_told"} <= kinds
    acted = replace(ep_facts(ep), actioned=frozenset({"lac_ad_told"}))
    kinds = {r.kind for r in episode_reminders(acted, at_3_days)}
    assert "lac_ad_told" not in kinds and "lac_missing_meeting" in kinds


def test_each_months_meeting_is_a_reminder_of_its_own():
    """A looked-after child still missing: a monthly meeting falls due at 30, 60, 90 days. Each
    month's reminder has its own key (so recording the first month's meeting cancels only it),
    goes to the managers in generic words, and the next month's stays pending."""
    ep = episode(looked_after=True)
    at_60_days = S + 60 * DAY + H
    monthly = [
        r
        for r in episode_reminders(ep_facts(ep, managers=("m1", "m2")), at_60_days)
        if r.kind == "lac_monthly_meeting"
    ]
    # Month 1 (day 30) is stale by day 65 (due + the stale window); months 2 and 3 remain.
    due = sorted({(r.due_at - S) / DAY for r in monthly})
    assert due == [60, 90]
    assert {r.recipient_id for r in monthly} == {"m1", "m2"}
    keys = {r.key for r in monthly}
    assert keys == {f"lac_monthly_meeting:ep1.{n}:{m}" for n in (2, 3) for m in ("m1", "m2")}
    for r in monthly:
        assert "another month" in r.body and r.topic == topic_for("lac_monthly_meeting", "ep1")
    acted = replace(ep_facts(ep), actioned=frozenset({"lac_monthly_meeting:2"}))
    left = [r.key for r in episode_reminders(acted, at_60_days) if r.kind == "lac_monthly_meeting"]
    assert left == ["lac_monthly_meeting:ep1.3:m1"]
    # Back home: no more monthly meetings are reminded.
    back = episode(looked_after=True, returned_at=S + 59 * DAY)
    assert not [
        r for r in episode_reminders(ep_facts(back), at_60_days) if r.kind == "lac_monthly_meeting"
    ]
    # Not looked after: none at all.
    assert not [
        r
        for r in episode_reminders(ep_facts(episode()), at_60_days)
        if r.kind == "lac_monthly_meeting"
    ]


def test_the_care_plan_review_reminds_the_iro_or_else_the_managers():
    history = [
        episode(
            id=f"h{i}",
            last_seen_at=S - i * 10 * DAY,
            returned_at=S - i * 10 * DAY + H,
            looked_after=True,
        )
        for i in (1, 2)
    ]
    ep = episode(looked_after=True)
    with_iro = replace(ep_facts(ep, history), iro_id="iro1")
    after = S + 3 * DAY + timedelta(minutes=1)
    told = {
        r.recipient_id for r in episode_reminders(with_iro, after) if r.kind == "care_plan_review"
    }
    assert told == {"iro1"}
    told = {
        r.recipient_id
        for r in episode_reminders(ep_facts(ep, history), after)
        if r.kind == "care_plan_review"
    }
    assert told == {"m1"}


def test_a_trafficked_childs_episode_reminds_the_managers_of_the_nrm_referral_at_once():
    ep = episode(trafficking=True)
    got = [r for r in episode_reminders(ep_facts(ep), S + H) if r.kind == "nrm_referral"]
    assert [(r.recipient_id, r.due_at) for r in got] == [("m1", S)]
    assert "National Referral Mechanism" in got[0].body
    acted = replace(ep_facts(ep), actioned=frozenset({"nrm_referral"}))
    assert not [r for r in episode_reminders(acted, S + H) if r.kind == "nrm_referral"]
