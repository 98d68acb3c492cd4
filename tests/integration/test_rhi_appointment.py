"""The return interview's appointment: the allocated worker or a manager arranges it on the
interview page; the child's carer is told it is arranged and, with the worker, reminded 2 hours
before; re-arranging re-times, cancelling or finishing the interview cancels; the carer sees when
and where on the child's page but can neither arrange it nor open the interview; the place is
sealed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests import factories
from tests.integration.helpers import fresh
from webapp import deadlines
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.db_types import utcnow
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db
from webapp.interviews import service as interviews
from webapp.reminders.models import Reminder, ReminderStatus

H = timedelta(hours=1)
CANARY = "Canary-7f3a Flat 2 Mill Lane"


def local(dt):
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


def minute(dt):
    return dt.replace(second=0, microsecond=0)


@pytest.fixture
def people(app):
    carer = factories.carer()
    child = factories.placed_child(carer, first_name="Amara", last_name="Okafor")
    authority = child.responsible_authority
    worker = factories.worker(authority)
    manager = factories.manager(authority)
    social_worker = factories.user(Role.SOCIAL_WORKER, authority=authority)
    child.social_worker_id = social_worker.id
    interview = factories.interview(
        worker_=worker, manager_=manager, child_=child, returned_hours_ago=2
    )
    db.session.commit()
    return {
        "carer": carer,
        "child": child,
        "worker": worker,
        "manager": manager,
        "sw": social_worker,
        "interview": interview,
    }


def appointment_rows(interview_id, status=None) -> dict[str, Reminder]:
    db.session.expire_all()
    q = select(Reminder).where(
        Reminder.subject_id == interview_id,
        Reminder.kind.in_(("rhi_arranged", "rhi_appointment")),
    )
    if status:
        q = q.where(Reminder.status == status)
    return {f"{r.kind}@{r.recipient_id}": r for r in db.session.scalars(q)}


def arrange_form(at, place=CANARY):
    return {"appointment_at": local(at) if at else "", "place": place}


@pytest.mark.both_databases
def test_worker_arranges_carer_and_worker_are_reminded_and_rearranging_retimes(as_user, people):
    carer, worker, interview = people["carer"], people["worker"], people["interview"]
    at = minute(utcnow() + 26 * H)
    page = as_user(worker)
    before = utcnow()
    r = page.post(f"/interviews/{interview.id}/appointment", arrange_form(at))
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]

    shown = page.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "Arrange the interview" in shown
    assert CANARY in shown

    pending = appointment_rows(interview.id, ReminderStatus.PENDING)
    assert set(pending) == {
        f"rhi_arranged@{carer.id}",
        f"rhi_appointment@{carer.id}",
        f"rhi_appointment@{worker.id}",
    }
    told = pending[f"rhi_arranged@{carer.id}"]
    assert before - H / 60 <= told.due_at <= utcnow()
    assert told.body == (
        "A return interview has been arranged for a child placed with you: "
        "open Homeward for the time."
    )
    soon = pending[f"rhi_appointment@{carer.id}"]
    assert soon.due_at == at - 2 * H and soon.stale_at == at
    assert soon.body == "A return interview is in 2 hours."
    assert pending[f"rhi_appointment@{worker.id}"].due_at == at - 2 * H
    for row in pending.values():  # nothing of the child, the place or the time of day
        for words in (row.title, row.body):
            assert "Amara" not in words and "Okafor" not in words and "Canary" not in words
            assert deadlines.to_local(at).strftime("%H:%M") not in words

    # Re-arranged a day later: the two-hour reminders move, the carer is told again.
    later = at + 24 * H
    r = page.post(f"/interviews/{interview.id}/appointment", arrange_form(later, "School"))
    assert r.status_code == 302
    pending = appointment_rows(interview.id, ReminderStatus.PENDING)
    assert pending[f"rhi_appointment@{carer.id}"].due_at == later - 2 * H
    assert pending[f"rhi_appointment@{worker.id}"].due_at == later - 2 * H
    assert f"rhi_arranged@{carer.id}" in pending
    # One pending reminder per kind and person: the old time's ones are cancelled.
    keys = [
        r.key
        for r in db.session.scalars(
            select(Reminder).where(
                Reminder.subject_id == interview.id,
                Reminder.kind == "rhi_appointment",
                Reminder.status == ReminderStatus.PENDING,
            )
        )
    ]
    assert len(keys) == 2

    # Cancelled: every appointment reminder still pending goes.
    r = page.post(f"/interviews/{interview.id}/appointment", {"cancel": "1"})
    assert r.status_code == 302
    assert appointment_rows(interview.id, ReminderStatus.PENDING) == {}
    assert fresh(interview).appointment_at is None
    assert fresh(interview).appointment_place is None
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "arrange", AuditEvent.object_id == interview.id
        )
    )


def test_arranged_at_short_notice_the_worker_hears_it_is_soon(people):
    carer, worker, interview = people["carer"], people["worker"], people["interview"]
    at = minute(utcnow() + H)
    interviews.arrange(worker, interview, at, None)
    pending = appointment_rows(interview.id, ReminderStatus.PENDING)
    # The carer is told it is arranged (once, at once); the worker that it is soon.
    assert set(pending) == {f"rhi_arranged@{carer.id}", f"rhi_appointment@{worker.id}"}
    assert pending[f"rhi_appointment@{worker.id}"].body == (
        "A return interview is in less than 2 hours."
    )
    assert pending[f"rhi_arranged@{carer.id}"].stale_at == at


@pytest.mark.both_databases
def test_a_carer_cannot_arrange_or_open_the_interview_but_sees_when_and_where(as_user, people):
    carer, interview, child = people["carer"], people["interview"], people["child"]
    at = minute(utcnow() + 30 * H)
    phone = as_user(carer)
    r = phone.post(f"/interviews/{interview.id}/appointment", arrange_form(at))
    assert r.status_code == 404
    assert phone.get(f"/interviews/{interview.id}").status_code == 404
    assert fresh(interview).appointment_at is None
    with pytest.raises(NotAllowed):
        interviews.arrange(carer, fresh(interview), at, None)
    # Nor the social worker, nor a manager of another authority.
    assert (
        as_user(people["sw"])
        .post(f"/interviews/{interview.id}/appointment", arrange_form(at))
        .status_code
        == 404
    )
    stranger = factories.manager()
    db.session.commit()
    with pytest.raises(NotAllowed):
        interviews.arrange(stranger, fresh(interview), at, None)

    # A manager of the child arranges it; the carer's page for the child shows when and where.
    interviews.arrange(people["manager"], fresh(interview), at, CANARY)
    page = phone.get(f"/children/{child.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert (
        f"Return interview arranged: {deadlines.to_local(at).strftime('%a %-d %b %Y, %H:%M')}"
        in (html)
    )
    assert CANARY in html
    assert "no-store" in page.headers["Cache-Control"]
    # The page's title names nothing.
    assert "<title>Child record" in html
    # Reading the sealed place is audited.
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.object_id == interview.id,
            AuditEvent.detail == "appointment",
            AuditEvent.user_id == carer.id,
        )
    )
    # A carer of another child sees nothing of it.
    other = factories.carer()
    db.session.commit()
    assert as_user(other).get(f"/children/{child.id}").status_code == 404

    # The carer's notification lands on the child's page, never the interview.
    row = appointment_rows(interview.id)[f"rhi_arranged@{carer.id}"]
    landing = phone.get(f"/notifications/{row.id}")
    assert landing.status_code == 302
    assert landing.headers["Location"].endswith(f"/children/{child.id}")


@pytest.mark.both_databases
def test_the_place_is_sealed(people):
    interview = people["interview"]
    interviews.arrange(people["worker"], interview, minute(utcnow() + 5 * H), CANARY)
    db.session.expire_all()
    raw = db.session.execute(
        text("SELECT * FROM interviews WHERE id = :id"), {"id": interview.id}
    ).one()
    assert not any(CANARY in str(v) for v in raw)
    assert "Mill Lane" not in " ".join(str(v) for v in raw)
    assert fresh(interview).appointment_place == CANARY


def test_rules_are_kept_and_what_was_typed_stays(as_user, people):
    worker, interview = people["worker"], people["interview"]
    page = as_user(worker)
    past = utcnow() - 2 * H
    r = page.post(f"/interviews/{interview.id}/appointment", arrange_form(past, "Kept place"))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "govuk-error-summary" in html
    assert "The appointment must be in the future" in html
    assert 'value="Kept place"' in html
    assert local(past) in html

    r = page.post(f"/interviews/{interview.id}/appointment", arrange_form(None, "Somewhere"))
    assert r.status_code == 422
    assert "Enter the date and time of the interview" in r.get_data(as_text=True)

    at = utcnow() + 3 * H
    r = page.post(f"/interviews/{interview.id}/appointment", arrange_form(at, "x" * 201))
    assert r.status_code == 422
    assert "200 characters or fewer" in r.get_data(as_text=True)
    with pytest.raises(RuleError):
        interviews.arrange(worker, fresh(interview), at, "x" * 201)
    assert fresh(interview).appointment_at is None
    # Just typed, a minute or two ago, is still now; after the 72-hour due time is allowed.
    interviews.arrange(worker, fresh(interview), utcnow() - 2 * timedelta(minutes=1), None)
    interviews.arrange(worker, fresh(interview), fresh(interview).due_at + 24 * H, None)


@pytest.mark.both_databases
def test_submitting_the_interview_cancels_the_appointment_reminders(people):
    worker, interview = people["worker"], people["interview"]
    interviews.arrange(worker, interview, minute(utcnow() + 30 * H), "Home")
    assert len(appointment_rows(interview.id, ReminderStatus.PENDING)) == 3
    section = next(s for s in interviews.SECTIONS if "offered" in s.names)
    interviews.save_section(
        worker,
        fresh(interview),
        section,
        {"offered": "Y", "outcome": "declined", "decline_reason": "No", "attempts": "Twice"},
    )
    assert interviews.submit(worker, fresh(interview)) == []
    assert appointment_rows(interview.id, ReminderStatus.PENDING) == {}
    # No longer open: nothing more to arrange.
    with pytest.raises(RuleError):
        interviews.arrange(worker, fresh(interview), minute(utcnow() + 40 * H), None)


def test_a_new_carer_gets_the_reminders_instead(people):
    interview, child = people["interview"], people["child"]
    interviews.arrange(people["worker"], interview, minute(utcnow() + 30 * H), None)
    new_carer = factories.carer()
    db.session.commit()
    child = fresh(child)
    child.carer_id = new_carer.id
    db.session.commit()
    pending = appointment_rows(interview.id, ReminderStatus.PENDING)
    assert f"rhi_appointment@{new_carer.id}" in pending
    assert f"rhi_appointment@{people['carer'].id}" not in pending
