"""The Hertfordshire model: a looked-after child's own social worker may hold the child's return
interview, allocated by a manager or taken while it awaits allocation, and may pass it on to a
return interview worker (or back to the team). Through the real web pages and the sync API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.helpers import fresh
from tests.integration.test_sync_api import Device, mutation
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.children.models import LegalStatus
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus

pytestmark = pytest.mark.both_databases

DECLINED = {
    "offered": "Y",
    "outcome": "declined",
    "decline_reason": "Did not want to talk to anyone new",
    "attempts": "Visited the placement twice",
}


@pytest.fixture
def la(app):
    return factories.local_authority()


@pytest.fixture
def people(la):
    sw = factories.user(Role.SOCIAL_WORKER, authority=la)
    other_sw = factories.user(Role.SOCIAL_WORKER, authority=la)
    manager = factories.manager(la)
    worker = factories.worker(la)
    db.session.commit()
    return {"sw": sw, "other_sw": other_sw, "manager": manager, "worker": worker}


def _interview(la, people, *, looked_after=True, status=InterviewStatus.AWAITING_ALLOCATION):
    child = factories.child(
        la,
        legal_status=LegalStatus.LOOKED_AFTER if looked_after else LegalStatus.NONE,
        social_worker_id=people["sw"].id,
    )
    interview = factories.interview(
        child_=child,
        status=status,
        manager_=people["manager"],
        worker_=people["worker"] if status != InterviewStatus.AWAITING_ALLOCATION else None,
    )
    db.session.commit()
    return interview


def test_a_manager_allocates_a_looked_after_childs_interview_to_the_social_worker(
    as_user, la, people
):
    interview = _interview(la, people)
    manager = as_user(people["manager"])
    page = manager.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert f"{people['sw'].name} (the child&#39;s social worker)" in page
    assert people["other_sw"].name not in page  # only the child's own

    r = manager.post(f"/interviews/{interview.id}/allocate", {"worker_id": people["sw"].id})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert fresh(interview).allocated_to_id == people["sw"].id

    # The social worker finds it in My returns, fills it in and sends it for authorisation.
    sw = as_user(people["sw"])
    returns = sw.get("/returns")
    assert returns.status_code == 200
    assert interview.child.first_name in returns.get_data(as_text=True)
    r = sw.post(f"/interviews/{interview.id}/sections/arrangements", DECLINED)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    # What they wrote is theirs to read while they hold it.
    section = sw.get(f"/interviews/{interview.id}/sections/arrangements")
    assert "Visited the placement twice" in section.get_data(as_text=True)
    r = sw.post(f"/interviews/{interview.id}/submit")
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    done = fresh(interview)
    assert done.status == InterviewStatus.SUBMITTED
    assert done.completed_by_id == people["sw"].id
    r = manager.post(f"/interviews/{interview.id}/review", {"decision": "authorise"})
    assert r.status_code == 302
    assert fresh(interview).status == InterviewStatus.AUTHORISED


def test_not_for_a_child_who_is_not_looked_after(as_user, la, people):
    interview = _interview(la, people, looked_after=False)
    manager = as_user(people["manager"])
    assert people["sw"].name not in manager.get(f"/interviews/{interview.id}").get_data(
        as_text=True
    )
    r = manager.post(f"/interviews/{interview.id}/allocate", {"worker_id": people["sw"].id})
    assert r.status_code == 422
    assert fresh(interview).allocated_to_id is None
    sw = as_user(people["sw"])
    page = sw.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "Hold it myself" not in page
    assert sw.post(f"/interviews/{interview.id}/take").status_code == 404
    assert fresh(interview).status == InterviewStatus.AWAITING_ALLOCATION


def test_the_social_worker_takes_it_while_it_awaits_allocation(as_user, la, people):
    interview = _interview(la, people)
    sw = as_user(people["sw"])
    page = sw.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "Hold it myself" in page
    r = sw.post(f"/interviews/{interview.id}/take")
    assert r.status_code == 302
    taken = fresh(interview)
    assert (taken.status, taken.allocated_to_id) == (InterviewStatus.ALLOCATED, people["sw"].id)
    assert taken.allocated_by_id == people["sw"].id
    assert db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "take", AuditEvent.object_id == interview.id)
    )
    # Another social worker (not the child's) never sees it; a second tap says it is allocated.
    assert as_user(people["other_sw"]).post(f"/interviews/{interview.id}/take").status_code == 404
    again = sw.post(f"/interviews/{interview.id}/take", follow_redirects=True)
    assert "already been allocated" in again.get_data(as_text=True)


def test_taken_meanwhile_by_a_manager_leaves_the_allocation_alone(as_user, la, people):
    interview = _interview(la, people)
    sw = as_user(people["sw"])
    sw.get(f"/interviews/{interview.id}")
    manager = as_user(people["manager"])
    manager.post(f"/interviews/{interview.id}/allocate", {"worker_id": people["worker"].id})
    r = sw.post(f"/interviews/{interview.id}/take", follow_redirects=True)
    assert "already been allocated" in r.get_data(as_text=True)
    assert fresh(interview).allocated_to_id == people["worker"].id


def test_passing_it_to_a_worker_and_to_the_team(as_user, la, people):
    interview = _interview(la, people)
    sw = as_user(people["sw"])
    sw.post(f"/interviews/{interview.id}/take")
    page = sw.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "Pass it on" in page and people["worker"].name in page

    # A person who is not a return interview worker is refused, saying so; nothing changes.
    r = sw.post(f"/interviews/{interview.id}/pass-on", {"worker_id": people["manager"].id})
    assert r.status_code == 422
    assert "Choose a return interview worker from the list" in r.get_data(as_text=True)
    assert fresh(interview).allocated_to_id == people["sw"].id

    r = sw.post(f"/interviews/{interview.id}/pass-on", {"worker_id": people["worker"].id})
    assert r.status_code == 302
    passed = fresh(interview)
    assert (passed.status, passed.allocated_to_id) == (
        InterviewStatus.ALLOCATED,
        people["worker"].id,
    )
    worker_returns = as_user(people["worker"]).get("/returns").get_data(as_text=True)
    assert interview.child.first_name in worker_returns
    # No longer theirs: the social worker no longer reads it, nor passes it on again.
    assert "You can read the interview once" in sw.get(f"/interviews/{interview.id}").get_data(
        as_text=True
    )
    assert sw.post(f"/interviews/{interview.id}/pass-on", {"worker_id": ""}).status_code == 404

    # Held again (a manager allocates it back), then passed to the team: it awaits allocation.
    as_user(people["manager"]).post(
        f"/interviews/{interview.id}/allocate", {"worker_id": people["sw"].id}
    )
    r = sw.post(f"/interviews/{interview.id}/pass-on", {"worker_id": ""})
    assert r.status_code == 302
    back = fresh(interview)
    assert (back.status, back.allocated_to_id) == (InterviewStatus.AWAITING_ALLOCATION, None)
    # The deadline is the return's: passing it on never moves the clock.
    assert back.due_at == interview.due_at


def test_once_sent_for_authorisation_it_cannot_be_passed_on(as_user, la, people):
    interview = _interview(la, people)
    sw = as_user(people["sw"])
    sw.post(f"/interviews/{interview.id}/take")
    sw.post(f"/interviews/{interview.id}/sections/arrangements", DECLINED)
    sw.post(f"/interviews/{interview.id}/submit")
    r = sw.post(f"/interviews/{interview.id}/pass-on", {"worker_id": people["worker"].id})
    assert r.status_code == 422
    assert "not yet sent for authorisation" in r.get_data(as_text=True)
    assert fresh(interview).status == InterviewStatus.SUBMITTED


def test_the_social_workers_phone_holds_only_what_they_hold(as_user, la, people):
    held = _interview(la, people)
    as_user(people["sw"]).post(f"/interviews/{held.id}/take")
    # The same social worker's other looked-after child, allocated to a worker: not on the phone.
    _interview(la, people, status=InterviewStatus.ALLOCATED)
    phone = Device(as_user(people["sw"]))
    changes = phone.pull().json["changes"]
    interviews = [c for c in changes if c["record_type"] == "interview"]
    assert [c["record_id"] for c in interviews] == [held.id]
    actions = [a["action"] for a in interviews[0]["payload"]["actions"]]
    assert actions == ["edit", "submit", "pass_on"]

    version = fresh(held).version
    (result,) = phone.push([mutation(held.id, version, DECLINED, submit=True)]).json["results"]
    assert result["status"] == "applied", result
    assert fresh(held).status == InterviewStatus.SUBMITTED
