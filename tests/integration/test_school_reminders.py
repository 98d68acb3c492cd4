"""The schools' reminders through the one schedule: the DSLs' day-3, day-10 and day-20 steps of
an open follow-up, counted in the school's own days (terms, closures, bank holidays) and gone
once done or closed; a checklist yes with no referral an hour later; the authority's CME officers
told of a 20-day notification. Fixed words: nothing about the child or the school."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from webapp import deadlines
from webapp.accounts.models import OrgKind, Role
from webapp.db_types import utcnow
from webapp.extensions import db
from webapp.reminders.models import Reminder, ReminderStatus
from webapp.schools.absence_models import FollowUp, Referral
from webapp.schools.calendar_models import SchoolClosure, SchoolTerm
from webapp.schools.days import england_bank_holidays

DAY = timedelta(days=1)
SCHOOL_KINDS = ("school_ews_day3", "school_notify_day10", "school_joint_day20")


def nine_am(d: date) -> datetime:
    return deadlines.local_to_utc(datetime.combine(d, time(9, 0)))


def pending(subject_id: str) -> dict[str, Reminder]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(Reminder).where(
            Reminder.subject_id == subject_id, Reminder.status == ReminderStatus.PENDING
        )
    )
    return {f"{r.kind}@{r.recipient_id}": r for r in rows}


def quiet_monday() -> date:
    """A Monday at least a week ahead with no bank holiday in the five weeks from it, so the
    counts below are about the school's own calendar."""
    d = date.today() + timedelta(days=7)
    d += timedelta(days=(7 - d.weekday()) % 7)
    while True:
        window = {d + timedelta(days=i) for i in range(36)}
        if not window & england_bank_holidays({d.year, d.year + 1}):
            return d
        d += timedelta(days=7)


@pytest.fixture
def school(app):
    la = factories.local_authority()
    school = factories.organisation(OrgKind.SCHOOL, la, name="Larkspur Test Academy")
    other_school = factories.organisation(OrgKind.SCHOOL, la)
    dsl = factories.user(Role.DSL, organisation_=school)
    dsl2 = factories.user(Role.DSL, organisation_=school)
    other_dsl = factories.user(Role.DSL, organisation_=other_school)
    officer = factories.cme_officer(la)
    other_officer = factories.cme_officer(factories.local_authority())
    pupil = factories.child(la, first_name="Wrenna", last_name="Halloway", school_id=school.id)
    monday = quiet_monday()
    # A term around the five weeks, and an INSET day on the first Wednesday.
    db.session.add(
        SchoolTerm(
            school_id=school.id,
            name="Test term",
            starts_on=monday - 14 * DAY,
            ends_on=monday + 60 * DAY,
        )
    )
    db.session.add(SchoolClosure(school_id=school.id, on=monday + 2 * DAY, reason="INSET day"))
    db.session.commit()
    return locals()


def _followup(s, **kw) -> FollowUp:
    f = FollowUp(child_id=s["pupil"].id, school_id=s["school"].id, opened_on=s["monday"], **kw)
    db.session.add(f)
    db.session.commit()
    return f


def test_the_steps_fall_on_the_school_days_of_the_schools_calendar(school):
    f = _followup(school)
    monday, dsl, dsl2 = school["monday"], school["dsl"], school["dsl2"]
    got = pending(f.id)
    # Day 1 Monday; the Wednesday is an INSET day, so day 3 is the Thursday; day 10 the Monday
    # two weeks on; day 20 the Monday four weeks on.
    expected = {
        "school_ews_day3": monday + 3 * DAY,
        "school_notify_day10": monday + 14 * DAY,
        "school_joint_day20": monday + 28 * DAY,
    }
    assert set(got) == {f"{k}@{who.id}" for k in expected for who in (dsl, dsl2)}
    for key, r in got.items():
        assert r.due_at == nine_am(expected[r.kind]), key
    assert got[f"school_joint_day20@{dsl.id}"].urgency == "high"
    # Nobody at another school, no CME officer: these are the school's own steps.
    assert not any(r.recipient_id == school["other_dsl"].id for r in got.values())

    # A closure day entered later moves the steps after it (the calendar is a fact too).
    db.session.add(SchoolClosure(school_id=school["school"].id, on=monday + 7 * DAY, reason="Snow"))
    db.session.commit()
    got = pending(f.id)
    assert got[f"school_ews_day3@{dsl.id}"].due_at == nine_am(monday + 3 * DAY)
    assert got[f"school_notify_day10@{dsl.id}"].due_at == nine_am(monday + 15 * DAY)


