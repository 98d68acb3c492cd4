"""Push reminders through the real stack: the facts recorded by the services, the reminder rows
the commit hook keeps in step with them, the subscription API, and the dispatcher sending to a
local fake push service that verifies VAPID and really decrypts every message. Time is frozen by
passing `now` to the dispatcher; every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.helpers import fresh
from tests.support.fake_push import FakePushService, Reply
from webapp.accounts.models import User
from webapp.children.models import Child, LegalStatus
from webapp.db_types import utcnow
from webapp.episodes import service as episodes
from webapp.extensions import db
from webapp.interviews import service as interviews
from webapp.interviews.models import Interview
from webapp.push.models import PushSubscription
from webapp.reminders import dispatcher as dispatch
from webapp.reminders.models import Reminder, ReminderAttempt, ReminderStatus

# The dispatcher's claims (SKIP LOCKED on PostgreSQL), leases and recomputed schedules.
pytestmark = pytest.mark.both_databases

H = timedelta(hours=1)


@pytest.fixture
def fake_push():
    with FakePushService(hang_seconds=3) as service:
        yield service


@pytest.fixture
def sender(app):
    d = dispatch.from_app(app, timeout=1.0, threads=4)
    yield d
    d.close()


@pytest.fixture
def quiet(app):
    """No demo reminders pending: the test's own reminders are the only ones due."""
    for row in db.session.scalars(select(Reminder).where(Reminder.status == "pending")):
        row.status = ReminderStatus.CANCELLED
    db.session.commit()


@pytest.fixture
def me(app) -> User:
    """The worker whose phone gets the reminders."""
    person = factories.worker()
    db.session.commit()
    return person


def colleague_of(worker: User) -> User:
    """Another worker of the same team, committed."""
    person = factories.worker(worker.organisation, team_=worker.team)
    db.session.commit()
    return person


def allocated_interview(worker: User, **kw) -> Interview:
    """An interview allocated to `worker`, committed so its reminders are in step with it. Back
    80 hours ago unless told: 8 hours overdue, so its overdue reminder is due already and the
    notification centre (which lists what is due by now) shows it."""
    kw.setdefault("returned_hours_ago", 80)
    interview = factories.interview(worker_=worker, **kw)
    db.session.commit()
    return interview


def reminders_for(subject_id, status=None) -> dict[str, Reminder]:
    db.session.expire_all()
    q = select(Reminder).where(Reminder.subject_id == subject_id)
    if status:
        q = q.where(Reminder.status == status)
    return {r.key.split(":")[0] + "@" + r.recipient.email: r for r in db.session.scalars(q)}


def subscribe(browser_session, fake_push):
    """What the page does after the person taps "Turn on reminders"."""
    from webapp.push.service import public_key

    phone = fake_push.browser(application_server_key=public_key())
    r = browser_session.api("POST", "/api/v1/push/subscriptions", phone.subscription_json())
    assert r.status_code == 201, r.get_data(as_text=True)
    return phone


def new_missing_child(manager, hours_ago: float) -> tuple[Child, object]:
    from datetime import date

    from webapp.children import service as children

    child = children.create_child(
        manager,
        {
            "first_name": "Zara",
            "last_name": "Quill",
            "date_of_birth": date(2011, 5, 5),
            "sex": "female",
            "legal_status": "none",
        },
    )
    episode = episodes.report_missing(
        manager,
        child,
        {
            "reported_type": "missing",
            "missing_from": "home",
            "last_seen_at": utcnow() - hours_ago * H,
        },
    )
    return child, episode


# ---------------------------------------------------------------- the schedule follows the facts


