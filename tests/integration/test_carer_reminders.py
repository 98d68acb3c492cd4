"""The carers' reminders through the real stack: episodes and plans written to the database, the
commit hook keeping reminder rows in step (webapp/reminders/hooks.py), the schedule's words.

The carer is told at the plan's police threshold while the child is not back and police are not
told; the social worker hears of missing and back; managers of both authorities hear a return
needs allocating until it is; a plan review falls due to carer and social worker, and overdue
ones are on the manager's page. Away episodes raise no Need to Know."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.helpers import fresh
from webapp.accounts.models import Role
from webapp.carers import plans
from webapp.carers.models import RiskPlan
from webapp.db_types import utcnow
from webapp.episodes.models import Episode, EpisodeStatus
from webapp.extensions import db
from webapp.interviews import service as interviews
from webapp.reminders.models import Reminder, ReminderStatus

pytestmark = pytest.mark.both_databases

H = timedelta(hours=1)


@pytest.fixture
def people(app):
    authority = factories.local_authority()
    host = factories.local_authority()
    carer = factories.user(Role.CARER, authority=authority)
    social_worker = factories.user(Role.SOCIAL_WORKER, authority=authority)
    manager = factories.manager(authority)
    host_manager = factories.manager(host)
    child = factories.child(
        authority,
        first_name="Amara",
        last_name="Okafor",
        date_of_birth=date(2011, 5, 14),  # 14 or 15: the plan's hours apply
        carer_id=carer.id,
        social_worker_id=social_worker.id,
        host_authority_id=host.id,
        legal_status="looked_after",
    )
    db.session.commit()
    return {
        "carer": carer,
        "sw": social_worker,
        "manager": manager,
        "host_manager": host_manager,
        "child": child,
        "authority": authority,
    }


def with_plan(people, hours: int) -> RiskPlan:
    return plans.save_plan(people["sw"], people["child"], {"report_after_hours": str(hours)})


def not_back(child, due_back, **kw) -> Episode:
    episode = Episode(
        child_id=child.id,
        reported_type=kw.pop("reported_type", "not_back"),
        missing_from="placement",
        last_seen_at=due_back - 3 * H,
        due_back_at=due_back,
        status=EpisodeStatus.MISSING,
        **kw,
    )
    db.session.add(episode)
    db.session.commit()
    return episode


def rows(subject_id, status=None) -> dict[str, Reminder]:
    db.session.expire_all()
    q = select(Reminder).where(Reminder.subject_id == subject_id)
    if status:
        q = q.where(Reminder.status == status)
    return {f"{r.kind}@{r.recipient_id}": r for r in db.session.scalars(q)}


def test_the_carer_is_told_at_the_plans_threshold_until_police_are_told(people):
    carer = people["carer"]
    with_plan(people, 2)
    due_back = utcnow() - H
    episode = not_back(people["child"], due_back)
    pending = rows(episode.id, ReminderStatus.PENDING)
    police = pending[f"police_report_due@{carer.id}"]
    assert police.due_at == due_back + 2 * H
    assert police.urgency == "high"
    # Kept by the push service for a phone out of signal until it stops being useful.
    assert police.ttl_seconds == 24 * 3600 and police.stale_at == police.due_at + 24 * H
    assert police.body == "2 hours past due back: the plan says report to police now."
    for text in (police.title, police.body):
        assert "Amara" not in text and "Okafor" not in text

    # The plan changes to 4 hours: re-timed.
    plan = fresh(db.session.get(RiskPlan, people["child"].id))
    plans.save_plan(people["carer"], people["child"], {"report_after_hours": "4"})
    assert rows(episode.id)[f"police_report_due@{carer.id}"].due_at == due_back + 4 * H
    assert plan is not None

    # Police told: nothing more to remind the carer of.
    episode = fresh(episode)
    episode.reported_to_police_at = utcnow()
    db.session.commit()
    assert rows(episode.id)[f"police_report_due@{carer.id}"].status == ReminderStatus.CANCELLED


def test_twelve_and_under_or_no_plan_is_at_once(people):
    child = fresh(people["child"])
    child.date_of_birth = date.today().replace(year=date.today().year - 12)
    db.session.commit()
    with_plan(people, 6)
    due_back = utcnow() - H
    episode = not_back(child, due_back)
    police = rows(episode.id)[f"police_report_due@{people['carer'].id}"]
    assert police.due_at == due_back
    assert police.body == "Not back when expected: the plan says report to police now."

    # Thirteen (the date corrected): the plan's 6 hours apply.
    child = fresh(child)
    child.date_of_birth = date(2011, 5, 14)
    db.session.commit()
    assert rows(episode.id)[f"police_report_due@{people['carer'].id}"].due_at == due_back + 6 * H


def test_no_plan_means_at_once(people):
    due_back = utcnow() - H
    episode = not_back(people["child"], due_back)
    assert rows(episode.id)[f"police_report_due@{people['carer'].id}"].due_at == due_back


def test_away_raises_no_need_to_know_and_no_police_threshold(people):
    with_plan(people, 2)
    episode = not_back(people["child"], utcnow() - 30 * H, reported_type="away")
    kinds = {k.split("@")[0] for k in rows(episode.id)}
    assert "need_to_know" not in kinds and "police_report_due" not in kinds
    assert "intervention_meeting" not in kinds
    sw = rows(episode.id)[f"sw_missing@{people['sw'].id}"]
    assert sw.body == "A child you are the social worker for is away from placement."

    # The carer changes it to missing: the escalations apply after all.
    episode = fresh(episode)
    episode.reported_type = "missing"
    db.session.commit()
    kinds = {k.split("@")[0] for k in rows(episode.id, ReminderStatus.PENDING)}
    assert "need_to_know" in kinds
    # (The police threshold fell 28 hours ago: a day stale, the escalations have taken over.)
    assert "police_report_due" not in kinds


def test_social_worker_and_managers_hear_of_the_return_until_it_is_allocated(people):
    episode = not_back(people["child"], utcnow() - 5 * H)
    sw, manager, host = people["sw"], people["manager"], people["host_manager"]
    missing = rows(episode.id)[f"sw_missing@{sw.id}"]
    assert missing.body == "A child you are the social worker for has been reported missing."
    assert missing.urgency == "high"

    from webapp.episodes import service as episodes

    back = utcnow() - H
    interview = episodes.record_return(manager, fresh(episode), back, "own_accord")
    got = rows(episode.id, ReminderStatus.PENDING)
    assert got[f"sw_returned@{sw.id}"].due_at == back
    for m in (manager, host):
        to_allocate = got[f"rhi_to_allocate@{m.id}"]
        assert to_allocate.due_at == back
        assert to_allocate.body == "A child is back: a return interview needs allocating."
    # Back: the carer's threshold is no longer wanted.
    assert f"police_report_due@{people['carer'].id}" not in got

    worker = factories.worker(people["authority"])
    db.session.commit()
    interviews.allocate(manager, fresh(interview), worker.id)
    after = rows(episode.id)
    for m in (manager, host):
        assert after[f"rhi_to_allocate@{m.id}"].status == ReminderStatus.CANCELLED


def test_a_plan_review_falls_due_and_an_overdue_one_is_on_the_managers_page(people, as_user):
    child = people["child"]
    with_plan(people, 2)
    plans.sign_plan(people["carer"], child)
    plan = plans.sign_plan(people["sw"], child)
    got = rows(child.id, ReminderStatus.PENDING)
    for who in (people["carer"], people["sw"]):
        r = got[f"plan_review_due@{who.id}"]
        assert r.due_at == plan.review_due_at and r.subject_type == "plan"
        assert r.body == "A child's risk assessment and action plan is due for review."

    page = as_user(people["manager"]).get("/manage/").get_data(as_text=True)
    assert "Risk plan reviews overdue (0)" in page

    plan = fresh(plan)
    plan.reviewed_at = utcnow() - 200 * 24 * H
    db.session.commit()
    plan = fresh(plan)
    assert plan.review_due_at < utcnow()  # recomputed by the hook from the last review
    page = as_user(people["manager"]).get("/manage/").get_data(as_text=True)
    assert "Risk plan reviews overdue (1)" in page
    assert f"/children/{child.id}/plan" in page
    # Another authority's manager sees nothing of it.
    other = factories.manager()
    db.session.commit()
    assert "Risk plan reviews overdue (0)" in as_user(other).get("/manage/").get_data(as_text=True)