def test_a_step_done_goes_and_closing_the_follow_up_cancels_the_rest(school):
    f = _followup(school)
    dsl = school["dsl"]
    factories.school_notification(school["pupil"], "ews_day3", followup_id=f.id)
    db.session.commit()
    got = pending(f.id)
    assert f"school_ews_day3@{dsl.id}" not in got
    assert f"school_notify_day10@{dsl.id}" in got and f"school_joint_day20@{dsl.id}" in got

    f = db.session.get(FollowUp, f.id)
    f.status = "closed"
    f.closed_reason = "seen_safe"
    f.closed_at = utcnow()
    db.session.commit()
    assert pending(f.id) == {}
    cancelled = db.session.scalars(
        select(Reminder).where(
            Reminder.subject_id == f.id, Reminder.status == ReminderStatus.CANCELLED
        )
    ).all()
    assert {r.kind for r in cancelled} == {
        "school_ews_day3",
        "school_notify_day10",
        "school_joint_day20",
    }


def test_illness_has_no_10_day_notification_and_known_whereabouts_no_joint_enquiries(school):
    f = _followup(school, illness=True, whereabouts_unknown=False)
    # Illness has the day-15 sickness return instead (test_the_day_15_sickness_return below).
    assert {r.kind for r in pending(f.id).values()} == {"school_ews_day3", "school_illness_day15"}


def test_a_follow_up_recorded_late_is_reminded_of_what_is_outstanding_at_once(school):
    monday = school["monday"]
    # Recorded today for an absence that began 4 school weeks before the quiet Monday's week:
    # day 3 and day 10 are past; both are reminded now rather than lost.
    f = FollowUp(
        child_id=school["pupil"].id,
        school_id=school["school"].id,
        opened_on=date.today() - 21 * DAY,
    )
    db.session.add(f)
    db.session.commit()
    got = {r.kind: r for r in pending(f.id).values() if r.recipient_id == school["dsl"].id}
    assert set(got) >= {"school_ews_day3", "school_notify_day10"}
    for kind in ("school_ews_day3", "school_notify_day10"):
        assert got[kind].due_at == f.created_at.astimezone(got[kind].due_at.tzinfo)
    assert monday  # the term fixture is irrelevant here: before the term, weekdays count


def test_a_checklist_yes_with_no_referral_after_an_hour(school):
    f = _followup(school)
    checked = utcnow()
    yes = Referral(followup_id=f.id, any_yes=True, checked_at=checked, answers={"cp_plan": "yes"})
    no = Referral(followup_id=f.id, any_yes=False, checked_at=checked, answers={"cp_plan": "no"})
    db.session.add_all([yes, no])
    db.session.commit()
    got = pending(yes.id)
    assert set(got) == {
        f"school_referral_due@{school['dsl'].id}",
        f"school_referral_due@{school['dsl2'].id}",
    }
    assert all(r.due_at == checked + timedelta(hours=1) for r in got.values())
    assert all(r.urgency == "high" for r in got.values())
    assert pending(no.id) == {}

    yes = db.session.get(Referral, yes.id)
    yes.referred_to = "social_care"
    yes.referred_at = utcnow()
    db.session.commit()
    assert pending(yes.id) == {}


def test_the_authoritys_cme_officers_are_told_of_a_20_day_notification(school):
    f = _followup(school)
    sent = utcnow()
    day20 = factories.school_notification(
        school["pupil"], "joint_enquiries_day20", followup_id=f.id, sent_at=sent
    )
    day10 = factories.school_notification(
        school["pupil"], "notify_day10", followup_id=f.id, sent_at=sent
    )
    db.session.commit()
    got = pending(day20.id)
    assert set(got) == {f"cme_day20@{school['officer'].id}"}
    assert got[f"cme_day20@{school['officer'].id}"].due_at == sent
    assert pending(day10.id) == {}
    # Told, the school's own day-10 and day-20 reminders go.
    assert {r.kind for r in pending(f.id).values()} == {"school_ews_day3"}