def test_the_whole_rhi_schedule_is_recomputed_as_facts_change(app):
    # The only manager of an authority, and two workers of one team.
    manager = factories.manager()
    worker = factories.worker(manager.organisation)
    worker2 = factories.worker(manager.organisation, team_=worker.team)
    db.session.commit()
    child, episode = new_missing_child(manager, hours_ago=30)
    # Missing 30 hours: Need to Know is due (at 24 h), the urgent strategy meeting is waiting.
    pending = reminders_for(episode.id, ReminderStatus.PENDING)
    assert {f"need_to_know@{manager.email}", f"urgent_strategy_meeting@{manager.email}"} <= set(
        pending
    )
    assert pending[f"need_to_know@{manager.email}"].due_at == episode.last_seen_at + 24 * H
    assert pending[f"urgent_strategy_meeting@{manager.email}"].urgency == "high"

    # Back at 2 hours ago: the missing-time escalations still waiting are cancelled.
    returned = utcnow() - 2 * H
    interview = episodes.record_return(manager, episode, returned, "own_accord")
    after = reminders_for(episode.id)
    assert after[f"urgent_strategy_meeting@{manager.email}"].status == ReminderStatus.CANCELLED
    assert after[f"strategy_meeting@{manager.email}"].status == ReminderStatus.CANCELLED
    # Unallocated: only the managers hear, and only when it is late.
    rhi = reminders_for(interview.id, ReminderStatus.PENDING)
    assert set(rhi) == {f"rhi_overdue@{manager.email}"}
    assert rhi[f"rhi_overdue@{manager.email}"].due_at == returned + 72 * H

    # Allocated: the worker's chain from allocation to overdue.
    interviews.allocate(manager, interview, worker.id)
    rhi = reminders_for(interview.id, ReminderStatus.PENDING)
    assert set(rhi) == {
        f"rhi_allocated@{worker.email}",
        f"rhi_24h@{worker.email}",
        f"rhi_48h@{worker.email}",
        f"rhi_66h@{worker.email}",
        f"rhi_overdue@{worker.email}",
        f"rhi_overdue@{manager.email}",
    }
    assert rhi[f"rhi_66h@{worker.email}"].due_at == returned + 66 * H
    assert rhi[f"rhi_66h@{worker.email}"].urgency == "high"
    assert "6 hours" in rhi[f"rhi_66h@{worker.email}"].body

    # The return time is corrected to an hour earlier: every pending one is re-timed.
    episode, interview = fresh(episode), fresh(interview)  # (fresh() expires everything)
    episode.returned_at = returned - H
    interview.due_at = returned - H + 72 * H
    db.session.commit()
    rhi = reminders_for(interview.id, ReminderStatus.PENDING)
    assert rhi[f"rhi_24h@{worker.email}"].due_at == returned - H + 24 * H
    assert rhi[f"rhi_overdue@{manager.email}"].due_at == returned - H + 72 * H

    # Reallocated: the first worker's reminders are cancelled, the second gets them.
    interviews.allocate(manager, fresh(interview), worker2.id)
    rhi = reminders_for(interview.id)
    assert rhi[f"rhi_24h@{worker.email}"].status == ReminderStatus.CANCELLED
    assert rhi[f"rhi_24h@{worker2.email}"].status == ReminderStatus.PENDING

    # Done (declined and recorded, sent for authorisation): nothing more is pending.
    worker2_interview = fresh(interview)
    section = next(s for s in interviews.SECTIONS if "offered" in s.names)
    interviews.save_section(
        worker2,
        worker2_interview,
        section,
        {"offered": "Y", "outcome": "declined", "decline_reason": "No", "attempts": "Twice"},
    )
    assert interviews.submit(worker2, fresh(interview)) == []
    assert reminders_for(interview.id, ReminderStatus.PENDING) == {}

    # Sent back: open again, so the reminders come back.
    interviews.send_back(manager, fresh(interview), "Please add where it was held")
    assert f"rhi_overdue@{worker2.email}" in reminders_for(interview.id, ReminderStatus.PENDING)


