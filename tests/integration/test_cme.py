"""The authority's children-missing-education (CME) officer: the worklist of every school of
their authority (and no other), a case opened or joined from each notification, joint enquiries
and the outcome that closes it; never an interview or the school's enquiry notes. The social
worker and the manager see the school side on the child's page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from tests import factories
from webapp.accounts.models import OrgKind, Role
from webapp.children.models import Child
from webapp.db_types import utcnow
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus
from webapp.schools.absence_models import Enquiry, FollowUp
from webapp.schools.cme_models import CmeCase

H = timedelta(hours=1)
NOTES_CANARY = "Canary-school-note-7731"
JOINT_CANARY = "Canary-joint-enquiry-5519"


@pytest.fixture
def world(app):
    la = factories.local_authority()
    other_la = factories.local_authority()
    north = factories.organisation(OrgKind.SCHOOL, la, name="Northfield Test School")
    south = factories.organisation(OrgKind.SCHOOL, la, name="Southfield Test School")
    far = factories.organisation(OrgKind.SCHOOL, other_la, name="Farway Test School")
    officer = factories.cme_officer(la)
    other_officer = factories.cme_officer(other_la)
    sw = factories.user(Role.SOCIAL_WORKER, authority=la)
    ada = factories.child(la, first_name="Adaline", school_id=north.id, social_worker_id=sw.id)
    bo = factories.child(la, first_name="Bosworth", school_id=south.id)
    cy = factories.child(other_la, first_name="Cyrilla", school_id=far.id)
    quiet = factories.child(la, first_name="Quietus", school_id=north.id)
    now = utcnow()
    n_ada = factories.school_notification(ada, "notify_day10", sent_at=now - 5 * H)
    n_bo = factories.school_notification(bo, "referral", sent_at=now - 2 * H)
    n_cy = factories.school_notification(cy, "joint_enquiries_day20", sent_at=now - H)
    # The school's own step (EWS contacted) is not the authority's worklist.
    n_quiet = factories.school_notification(quiet, "ews_day3", sent_at=now - H)
    db.session.commit()
    return locals()


def _names(body: str, *names: str) -> set[str]:
    return {n for n in names if n in body}


@pytest.mark.both_databases
def test_the_officer_sees_every_school_of_their_authority_and_no_other(as_user, world):
    officer = as_user(world["officer"])
    page = officer.get("/cme/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert _names(body, "Adaline", "Bosworth", "Cyrilla", "Quietus") == {"Adaline", "Bosworth"}
    assert "Northfield Test School" in body and "Southfield Test School" in body
    # Newest first.
    assert body.index("Bosworth") < body.index("Adaline")
    assert "Children missing education" in body  # the navigation

    for child in (world["ada"], world["bo"]):
        assert officer.get(f"/children/{child.id}").status_code == 200
    for child in (world["cy"], world["quiet"]):
        assert officer.get(f"/children/{child.id}").status_code == 404
    # Nor may the officer open a case from another authority's notification.
    assert officer.post(f"/cme/notifications/{world['n_cy'].id}/case").status_code == 404
    assert officer.post(f"/cme/notifications/{world['n_quiet'].id}/case").status_code == 404

    other = as_user(world["other_officer"])
    body = other.get("/cme/").get_data(as_text=True)
    assert _names(body, "Adaline", "Bosworth", "Cyrilla") == {"Cyrilla"}
    assert other.get(f"/children/{world['ada'].id}").status_code == 404
    # Home is the worklist; other roles never reach it.
    assert other.get("/").headers["Location"].endswith("/cme/")
    assert as_user(world["sw"]).get("/cme/").status_code == 404


def test_the_officer_never_reads_an_interview_or_the_schools_enquiry_notes(as_user, world):
    ada = world["ada"]
    interview = factories.interview(
        status=InterviewStatus.AUTHORISED, child_=ada, answers={"why_details": "Canary-RHI-1"}
    )
    followup = FollowUp(child_id=ada.id, school_id=ada.school_id, opened_on=date.today())
    db.session.add(followup)
    db.session.flush()
    db.session.add(
        Enquiry(followup_id=followup.id, at=utcnow(), kind="parent_call", outcome=NOTES_CANARY)
    )
    db.session.commit()
    officer = as_user(world["officer"])
    assert officer.get(f"/interviews/{interview.id}").status_code == 404
    case_url = officer.post(f"/cme/notifications/{world['n_ada'].id}/case").headers["Location"]
    for url in ("/cme/", case_url, f"/children/{ada.id}"):
        body = officer.get(url).get_data(as_text=True)
        assert NOTES_CANARY not in body and "Canary-RHI-1" not in body, url
    # Nor the school's own pages: the timeline, its enquiries.
    assert officer.get(f"/school/pupils/{ada.id}/timeline").status_code == 404
    assert officer.get(f"/school/followups/{followup.id}/enquiries/new").status_code == 404
    # The episode facts are the officer's (their child), the interview is not.
    child_page = officer.get(f"/children/{ada.id}").get_data(as_text=True)
    assert "Return home interviews" not in child_page


@pytest.mark.both_databases
def test_joint_enquiries_and_an_outcome_close_the_case(as_user, world):
    officer = as_user(world["officer"])
    ada = world["ada"]
    opened = officer.post(f"/cme/notifications/{world['n_ada'].id}/case")
    assert opened.status_code == 302
    case_url = opened.headers["Location"]
    case = db.session.scalar(select(CmeCase).where(CmeCase.child_id == ada.id))
    assert case.is_open and case.open_child_id == ada.id
    # A later notification about the same child joins the open case.
    later = factories.school_notification(ada, "joint_enquiries_day20")
    db.session.commit()
    assert officer.post(f"/cme/notifications/{later.id}/case").headers["Location"] == case_url
    page = officer.get(case_url).get_data(as_text=True)
    assert "10-day notification" in page and "20 days" in page

    # A refused enquiry keeps what was typed and says what is missing.
    refused = officer.post(
        f"{case_url}/enquiries",
        {"on": ["3", "2", "2025"], "with_whom": "Kept-typing-42", "action": "", "version": "1"},
    )
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "There is a problem" in body and "Kept-typing-42" in body
    future = (date.today() + timedelta(days=3)).strftime("%d %m %Y").split()
    refused = officer.post(
        f"{case_url}/enquiries",
        {"on": future, "with_whom": "x", "action": "y", "version": "1"},
    )
    assert refused.status_code == 422
    assert "today or in the past" in refused.get_data(as_text=True)

    added = officer.post(
        f"{case_url}/enquiries",
        {
            "on": ["3", "2", "2025"],
            "with_whom": "The school's DSL",
            "action": f"Home visit together {JOINT_CANARY}",
            "outcome": "No answer at the door",
            "version": "1",
        },
    )
    assert added.status_code == 302
    body = officer.get(case_url).get_data(as_text=True)
    assert JOINT_CANARY in body and "3 February 2025" in body
    raw = db.session.execute(
        text("SELECT joint_enquiries_enc FROM cme_cases WHERE id = :id"), {"id": case.id}
    ).scalar_one()
    assert JOINT_CANARY not in raw and "DSL" not in raw

    # A stale version is refused, not merged.
    stale = officer.post(f"{case_url}/outcome", {"outcome": "moved_away", "version": "1"})
    assert stale.status_code == 409
    # "Other" says what.
    other = officer.post(f"{case_url}/outcome", {"outcome": "other", "note": "", "version": "2"})
    assert other.status_code == 422
    closed = officer.post(
        f"{case_url}/outcome",
        {"outcome": "found_other_school", "note": "On roll elsewhere", "version": "2"},
    )
    assert closed.status_code == 302
    db.session.expire_all()
    case = db.session.get(CmeCase, case.id)
    assert case.status == "closed" and case.outcome == "found_other_school"
    assert case.open_child_id is None and case.closed_at is not None
    assert case.outcome_note == "On roll elsewhere"
    page = officer.get(case_url).get_data(as_text=True)
    assert "Found at another school" in page and "Add enquiry" not in page
    # Closed: no more enquiries.
    refused = officer.post(
        f"{case_url}/enquiries",
        {"on": ["3", "2", "2025"], "with_whom": "x", "action": "y", "version": str(case.version)},
    )
    assert refused.status_code == 422

    # A notification after the close is new, and opens the child's next case.
    again = factories.school_notification(ada, "referral", sent_at=utcnow() + H)
    db.session.commit()
    assert ">New<" in officer.get("/cme/").get_data(as_text=True)
    next_url = officer.post(f"/cme/notifications/{again.id}/case").headers["Location"]
    assert next_url != case_url
    assert len(db.session.scalars(select(CmeCase).where(CmeCase.child_id == ada.id)).all()) == 2


def test_at_a_glance_counts_missing_from_home_or_care_in_the_last_12_months(as_user, world):
    ada, bo = world["ada"], world["bo"]
    factories.episode(ada, last_seen_hours_ago=24 * 30)
    factories.episode(ada, last_seen_hours_ago=24 * 200, missing_from="placement")
    factories.episode(ada, last_seen_hours_ago=24 * 400)  # over 12 months ago
    factories.episode(bo, last_seen_hours_ago=24 * 10, missing_from="school")
    db.session.commit()
    officer = as_user(world["officer"])
    body = officer.get("/cme/").get_data(as_text=True)
    assert "Also missing from home or care: 2 times in 12 months" in body
    assert body.count("Also missing from home or care") == 1  # Bosworth's was from school
    case_url = officer.post(f"/cme/notifications/{world['n_ada'].id}/case").headers["Location"]
    assert "2 times in 12 months" in officer.get(case_url).get_data(as_text=True)


def test_social_worker_and_manager_see_the_school_side_without_the_notes(as_user, world):
    ada = world["ada"]
    followup = FollowUp(child_id=ada.id, school_id=ada.school_id, opened_on=date(2025, 3, 3))
    db.session.add(followup)
    db.session.flush()
    db.session.add(
        Enquiry(followup_id=followup.id, at=utcnow(), kind="home_visit", outcome=NOTES_CANARY)
    )
    manager = factories.manager(world["la"])
    carer = factories.carer(world["la"])
    placed = db.session.get(Child, ada.id)
    placed.carer_id = carer.id
    db.session.commit()
    officer = as_user(world["officer"])
    case_url = officer.post(f"/cme/notifications/{world['n_ada'].id}/case").headers["Location"]
    officer.post(
        f"{case_url}/enquiries",
        {"on": ["3", "2", "2025"], "with_whom": "DSL", "action": JOINT_CANARY, "version": "1"},
    )

    for person in (world["sw"], manager):
        body = as_user(person).get(f"/children/{ada.id}").get_data(as_text=True)
        assert "What the school told the authority" in body
        assert "10-day notification sent to the authority" in body
        assert "Absence follow-up open at Northfield Test School since 3 March 2025" in body
        assert "Case open" in body
        assert NOTES_CANARY not in body and JOINT_CANARY not in body
    # The carer sees the child, not the school side.
    body = as_user(carer).get(f"/children/{ada.id}").get_data(as_text=True)
    assert "What the school told the authority" not in body


def test_a_dsls_20_day_notification_reaches_the_officers_worklist_and_reminders(as_user, world):
    from webapp.reminders.models import Reminder

    ada = world["ada"]
    dsl = factories.user(Role.DSL, organisation_=db.session.get(Child, ada.id).school)
    followup = FollowUp(child_id=ada.id, school_id=ada.school_id, opened_on=date.today())
    db.session.add(followup)
    db.session.commit()
    school = as_user(dsl)
    school.get(f"/school/pupils/{ada.id}/timeline")
    sent = school.post(f"/school/followups/{followup.id}/notify/joint_enquiries_day20")
    assert sent.status_code == 302
    body = as_user(world["officer"]).get("/cme/").get_data(as_text=True)
    assert "20 days: authority notified for joint enquiries" in body
    # The officers of the school's authority, not the other authority's (told of their own).
    told = db.session.scalars(
        select(Reminder).where(
            Reminder.kind == "cme_day20", Reminder.subject_id != world["n_cy"].id
        )
    ).all()
    assert [r.recipient_id for r in told] == [world["officer"].id]