def test_no_personal_data_in_the_words(school):
    f = _followup(school)
    Referral_ = Referral(followup_id=f.id, any_yes=True, checked_at=utcnow())
    db.session.add(Referral_)
    factories.school_notification(school["pupil"], "joint_enquiries_day20", followup_id=f.id)
    db.session.commit()
    rows = db.session.scalars(
        select(Reminder).where(
            Reminder.kind.in_([*SCHOOL_KINDS, "school_referral_due", "cme_day20"])
        )
    ).all()
    assert {r.kind for r in rows} >= {"school_ews_day3", "school_referral_due", "cme_day20"}
    pupil, sch = school["pupil"], school["school"]
    forbidden = [pupil.first_name, pupil.last_name, sch.name, pupil.id, sch.id, f.id]
    for r in rows:
        words = f"{r.title} {r.body}"
        assert not [w for w in forbidden if w in words], words
        assert pupil.date_of_birth.isoformat() not in words
        assert r.topic not in words and len(r.topic) <= 32


def test_a_schools_referral_tells_the_social_worker_of_a_looked_after_child_at_once(school):
    from webapp.children.models import LegalStatus

    social_worker = factories.user(Role.SOCIAL_WORKER, authority=school["la"])
    looked_after = factories.child(
        school["la"],
        school_id=school["school"].id,
        legal_status=LegalStatus.LOOKED_AFTER,
        social_worker_id=social_worker.id,
    )
    # Early help: no plan with social care, so no social worker to tell at once.
    in_need = factories.child(
        school["la"],
        school_id=school["school"].id,
        legal_status=LegalStatus.EARLY_HELP,
        social_worker_id=social_worker.id,
    )
    sent = utcnow()
    told = factories.school_notification(looked_after, "referral", sent_at=sent)
    not_told = factories.school_notification(in_need, "referral", sent_at=sent)
    db.session.commit()
    got = pending(told.id)
    assert set(got) == {f"sw_school_referral@{social_worker.id}"}
    reminder = got[f"sw_school_referral@{social_worker.id}"]
    assert reminder.due_at == sent and reminder.urgency == "high"
    assert "referred a child allocated to you" in reminder.body
    assert pending(not_told.id) == {}


# ---------------------------------------------------------------- the day-15 sickness return


def test_the_day_15_sickness_return_for_an_illness_follow_up(school):
    monday, dsl, dsl2 = school["monday"], school["dsl"], school["dsl2"]
    f = _followup(school, illness=True)
    got = pending(f.id)
    # Day 1 Monday, the INSET Wednesday skipped: day 15 is the Monday three weeks on.
    for who in (dsl, dsl2):
        r = got[f"school_illness_day15@{who.id}"]
        assert r.due_at == nine_am(monday + 21 * DAY)
        assert r.title == "Absence follow-up: 15 school days"
        assert "sickness return" in r.body
        for word in ("Wrenna", "Halloway", "Larkspur", school["pupil"].id, f.id):
            assert word not in f"{r.title} {r.body}"
    assert not any(k.startswith("school_notify_day10") for k in got)
    assert not any(r.recipient_id == school["other_dsl"].id for r in got.values())

    # A closure day before it moves it on a school day.
    db.session.add(SchoolClosure(school_id=school["school"].id, on=monday + 8 * DAY, reason="Snow"))
    db.session.commit()
    assert pending(f.id)[f"school_illness_day15@{dsl.id}"].due_at == nine_am(monday + 22 * DAY)

    # Recorded: gone (the others stay).
    factories.school_notification(school["pupil"], "illness_day15", followup_id=f.id)
    db.session.commit()
    got = pending(f.id)
    assert not any(k.startswith("school_illness_day15") for k in got)
    assert f"school_joint_day20@{dsl.id}" in got