def test_missing_again_makes_new_reminders_and_a_repeat_prompt(app):
    manager = factories.manager()
    # A looked-after child with two episodes in the last 30 days; a third calls an intervention
    # meeting, due straight away.
    child = factories.child(manager.organisation, legal_status=LegalStatus.LOOKED_AFTER)
    factories.episode(child, last_seen_hours_ago=24 * 20, missing_hours=10)
    factories.episode(child, last_seen_hours_ago=24 * 9, missing_hours=6)
    db.session.commit()
    episode = episodes.report_missing(
        manager,
        child,
        {"reported_type": "missing", "missing_from": "placement", "last_seen_at": utcnow() - H},
    )
    pending = reminders_for(episode.id, ReminderStatus.PENDING)
    assert f"intervention_meeting@{manager.email}" in pending
    assert pending[f"intervention_meeting@{manager.email}"].due_at == episode.last_seen_at
    assert "3 or more times" in pending[f"intervention_meeting@{manager.email}"].body


# ---------------------------------------------------------------- subscriptions


def test_subscription_api(as_user, fake_push, me):
    worker = as_user(me)
    key = worker.get("/api/v1/push/key").json
    assert key["enabled"] is True and len(key["public_key"]) > 80
    phone = subscribe(worker, fake_push)
    again = worker.api("POST", "/api/v1/push/subscriptions", phone.subscription_json())
    assert again.status_code == 201  # a refresh, not a second row
    rows = db.session.scalars(select(PushSubscription)).all()
    assert [(r.user_id, r.endpoint) for r in rows] == [(me.id, phone.endpoint)]
    # Bad subscriptions get a precise answer and nothing is stored.
    bad = dict(phone.subscription_json(), endpoint="https://evil.example/push/1")
    r = worker.api("POST", "/api/v1/push/subscriptions", bad)
    assert r.status_code == 422 and "not a known push service" in r.json["message"]
    broken = phone.subscription_json()
    broken["keys"]["p256dh"] = "AAAA"
    r = worker.api("POST", "/api/v1/push/subscriptions", broken)
    assert r.status_code == 422 and "p256dh" in r.json["message"]
    r = worker.api("POST", "/api/v1/push/subscriptions", phone.subscription_json(), csrf=False)
    assert r.status_code == 400 and r.json["error"] == "csrf_failed"
    # Another user cannot remove it; its owner can.
    other = as_user(colleague_of(me))
    other.api("DELETE", "/api/v1/push/subscriptions", {"endpoint": phone.endpoint})
    assert db.session.scalar(select(PushSubscription.id)) is not None
    r = worker.api("DELETE", "/api/v1/push/subscriptions", {"endpoint": phone.endpoint})
    assert r.status_code == 204
    assert db.session.scalar(select(PushSubscription.id)) is None


# ---------------------------------------------------------------- sending


def _one_reminder_to(person: User, now) -> Reminder:
    from webapp.reminders import service

    return service.queue_test(person, now)


def test_due_reminders_reach_every_device_once_with_no_personal_data(
    app, as_user, me, fake_push, sender
):
    child = factories.child(first_name="Ottoline", last_name="Fairweather")
    allocated = allocated_interview(me, child_=child)
    worker = as_user(me)
    phone, tablet = subscribe(worker, fake_push), None
    # The same person on a second device (another browser profile: another device cookie).
    second = as_user(me)
    tablet = subscribe(second, fake_push)
    overdue = reminders_for(allocated.id, ReminderStatus.PENDING)[f"rhi_overdue@{me.email}"]

    now = overdue.due_at + timedelta(minutes=5)
    assert sender.run_once(now) > 0
    while sender.run_once(now):
        pass
    mine = [d for d in fake_push.deliveries if d.payload["ref"] == overdue.id]
    assert sorted(d.token for d in mine) == sorted([phone.token, tablet.token])
    for d in mine:
        assert d.payload == {
            "title": "Return interview overdue",
            "body": "A return interview is overdue.",
            "ref": overdue.id,
            "url": f"/notifications/{overdue.id}",
        }
        assert d.urgency == "high" and d.topic and len(d.topic) <= 32
        assert 3600 <= d.ttl <= 24 * 3600  # long enough for a phone offline for hours
        assert d.claims["sub"].startswith("mailto:")
    # No child's name, no record id in clear, in anything sent to a push service.
    everything = repr([(d.payload, d.headers) for d in fake_push.deliveries])
    for name in (child.first_name, child.last_name):
        assert name not in everything
    assert allocated.id not in everything and allocated.child_id not in everything
    assert fresh(overdue).status == ReminderStatus.SENT
    # Nothing goes twice: another round at the same time sends nothing.
    count = len(fake_push.deliveries)
    assert sender.run_once(now) == 0
    assert len(fake_push.deliveries) == count

    # The notification centre shows it, and the tap lands on the interview.
    page = worker.get("/notifications/")
    assert "A return interview is overdue." in page.get_data(as_text=True)
    r = worker.get(f"/notifications/{overdue.id}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/interviews/{allocated.id}")
    assert as_user(colleague_of(me)).get(f"/notifications/{overdue.id}").status_code == 404


