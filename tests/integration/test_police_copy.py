"""The police copy of an authorised interview (issue 13): the intelligence section only, as a
printable page for a manager of the child, audited, with its sending recorded from the page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.helpers import fresh
from webapp import deadlines, sealed
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.db_types import utcnow
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus

pytestmark = pytest.mark.both_databases

INTEL = "Older male called Dex, silver Astra, flat above the takeaway"
ACCOUNT = "Argued with her foster carer about her phone"


@pytest.fixture
def world(app):
    la = factories.local_authority()
    manager = factories.manager(la)
    worker = factories.worker(la)
    child = factories.child(la)
    answers = {
        "intelligence": INTEL,
        "consent_to_share": "yes",
        "share_with": "Police missing person coordinator",
        "why_details": ACCOUNT,
        "overview": "Stayed two nights at a flat",
    }
    authorised = factories.interview(
        child_=child,
        worker_=worker,
        manager_=manager,
        status=InterviewStatus.AUTHORISED,
        returned_hours_ago=60,
        answers=answers,
    )
    # The service keeps the intelligence apart from the rest of the answers.
    authorised.intelligence_enc = sealed.seal(INTEL, "interview", authorised.id, "intelligence")
    submitted = factories.interview(
        child_=child, worker_=worker, manager_=manager, status=InterviewStatus.SUBMITTED
    )
    db.session.commit()
    return {
        "manager": manager,
        "worker": worker,
        "authorised": authorised,
        "submitted": submitted,
        "la": la,
    }


def test_the_copy_holds_the_intelligence_and_nothing_of_the_childs_account(as_user, world):
    interview = world["authorised"]
    manager = as_user(world["manager"])
    show = manager.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "Open the police copy to print" in show
    page = manager.get(f"/interviews/{interview.id}/police-copy")
    assert page.status_code == 200
    assert "no-store" in page.headers["Cache-Control"]
    html = page.get_data(as_text=True)
    assert INTEL in html and "Police missing person coordinator" in html
    assert ACCOUNT not in html and "Stayed two nights" not in html
    assert "<title>Police copy of a return interview" in html  # no name in the title
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "view",
            AuditEvent.object_type == "police_copy",
            AuditEvent.object_id == interview.id,
        )
    )

    # The sending is recorded from the same page.
    when = deadlines.to_local(utcnow()).strftime("%Y-%m-%dT%H:%M")
    r = manager.post(f"/interviews/{interview.id}/forwarded", {"forwarded_at": when})
    assert r.status_code == 302
    assert fresh(interview).forwarded_to_police_at is not None
    again = manager.get(f"/interviews/{interview.id}/police-copy").get_data(as_text=True)
    assert "Recorded as forwarded to the police" in again
    assert "print again" in manager.get(f"/interviews/{interview.id}").get_data(as_text=True)


def test_only_an_authorised_interview_has_a_copy(as_user, world):
    submitted = world["submitted"]
    r = as_user(world["manager"]).get(
        f"/interviews/{submitted.id}/police-copy", follow_redirects=True
    )
    assert "Authorise the interview before forwarding it" in r.get_data(as_text=True)


def test_only_a_manager_of_the_child(as_user, world):
    url = f"/interviews/{world['authorised'].id}/police-copy"
    assert as_user(world["worker"]).get(url).status_code in (403, 404)
    other = factories.manager()
    sw = factories.user(Role.SOCIAL_WORKER, authority=world["la"])
    db.session.commit()
    assert as_user(other).get(url).status_code == 404
    assert as_user(sw).get(url).status_code in (403, 404)