def test_no_sickness_return_without_illness_and_none_once_illness_is_unticked(school):
    f = _followup(school)
    assert not any(k.startswith("school_illness_day15") for k in pending(f.id))
    f = _followup(school, illness=True)
    assert f"school_illness_day15@{school['dsl'].id}" in pending(f.id)
    f = db.session.get(FollowUp, f.id)
    f.illness = False
    db.session.commit()
    got = pending(f.id)
    assert not any(k.startswith("school_illness_day15") for k in got)
    assert f"school_notify_day10@{school['dsl'].id}" in got


# ---------------------------------------------------------------- where a tap lands


def _reminder(subject_id: str, kind: str, recipient) -> Reminder:
    db.session.expire_all()
    return db.session.scalars(
        select(Reminder).where(
            Reminder.subject_id == subject_id,
            Reminder.kind == kind,
            Reminder.recipient_id == recipient.id,
        )
    ).one()


def _lands(browser, reminder: Reminder) -> str:
    r = browser.get(f"/notifications/{reminder.id}")
    assert r.status_code == 302
    return r.headers["Location"]


CENTRE = "/notifications/"


def test_a_dsls_follow_up_and_referral_reminders_land_on_the_pupils_timeline(as_user, school):
    dsl, pupil = school["dsl"], school["pupil"]
    f = _followup(school, illness=True)
    referral = Referral(followup_id=f.id, any_yes=True, checked_at=utcnow())
    db.session.add(referral)
    db.session.commit()
    timeline = f"/school/pupils/{pupil.id}/timeline?followup={f.id}"
    tablet = as_user(dsl)
    for kind in ("school_ews_day3", "school_illness_day15", "school_joint_day20"):
        assert _lands(tablet, _reminder(f.id, kind, dsl)).endswith(timeline), kind
    assert _lands(tablet, _reminder(referral.id, "school_referral_due", dsl)).endswith(timeline)
    page = tablet.get(timeline)
    assert page.status_code == 200 and "Wrenna" in page.get_data(as_text=True)

    # Moved to another school: the reminder still opens, the pupil's page does not.
    mover = db.session.get(type(dsl), dsl.id)
    mover.organisation_id = school["other_school"].id
    db.session.commit()
    assert _lands(tablet, _reminder(f.id, "school_ews_day3", dsl)).endswith(CENTRE)
    # Someone else's reminder is nobody else's to open.
    other = as_user(school["dsl2"])
    assert other.get(
        f"/notifications/{_reminder(f.id, 'school_ews_day3', dsl).id}"
    ).status_code == (404)


def test_a_cme_officers_reminder_lands_on_the_worklist_then_the_case(as_user, school):
    officer = school["officer"]
    f = _followup(school)
    day20 = factories.school_notification(
        school["pupil"], "joint_enquiries_day20", followup_id=f.id
    )
    db.session.commit()
    told = _reminder(day20.id, "cme_day20", officer)
    page = as_user(officer)
    assert _lands(page, told).endswith("/cme/")
    case_url = page.post(f"/cme/notifications/{day20.id}/case").headers["Location"]
    assert case_url.split("/cme/")[1].startswith("cases/")
    assert _lands(page, told).endswith(case_url.split("localhost")[-1])
    assert page.get(_lands(page, told)).status_code == 200


def test_a_social_workers_school_referral_lands_on_the_childs_page(as_user, school):
    from webapp.children.models import Child, LegalStatus

    sw = factories.user(Role.SOCIAL_WORKER, authority=school["la"])
    successor = factories.user(Role.SOCIAL_WORKER, authority=school["la"])
    child = factories.child(
        school["la"],
        school_id=school["school"].id,
        legal_status=LegalStatus.LOOKED_AFTER,
        social_worker_id=sw.id,
    )
    told = factories.school_notification(child, "referral")
    db.session.commit()
    reminder = _reminder(told.id, "sw_school_referral", sw)
    phone = as_user(sw)
    assert _lands(phone, reminder).endswith(f"/children/{child.id}")
    assert phone.get(f"/children/{child.id}").status_code == 200

    # Allocated to another social worker since: the centre, not a page they may no longer see.
    db.session.get(Child, child.id).social_worker_id = successor.id
    db.session.commit()
    assert _lands(phone, reminder).endswith(CENTRE)