def test_gone_subscriptions_are_deleted_and_other_devices_still_get_it(
    app, quiet, as_user, me, fake_push, sender
):
    worker = as_user(me)
    phone = subscribe(worker, fake_push)
    old = subscribe(as_user(me), fake_push)
    fake_push.script(old.token, [410])
    reminder = _one_reminder_to(me, utcnow())
    sender.run_once(reminder.due_at)
    assert [d.token for d in fake_push.deliveries if d.payload["ref"] == reminder.id] == [
        phone.token
    ]
    db.session.expire_all()
    assert {s.endpoint for s in db.session.scalars(select(PushSubscription))} == {phone.endpoint}
    assert fresh(reminder).status == ReminderStatus.SENT


def test_429_honours_retry_after_and_5xx_retries_until_sent(
    app, quiet, as_user, me, fake_push, sender
):
    worker = as_user(me)
    phone = subscribe(worker, fake_push)
    now = utcnow()
    reminder = _one_reminder_to(me, now)
    fake_push.script(phone.token, [Reply(429, {"Retry-After": "600"}), 503])

    sender.run_once(now)
    row = fresh(reminder)
    assert row.status == ReminderStatus.PENDING
    assert row.next_attempt_at >= now + timedelta(seconds=600)
    assert "429" in row.last_error
    assert sender.run_once(now + timedelta(seconds=599)) == 0  # not before Retry-After

    later = row.next_attempt_at
    sender.run_once(later)
    row = fresh(reminder)
    assert row.status == ReminderStatus.PENDING and "503" in row.last_error
    assert row.next_attempt_at > later  # backed off

    sender.run_once(row.next_attempt_at)
    assert fresh(reminder).status == ReminderStatus.SENT
    assert len([d for d in fake_push.deliveries if d.payload["ref"] == reminder.id]) == 1
    outcomes = [
        a.outcome
        for a in db.session.scalars(
            select(ReminderAttempt)
            .where(ReminderAttempt.reminder_id == reminder.id)
            .order_by(ReminderAttempt.id)
        )
    ]
    assert outcomes == ["rate_limited", "retry", "sent"]  # every attempt recorded


def test_a_hung_push_service_times_out_and_the_reminder_is_retried(
    app, quiet, as_user, me, fake_push, sender
):
    phone = subscribe(as_user(me), fake_push)
    now = utcnow()
    reminder = _one_reminder_to(me, now)
    fake_push.script(phone.token, "hang")
    sender.run_once(now)  # the client gives up after its 1 s timeout
    row = fresh(reminder)
    assert row.status == ReminderStatus.PENDING and "no answer" in row.last_error
    sender.run_once(row.next_attempt_at)
    assert fresh(reminder).status == ReminderStatus.SENT


def test_retries_stop_when_the_reminder_is_stale_and_it_is_marked_missed(
    app, quiet, as_user, me, fake_push, sender
):
    phone = subscribe(as_user(me), fake_push)
    now = utcnow()
    reminder = _one_reminder_to(me, now)  # stale an hour after it is due
    fake_push.script(phone.token, [Reply(503, {"Retry-After": "7200"})])
    sender.run_once(now)
    assert fresh(reminder).status == ReminderStatus.MISSED


