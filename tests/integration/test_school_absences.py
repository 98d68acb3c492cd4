"""The DSL's absence work (schools part I), through real HTTP: absences and the register
follow-up, enquiries, the always-refer checklist and its referral, a pupil missing during the
school day, the timeline counted in school days; access (own school only, never an interview or
social-care record), audit, and what is sealed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import inspect, select, text

from tests import factories
from tests.integration.helpers import episodes_of
from webapp import deadlines
from webapp.accounts.models import OrgKind, Role
from webapp.audit import AuditEvent
from webapp.children.models import LegalStatus
from webapp.db_types import utcnow
from webapp.episodes import service as episode_service
from webapp.errors import RuleError
from webapp.extensions import db
from webapp.reminders.models import Reminder
from webapp.schools import absences, days
from webapp.schools.absence_models import (
    Absence,
    Enquiry,
    FollowUp,
    Referral,
    SchoolNotification,
)

OUTCOME_CANARY = "Canary-Outcome-Aunt-Marigold-7731"
NOTES_CANARY = "Canary-Checklist-Uncle-Tobias-5519"
REFERENCE_CANARY = "CANREF-88231"


def _dmy(d: date) -> list[str]:
    return [str(d.day), str(d.month), str(d.year)]


def local(dt) -> str:
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


def _weekday_back(n: int) -> date:
    """The nth school day before today, counting with the same calendar the app uses."""
    cal = absences.calendar_for(None)
    d = absences.today()
    while n:
        d -= timedelta(days=1)
        if cal.is_school_day(d):
            n -= 1
    return d


def _raw_dump() -> str:
    parts = []
    for table in inspect(db.engine).get_table_names():
        for row in db.session.execute(text(f'SELECT * FROM "{table}"')):
            parts.extend(str(v) for v in row)
    return "\n".join(parts)


@pytest.fixture
def school(app):
    authority = factories.local_authority()
    school = factories.organisation(OrgKind.SCHOOL, authority)
    other_school = factories.organisation(OrgKind.SCHOOL, authority)
    sw = factories.user(Role.SOCIAL_WORKER, authority=authority)
    dsl = factories.school_dsl(school)
    other_dsl = factories.school_dsl(other_school)
    pupil = factories.school_pupil(school, first_name="Ottoline", social_worker_id=sw.id)
    second = factories.school_pupil(school, first_name="Bartholomew")
    looked_after = factories.school_pupil(
        school, first_name="Perpetua", legal_status=LegalStatus.LOOKED_AFTER, social_worker_id=sw.id
    )
    elsewhere = factories.school_pupil(other_school, first_name="Quentina")
    manager = factories.manager(authority)
    db.session.commit()
    return {
        "authority": authority,
        "school": school,
        "dsl": dsl,
        "other_dsl": other_dsl,
        "sw": sw,
        "pupil": pupil,
        "second": second,
        "looked_after": looked_after,
        "elsewhere": elsewhere,
        "manager": manager,
    }


def _followups(child_id):
    db.session.expire_all()
    return list(db.session.scalars(select(FollowUp).where(FollowUp.child_id == child_id)))


def _record(browser, child_id, on, code, sessions=("am",)):
    return browser.post(
        f"/school/pupils/{child_id}/absences/new",
        {"on": _dmy(on), "sessions": list(sessions), "code": code},
    )


# ---------------------------------------------------------------- absences


@pytest.mark.both_databases  # one row per session, one transaction
def test_an_unauthorised_absence_opens_a_follow_up_and_later_ones_join_it(as_user, school):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    page = dsl.get(f"/children/{pupil.id}").get_data(as_text=True)
    assert "Record an absence" in page and "Morning register follow-up" in page
    form = dsl.get(f"/school/pupils/{pupil.id}/absences/new").get_data(as_text=True)
    # Every 2024 code is offered with its label, and "no reason yet".
    for code in ("G", "N", "O", "U", "C1", "Y7", "#", "I"):
        assert f'value="{code}"' in form
    assert "No reason yet" in form

    # An authorised code (illness) opens nothing.
    r = _record(dsl, pupil.id, _weekday_back(4), "I")
    assert r.status_code == 302, r.get_data(as_text=True)
    assert _followups(pupil.id) == []

    day2 = _weekday_back(2)
    r = _record(dsl, pupil.id, day2, "N", ("am", "pm"))
    assert r.status_code == 302
    [followup] = _followups(pupil.id)
    assert followup.opened_on == day2 and followup.is_open
    # No reason yet joins the open follow-up; recorded late, it counts from its own earlier day.
    day3 = _weekday_back(3)
    assert _record(dsl, pupil.id, day3, "").status_code == 302
    [followup] = _followups(pupil.id)
    assert followup.opened_on == day3
    joined = db.session.scalars(select(Absence).where(Absence.followup_id == followup.id)).all()
    assert len(joined) == 3
    # Recording the same session again saves over it (one row per session).
    assert _record(dsl, pupil.id, day3, "U").status_code == 302
    db.session.expire_all()
    assert len(db.session.scalars(select(Absence).where(Absence.child_id == pupil.id)).all()) == 4


def test_a_refused_absence_keeps_what_was_typed(as_user, school):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    future = absences.today() + timedelta(days=3)
    r = _record(dsl, pupil.id, future, "G")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "There is a problem" in page and "today or in the past" in page
    assert f'value="{future.year}"' in page and 'value="G" selected' in page
    r = dsl.post(
        f"/school/pupils/{pupil.id}/absences/new", {"on": ["31", "2", "2025"], "code": "N"}
    )
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "must be a real date" in page and "Choose the morning" in page
    assert _followups(pupil.id) == []


@pytest.mark.both_databases  # one row per session, one transaction
def test_the_register_saves_several_pupils_at_once_or_nothing(as_user, school):
    dsl = as_user(school["dsl"])
    pupil, second, la = school["pupil"], school["second"], school["looked_after"]
    on = _weekday_back(1)
    page = dsl.get(f"/school/register?on={on.isoformat()}&session=am").get_data(as_text=True)
    assert "Ottoline" in page and "Bartholomew" in page and "Perpetua" in page
    assert "Quentina" not in page  # another school's pupil
    assert f'id="code-{pupil.id}"' in page

    # A bad code on one row: nothing saved, the error on that row, every choice kept.
    r = dsl.post(
        "/school/register",
        {
            "on": _dmy(on),
            "session": "am",
            f"code-{pupil.id}": "N",
            f"code-{second.id}": "ZZ",
            f"code-{la.id}": "-",
        },
    )
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "Bartholomew" in page and "Choose an attendance code" in page
    assert f'href="#code-{second.id}"' in page
    assert 'value="N" selected' in page
    db.session.expire_all()
    assert (
        db.session.scalars(select(Absence).where(Absence.school_id == school["school"].id)).all()
        == []
    )

    r = dsl.post(
        "/school/register",
        {
            "on": _dmy(on),
            "session": "am",
            f"code-{pupil.id}": "N",
            f"code-{second.id}": "M",
            f"code-{la.id}": "",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    db.session.expire_all()
    saved = {
        a.child_id: a.code
        for a in db.session.scalars(select(Absence).where(Absence.school_id == school["school"].id))
    }
    assert saved == {pupil.id: "N", second.id: "M", la.id: ""}
    assert len(_followups(pupil.id)) == 1 and len(_followups(la.id)) == 1
    assert _followups(second.id) == []
    # The register shows what it says now.
    page = dsl.get(f"/school/register?on={on.isoformat()}&session=am").get_data(as_text=True)
    assert 'value="M" selected' in page

    # Another school's pupil smuggled into the form: refused as if it did not exist.
    r = dsl.post(
        "/school/register",
        {"on": _dmy(on), "session": "pm", f"code-{school['elsewhere'].id}": "N"},
    )
    assert r.status_code == 302  # not one of the rows: ignored
    db.session.expire_all()
    assert _followups(school["elsewhere"].id) == []
    with pytest.raises(absences.NotFound):
        absences.record_register(school["dsl"], on, ["pm"], {school["elsewhere"].id: "N"})


# ---------------------------------------------------------------- enquiries, checklist, referral


def _open(dsl, child, on=None):
    assert _record(dsl, child.id, on or _weekday_back(1), "N").status_code == 302
    return _followups(child.id)[0]


def test_enquiries_are_logged_sealed_and_seen_safe_closes_the_follow_up(as_user, school):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    followup = _open(dsl, pupil)
    url = f"/school/followups/{followup.id}/enquiries/new"
    r = dsl.post(url, {"kind": "parent_call", "at": "", "outcome": OUTCOME_CANARY})
    assert r.status_code == 422 and OUTCOME_CANARY in r.get_data(as_text=True)
    now = local(utcnow() - timedelta(minutes=10))
    r = dsl.post(url, {"kind": "parent_call", "at": now, "outcome": OUTCOME_CANARY})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert _followups(pupil.id)[0].is_open
    timeline = dsl.get(f"/school/pupils/{pupil.id}/timeline").get_data(as_text=True)
    assert OUTCOME_CANARY in timeline and "Call to parent or carer" in timeline
    r = dsl.post(
        url, {"kind": "home_visit", "at": now, "outcome": "Seen at home", "seen_safe": "y"}
    )
    assert r.status_code == 302
    [followup] = _followups(pupil.id)
    assert followup.status == "closed" and followup.closed_reason == "seen_safe"
    # Closed: no more enquiries on it.
    r = dsl.post(url, {"kind": "letter", "at": now, "outcome": "Sent"})
    assert r.status_code == 422 and "closed" in r.get_data(as_text=True)
    assert OUTCOME_CANARY not in _raw_dump()
    raw = db.session.execute(text("SELECT outcome_enc FROM school_enquiries")).scalars().all()
    assert all(v.startswith("hw1.") for v in raw)


def test_any_yes_on_the_checklist_asks_for_the_referral_today(as_user, school):
    dsl = as_user(school["dsl"])
    la = school["looked_after"]
    followup = _open(dsl, la)
    url = f"/school/followups/{followup.id}/checklist"
    page = dsl.get(url).get_data(as_text=True)
    # The child's record already says looked after: answered yes for the DSL.
    assert 'name="looked_after" type="radio" value="yes" checked' in page or (
        'value="yes" checked' in page
    )
    answers = {key: "no" for key in absences.ALWAYS_REFER}
    r = dsl.post(url, {**{k: v for k, v in answers.items() if k != "s47"}, "notes": NOTES_CANARY})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "Answer yes or no" in page and NOTES_CANARY in page

    answers["looked_after"] = "yes"
    r = dsl.post(url, {**answers, "bullying": "yes", "notes": NOTES_CANARY})
    assert r.status_code == 302
    referral_url = r.headers["Location"]
    page = dsl.get(referral_url).get_data(as_text=True)
    assert "Refer today to children&#39;s social care or the police" in page or (
        "Refer today to children's social care or the police" in page
    )
    assert "social worker is told" in page
    timeline = dsl.get(f"/school/pupils/{la.id}/timeline").get_data(as_text=True)
    assert "Record the referral" in timeline

    r = dsl.post(
        referral_url,
        {"referred_to": "social_care", "referred_at": "", "reference": REFERENCE_CANARY},
    )
    assert r.status_code == 422 and REFERENCE_CANARY in r.get_data(as_text=True)
    r = dsl.post(
        referral_url,
        {
            "referred_to": "social_care",
            "referred_at": local(utcnow() - timedelta(minutes=5)),
            "reference": REFERENCE_CANARY,
        },
    )
    assert r.status_code == 302
    db.session.expire_all()
    [referral] = db.session.scalars(select(Referral)).all()
    assert referral.any_yes and referral.referred_to == "social_care" and referral.referred_at
    assert referral.answers["looked_after"] == "yes" and referral.answers["bullying"] == "yes"
    assert referral.reference == REFERENCE_CANARY
    [note] = db.session.scalars(select(SchoolNotification)).all()
    assert (note.kind, note.child_id, note.followup_id) == ("referral", la.id, followup.id)
    timeline = dsl.get(f"/school/pupils/{la.id}/timeline").get_data(as_text=True)
    assert REFERENCE_CANARY in timeline and "Record the referral" not in timeline
    dump = _raw_dump()
    assert NOTES_CANARY not in dump and REFERENCE_CANARY not in dump
    # Recorded once.
    r = dsl.post(referral_url, {"referred_to": "police", "referred_at": local(utcnow())})
    assert r.status_code == 200 or r.status_code == 422


def test_all_no_needs_no_referral(as_user, school):
    dsl = as_user(school["dsl"])
    followup = _open(dsl, school["second"])
    answers = {key: "no" for key in absences.ALWAYS_REFER}
    r = dsl.post(f"/school/followups/{followup.id}/checklist", answers)
    assert r.status_code == 302 and r.headers["Location"].endswith("/timeline")
    db.session.expire_all()
    [referral] = db.session.scalars(select(Referral)).all()
    assert not referral.any_yes and not referral.referral_due
    with pytest.raises(RuleError):
        absences.record_referral(
            school["dsl"], referral, {"referred_to": "police", "referred_at": utcnow()}
        )


# ---------------------------------------------------------------- missing in the school day


@pytest.mark.both_databases  # one row per session, one transaction
def test_a_pupil_missing_in_the_school_day_starts_an_episode_from_school(as_user, school):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    r = dsl.post(
        f"/school/pupils/{pupil.id}/missing",
        {
            "last_seen_at": local(utcnow() - timedelta(hours=1)),
            "where_last_seen": "The school gate",
            "clothing": "Green blazer",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    [episode] = episodes_of(pupil.id)
    assert (episode.missing_from, episode.reported_type, episode.status) == (
        "school",
        "missing",
        "missing",
    )
    assert episode.report == {"where_last_seen": "The school gate", "clothing": "Green blazer"}
    [note] = db.session.scalars(select(SchoolNotification)).all()
    assert (note.kind, note.episode_id) == ("missing_in_school_day", episode.id)
    # The same reminders as any other episode: the child's social worker is told at once.
    kinds = {
        (row.kind, row.recipient_id)
        for row in db.session.scalars(select(Reminder).where(Reminder.subject_id == episode.id))
    }
    assert ("sw_missing", school["sw"].id) in kinds
    # The DSL sees the episode the school reported.
    assert dsl.get(f"/episodes/{episode.id}").status_code == 200
    # A second report while still missing is refused beside the field, nothing half-made.
    r = dsl.post(
        f"/school/pupils/{pupil.id}/missing",
        {"last_seen_at": local(utcnow() - timedelta(minutes=30))},
    )
    assert r.status_code == 422 and "already has an open episode" in r.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.scalars(select(SchoolNotification)).all()) == 1


def test_a_dsl_reports_only_missing_from_school(app, school):
    with pytest.raises(RuleError):
        episode_service.report_missing(
            school["dsl"],
            school["pupil"],
            {"reported_type": "missing", "missing_from": "home", "last_seen_at": utcnow()},
        )
    with pytest.raises(episode_service.NotAllowed):
        episode_service.report_missing(
            school["other_dsl"],
            school["pupil"],
            {"reported_type": "missing", "missing_from": "school", "last_seen_at": utcnow()},
        )


# ---------------------------------------------------------------- the timeline


def test_the_timeline_counts_school_days_and_records_what_was_sent(as_user, school):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    first = _weekday_back(4)  # today is school day 5 (or later on a non-school day)
    followup = _open(dsl, pupil, first)
    cal = absences.calendar_for(school["school"])
    expected = days.timeline(first, cal, absences.today())
    page = dsl.get(f"/school/pupils/{pupil.id}/timeline").get_data(as_text=True)
    for m in expected:
        assert m.title in page
        assert m.due_on.strftime("%-d %B %Y") in page
    assert "School day 5 of the absence" in page or not cal.is_school_day(absences.today())
    assert "Due since" in page  # day 1 and day 3 have passed
    assert "Record: Education Welfare Service contacted" in page

    r = dsl.post(f"/school/followups/{followup.id}/notify/ews_day3", {})
    assert r.status_code == 302
    r = dsl.post(f"/school/followups/{followup.id}/notify/ews_day3", {})
    assert r.status_code == 302  # told it is already recorded; still one row
    db.session.expire_all()
    notes = db.session.scalars(select(SchoolNotification)).all()
    assert [n.kind for n in notes] == ["ews_day3"]
    page = dsl.get(f"/school/pupils/{pupil.id}/timeline").get_data(as_text=True)
    assert "Record: Education Welfare Service contacted" not in page
    assert "Education Welfare Service contacted:" in page
    result = absences.pupil_timeline(school["dsl"], pupil)
    states = {m.code: m.state for m in result.milestones}
    assert states["ews_day3"] == "done" and states["contact_day1"] == "due"
    assert "illness_day15" not in states

    # Illness expected to reach 15 days: the sickness return replaces the 10-day notification.
    r = dsl.post(
        f"/school/followups/{followup.id}/facts", {"illness": "y", "whereabouts_unknown": "y"}
    )
    assert r.status_code == 302
    db.session.expire_all()
    result = absences.pupil_timeline(school["dsl"], pupil)
    codes = [m.code for m in result.milestones]
    assert "illness_day15" in codes and "notify_day10" not in codes
    for kind in ("notify_day10", "illness_day15", "joint_enquiries_day20"):
        assert dsl.post(f"/school/followups/{followup.id}/notify/{kind}", {}).status_code == 302
    db.session.expire_all()
    assert {n.kind for n in db.session.scalars(select(SchoolNotification))} == {
        "ews_day3",
        "notify_day10",
        "illness_day15",
        "joint_enquiries_day20",
    }
    assert dsl.post(f"/school/followups/{followup.id}/notify/referral", {}).status_code == 404

    r = dsl.post(f"/school/followups/{followup.id}/close", {"reason": "returned"})
    assert r.status_code == 302
    assert _followups(pupil.id)[0].closed_reason == "returned"


# ---------------------------------------------------------------- access and audit


def test_only_the_pupils_own_school_dsl_gets_in(as_user, school):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    followup = _open(dsl, pupil)
    r = dsl.post(
        f"/school/followups/{followup.id}/checklist", {key: "yes" for key in absences.ALWAYS_REFER}
    )
    referral_url = r.headers["Location"]
    pages = [
        f"/school/pupils/{pupil.id}/absences/new",
        f"/school/pupils/{pupil.id}/timeline",
        f"/school/pupils/{pupil.id}/missing",
        f"/school/followups/{followup.id}/enquiries/new",
        f"/school/followups/{followup.id}/checklist",
        referral_url,
    ]
    posts = [
        f"/school/followups/{followup.id}/notify/ews_day3",
        f"/school/followups/{followup.id}/close",
        f"/school/followups/{followup.id}/facts",
    ]
    other = as_user(school["other_dsl"])
    manager = as_user(school["manager"])
    sw = as_user(school["sw"])
    for who in (other, manager, sw):
        for url in pages:
            assert who.get(url).status_code == 404, url
        for url in posts:
            assert who.post(url, {"reason": "returned"}).status_code == 404, url
    assert other.get(f"/children/{pupil.id}").status_code == 404
    assert "Record an absence" not in sw.get(f"/children/{pupil.id}").get_data(as_text=True)
    # The other school's DSL cannot reach this school's pupil through its own register.
    r = other.post(
        "/school/register", {"on": _dmy(_weekday_back(1)), "session": "am", f"code-{pupil.id}": "N"}
    )
    assert r.status_code == 302
    db.session.expire_all()
    assert (
        len(
            db.session.scalars(
                select(Absence).where(Absence.school_id == school["school"].id)
            ).all()
        )
        == 1
    )
    assert _followups(pupil.id)[0].is_open and len(_followups(pupil.id)) == 1
    # Nothing of this happened: the follow-up is untouched.
    assert db.session.scalars(select(SchoolNotification)).all() == []


def test_a_dsl_never_sees_an_interview_or_a_social_care_record(as_user, school):
    pupil = school["looked_after"]
    interview = factories.interview(child_=pupil, answers={"why_details": "Never for schools"})
    db.session.commit()
    dsl = as_user(school["dsl"])
    assert dsl.get(f"/children/{pupil.id}").status_code == 200
    assert dsl.get(f"/interviews/{interview.id}").status_code == 404
    for page in ("profile", "plan", "handover"):
        assert dsl.get(f"/children/{pupil.id}/{page}").status_code == 404, page
    assert "Never for schools" not in dsl.get(f"/school/pupils/{pupil.id}/timeline").get_data(
        as_text=True
    )


def test_every_read_and_change_is_audited_without_values(as_user, school):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    followup = _open(dsl, pupil)
    dsl.post(
        f"/school/followups/{followup.id}/enquiries/new",
        {"kind": "friends", "at": local(utcnow()), "outcome": OUTCOME_CANARY},
    )
    dsl.get(f"/school/pupils/{pupil.id}/timeline")
    db.session.expire_all()
    rows = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.child_id == pupil.id, AuditEvent.user_id == school["dsl"].id
        )
    ).all()
    seen = {(r.action, r.object_type) for r in rows}
    assert {
        ("create", "school_absence"),
        ("create", "school_followup"),
        ("create", "school_enquiry"),
        ("view", "school_followup"),
        ("view", "child"),
    } <= seen
    assert all(OUTCOME_CANARY not in (r.detail or "") for r in rows)
    assert db.session.scalar(select(Enquiry.id)) is not None


# ---------------------------------------------------------------- back in school


def _close_events(followup_id):
    return db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "school_followup",
            AuditEvent.object_id == followup_id,
            AuditEvent.action == "close",
        )
    ).all()


@pytest.mark.both_databases  # the follow-up's last absent session, ordered in SQL
@pytest.mark.parametrize("code", ["/", "\\", "L", "K", "V", "P", "W", "B"])
def test_a_present_code_closes_the_open_follow_up_as_back_in_school(as_user, school, code):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    followup = _open(dsl, pupil, _weekday_back(2))
    assert followup.status == "open"
    # Present the next school day (2024: in school, or at an approved activity elsewhere).
    assert _record(dsl, pupil.id, _weekday_back(1), code).status_code == 302
    (followup,) = _followups(pupil.id)
    assert followup.status == "closed" and followup.closed_reason == "returned"
    assert followup.closed_at is not None
    (event,) = _close_events(followup.id)
    assert event.user_id == school["dsl"].id and event.detail == "returned"
    assert event.child_id == pupil.id
    # Closed: its pending steps are cancelled (the reminders' hooks read the status).
    db.session.expire_all()
    assert not db.session.scalars(
        select(Reminder).where(Reminder.subject_id == followup.id, Reminder.status == "pending")
    ).all()


@pytest.mark.parametrize("code", ["G", "N", "O", "U", "I", "D", "M"])
def test_an_absent_code_keeps_the_follow_up_open(as_user, school, code):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    _open(dsl, pupil, _weekday_back(2))
    assert _record(dsl, pupil.id, _weekday_back(1), code).status_code == 302
    (followup,) = _followups(pupil.id)
    assert followup.status == "open" and followup.closed_reason is None
    assert _close_events(followup.id) == []


def test_present_before_the_last_absence_is_a_correction_and_keeps_it_open(as_user, school):
    dsl = as_user(school["dsl"])
    pupil = school["pupil"]
    first, second, third = _weekday_back(3), _weekday_back(2), _weekday_back(1)
    _open(dsl, pupil, first)
    assert _record(dsl, pupil.id, third, "N").status_code == 302
    # The register said the pupil was in on the day between: still absent since.
    assert _record(dsl, pupil.id, second, "/").status_code == 302
    assert _followups(pupil.id)[0].status == "open"
    # The same day's afternoon after a morning absence: back.
    assert _record(dsl, pupil.id, third, "\\", sessions=("pm",)).status_code == 302
    assert _followups(pupil.id)[0].closed_reason == "returned"


def test_the_register_closes_a_present_pupils_follow_up_and_not_the_others(as_user, school):
    dsl = as_user(school["dsl"])
    pupil, la = school["pupil"], school["looked_after"]
    _open(dsl, pupil, _weekday_back(2))
    _open(dsl, la, _weekday_back(2))
    r = dsl.post(
        "/school/register",
        {
            "on": _dmy(_weekday_back(1)),
            "session": "am",
            f"code-{pupil.id}": "/",
            f"code-{la.id}": "O",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    assert _followups(pupil.id)[0].closed_reason == "returned"
    assert _followups(la.id)[0].status == "open"
