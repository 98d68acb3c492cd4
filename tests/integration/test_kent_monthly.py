"""Kent's monthly meetings while a looked-after child stays missing (issue 12): each month's
meeting is a task of its own, recorded from its own page; the next month's is listed to plan,
and all close themselves when the child is back."""

from __future__ import annotations

import pytest

from tests import factories
from webapp import deadlines
from webapp.children.models import LegalStatus
from webapp.db_types import utcnow
from webapp.episodes import escalations
from webapp.extensions import db

pytestmark = pytest.mark.both_databases


def test_each_months_meeting_is_recorded_on_its_own(as_user, app):
    authority = factories.local_authority()
    manager = factories.manager(authority)
    child = factories.child(authority, legal_status=LegalStatus.LOOKED_AFTER)
    episode = factories.episode(child, last_seen_hours_ago=35 * 24, missing_hours=None)
    db.session.commit()
    browser = as_user(manager)
    board = browser.get("/manage/").get_data(as_text=True)
    assert "Monthly missing-from-care meeting" in board
    r = browser.post(
        f"/episodes/{episode.id}/escalations/lac_monthly_meeting:1",
        {
            "kind": "held",
            "done_at": deadlines.to_local(utcnow()).strftime("%Y-%m-%dT%H:%M"),
            "who": "Social worker, team manager, police missing person coordinator",
            "note": "Search continues; placement kept open",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    states = {t.code: t.state for t in escalations.episode_tasks(episode, utcnow())}
    assert states["lac_monthly_meeting:1"] == "done"
    assert states["lac_monthly_meeting:2"] == "open"  # next month's, to plan
    assert (
        browser.get(f"/episodes/{episode.id}/escalations/lac_monthly_meeting:9").status_code == 404
    )


def test_each_months_meeting_reminds_the_managers_until_recorded(as_user, app):
    """The month's reminder is made by the real hooks when the episode is recorded, named by its
    month, and recording that month's meeting cancels it (the next month's stays pending)."""
    from sqlalchemy import select

    from webapp.reminders.models import Reminder, ReminderStatus

    authority = factories.local_authority()
    manager = factories.manager(authority)
    child = factories.child(authority, legal_status=LegalStatus.LOOKED_AFTER)
    # Missing 30 days and 2 hours: the first month's meeting fell due two hours ago.
    episode = factories.episode(child, last_seen_hours_ago=30 * 24 + 2, missing_hours=None)
    db.session.commit()

    def monthly():
        db.session.expire_all()
        return {
            r.key: r.status
            for r in db.session.scalars(
                select(Reminder).where(
                    Reminder.kind == "lac_monthly_meeting", Reminder.recipient_id == manager.id
                )
            )
        }

    first = f"lac_monthly_meeting:{episode.id}.1:{manager.id}"
    second = f"lac_monthly_meeting:{episode.id}.2:{manager.id}"
    assert monthly() == {first: ReminderStatus.PENDING, second: ReminderStatus.PENDING}
    r = as_user(manager).post(
        f"/episodes/{episode.id}/escalations/lac_monthly_meeting:1",
        {
            "kind": "held",
            "done_at": deadlines.to_local(utcnow()).strftime("%Y-%m-%dT%H:%M"),
            "who": "Social worker, team manager",
            "note": "Search continues",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    after = monthly()
    assert after.get(first, ReminderStatus.CANCELLED) == ReminderStatus.CANCELLED
    assert after[second] == ReminderStatus.PENDING