def test_reminders_due_while_the_dispatcher_was_down(app, as_user, fake_push, sender, me):
    """Sent late if still useful; marked missed if stale. The centre shows both."""
    allocated = allocated_interview(me)
    worker = as_user(me)
    subscribe(worker, fake_push)
    rows = reminders_for(allocated.id, ReminderStatus.PENDING)
    overdue = rows[f"rhi_overdue@{me.email}"]
    # Back after 30 hours away: the overdue reminder (stale after 24 h) is no use any more.
    back = overdue.due_at + 30 * H
    while sender.run_once(back):
        pass
    assert fresh(overdue).status == ReminderStatus.MISSED
    assert not [d for d in fake_push.deliveries if d.payload["ref"] == overdue.id]
    page = worker.get("/notifications/").get_data(as_text=True)
    assert "A return interview is overdue." in page and "not pushed to a phone in time" in page


def test_a_claim_held_by_a_dead_dispatcher_is_taken_over_when_its_lease_ends(
    app, quiet, as_user, me, fake_push
):
    phone = subscribe(as_user(me), fake_push)
    now = utcnow()
    reminder = _one_reminder_to(me, now)
    first = dispatch.from_app(app, name="first", timeout=1.0)
    second = dispatch.from_app(app, name="second", timeout=1.0)
    try:
        assert [r.id for r in first._claim(now)] == [reminder.id]  # ...and then it dies
        assert second.run_once(now) == 0  # leased to the first
        assert second.run_once(now + first.lease + timedelta(seconds=1)) == 1
        assert fresh(reminder).status == ReminderStatus.SENT
        assert [d.token for d in fake_push.deliveries] == [phone.token]
        # The dead one's late word does not count.
        first._settle([first._settlement(reminder.id, ReminderStatus.PENDING, now, None)])
        db.session.commit()
        assert fresh(reminder).status == ReminderStatus.SENT
    finally:
        first.close()
        second.close()


def test_settings_page_lists_devices_turns_off_and_sends_a_test(
    app, quiet, as_user, me, fake_push, sender
):
    worker = as_user(me)
    phone = subscribe(worker, fake_push)
    page = worker.get("/notifications/settings").get_data(as_text=True)
    assert "Turn on reminders" in page and "Turn off reminders for" in page
    r = worker.post("/notifications/test")
    assert r.status_code == 302
    sender.run_once()
    [delivery] = fake_push.deliveries
    assert delivery.token == phone.token and delivery.payload["title"] == "Homeward test"
    sub_id = db.session.scalar(select(PushSubscription.id))
    assert (
        as_user(colleague_of(me)).post(f"/notifications/subscriptions/{sub_id}/delete").status_code
        == 404
    )
    assert worker.post(f"/notifications/subscriptions/{sub_id}/delete").status_code == 302
    assert db.session.scalar(select(PushSubscription.id)) is None


def test_a_child_moving_authority_moves_the_managers_reminders(app):
    manager = factories.manager()
    interview = factories.interview(manager_=manager)
    other = factories.manager()  # of another authority
    db.session.commit()
    assert f"rhi_overdue@{manager.email}" in reminders_for(interview.id, ReminderStatus.PENDING)
    child = db.session.get(Child, interview.child_id)
    child.responsible_authority_id = other.organisation_id
    db.session.commit()
    rows = reminders_for(interview.id)
    assert rows[f"rhi_overdue@{manager.email}"].status == ReminderStatus.CANCELLED
    assert rows[f"rhi_overdue@{other.email}"].status == ReminderStatus.PENDING


def test_answers_alone_do_not_recompute_reminders(app, me, monkeypatch):
    from webapp.reminders import service

    manager = factories.manager(me.organisation)
    interview = allocated_interview(me, manager_=manager)
    worker2 = colleague_of(me)
    calls = []
    monkeypatch.setattr(service, "refresh", lambda *a, **k: calls.append(a))
    interviews.replace_answers(me, interview, {"overview": "Went to the park"}, source="test")
    assert calls == []
    interviews.allocate(manager, fresh(interview), worker2.id)
    assert calls == [("interview", interview.id)]
