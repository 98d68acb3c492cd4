"""Carers report a child placed with them missing and back, keep the details police ask for, and
say what they noticed for the return interview; only for their own children, never reading the
interview, and nothing they write is stored in clear."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from tests import factories
from tests.integration.helpers import episodes_of, fresh, interview_of
from webapp import deadlines
from webapp.audit import AuditEvent
from webapp.children.models import LegalStatus
from webapp.episodes import service as episodes
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db

H = timedelta(hours=1)


def local(dt):
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


def now():
    return datetime.now(UTC)


def born_years_ago(years: int, days_more: int = 0) -> date:
    """A date of birth: `years` old today (UK date), `days_more` days past the birthday."""
    today = deadlines.to_local(now()).date()
    try:
        birthday = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        birthday = today.replace(year=today.year - years, day=28)
    return birthday - timedelta(days=days_more)


@pytest.fixture
def carer(app):
    person = factories.carer()
    db.session.commit()
    return person


@pytest.fixture
def placed(carer):
    """A looked-after 14-year-old placed with `carer`, never missing before."""
    child = factories.placed_child(carer, date_of_birth=born_years_ago(14, 30))
    db.session.commit()
    return child


def report_form(**overrides):
    form = {
        "reported_type": "missing",
        "last_seen_at": local(now() - 3 * H),
        "where_last_seen": "Bus stop on Mill Lane",
        "due_back_at": "",
        "with_whom": "",
        "clothing": "Grey hoodie",
        "belongings": "",
        "money": "",
        "phone": "",
        "circumstances": "",
        "checks_made": "",
        "reported_to_police_at": "",
        "police_log_number": "",
    }
    return form | overrides


# ---------------------------------------------------------------- the journey


@pytest.mark.both_databases
def test_carer_reports_missing_and_back_which_starts_the_72_hour_clock(as_user, carer, placed):
    phone = as_user(carer)
    page = phone.get(f"/children/{placed.id}").get_data(as_text=True)
    assert "Report missing" in page and "Report back" not in page

    r = phone.post(
        f"/children/{placed.id}/episodes/new",
        report_form(police_log_number="LOG-77", checks_made="Rang her friend Amy"),
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    (episode,) = episodes_of(placed.id)
    assert episode.reported_by_id == carer.id
    assert episode.missing_from == "placement"  # looked after: from the placement
    assert episode.report == {
        "where_last_seen": "Bus stop on Mill Lane",
        "clothing": "Grey hoodie",
        "checks_made": "Rang her friend Amy",
    }
    assert episode.police_log_number == "LOG-77"

    # The child's page now shows the open episode and "Report back" instead of "Report missing".
    page = phone.get(f"/children/{placed.id}").get_data(as_text=True)
    assert "Report back" in page and "Report missing" not in page
    assert "Still missing" in page
    assert phone.get(f"/episodes/{episode.id}").status_code == 200

    returned = now() - H
    form = phone.get(f"/episodes/{episode.id}/return")
    assert form.status_code == 200 and "First welfare observations" in form.get_data(as_text=True)
    r = phone.post(
        f"/episodes/{episode.id}/return",
        {
            "returned_at": local(returned),
            "how_returned": "own_accord",
            "where_found": "Came home",
            "who_with": "",
            "welfare": "Tired and hungry",
        },
    )
    # Back to the episode, never to the interview a carer may not read.
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/episodes/{episode.id}")
    episode = fresh(episode)
    assert episode.status == "returned"
    assert episode.return_details == {"where_found": "Came home", "welfare": "Tired and hungry"}
    interview = interview_of(placed.id)
    assert interview.episodes == [episode]
    assert interview.due_at == deadlines.rhi_due_at(episode.returned_at)
    assert interview.due_at - episode.returned_at == 72 * H
    # ... and which the carer never reads.
    assert phone.get(f"/interviews/{interview.id}").status_code == 404

    actions = {
        (e.action, e.detail)
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.object_id == episode.id))
    }
    assert {("create", None), ("return", None), ("view", None)} <= actions


def test_the_report_form_keeps_what_was_typed_and_not_back_needs_the_due_back_time(
    as_user, carer, placed
):
    r = as_user(carer).post(
        f"/children/{placed.id}/episodes/new",
        report_form(reported_type="not_back", clothing="Red trainers 5521", due_back_at=""),
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "There is a problem" in body
    assert "Enter when the child was due back" in body
    assert "Red trainers 5521" in body and "Bus stop on Mill Lane" in body
    assert episodes_of(placed.id) == []

    # Due back in the future is refused too: "not back" means the time has passed.
    r = as_user(carer).post(
        f"/children/{placed.id}/episodes/new",
        report_form(reported_type="not_back", due_back_at=local(now() + 2 * H)),
    )
    assert r.status_code == 422
    assert "The time due back must be in the past" in r.get_data(as_text=True)

    due = now() - 30 * timedelta(minutes=1)
    r = as_user(carer).post(
        f"/children/{placed.id}/episodes/new",
        report_form(reported_type="not_back", due_back_at=local(due)),
    )
    assert r.status_code == 302
    (episode,) = episodes_of(placed.id)
    assert episode.reported_type == "not_back"
    assert episode.due_back_at == due.replace(second=0, microsecond=0)
    page = as_user(carer).get(f"/episodes/{episode.id}").get_data(as_text=True)
    assert "Not back when expected" in page and "Still missing" not in page


def test_away_only_for_a_looked_after_child_and_never_shown_as_still_missing(as_user, carer):
    at_home = factories.placed_child(carer, legal_status=LegalStatus.CP_PLAN)
    looked_after = factories.placed_child(carer)
    db.session.commit()
    assert not at_home.looked_after

    page = as_user(carer).get(f"/children/{at_home.id}/episodes/new").get_data(as_text=True)
    assert 'value="away"' not in page
    assert 'value="away"' in as_user(carer).get(
        f"/children/{looked_after.id}/episodes/new"
    ).get_data(as_text=True)
    r = as_user(carer).post(
        f"/children/{at_home.id}/episodes/new", report_form(reported_type="away")
    )
    assert r.status_code == 422 and episodes_of(at_home.id) == []
    # The service says why, whoever calls it (field mode's sync goes straight to it).
    with pytest.raises(RuleError, match="only for a looked-after child") as refused:
        episodes.report_missing(
            carer, at_home, {"reported_type": "away", "last_seen_at": now() - H}
        )
    assert refused.value.field == "reported_type"

    r = as_user(carer).post(
        f"/children/{looked_after.id}/episodes/new", report_form(reported_type="away")
    )
    assert r.status_code == 302
    (episode,) = episodes_of(looked_after.id)
    for url in (f"/episodes/{episode.id}", f"/children/{looked_after.id}"):
        page = as_user(carer).get(url).get_data(as_text=True)
        assert "Away from placement, whereabouts known" in page, url
        assert "Still missing" not in page, url


def test_a_child_of_12_or_under_is_flagged_report_to_police_now(as_user, carer):
    from webapp.carers.models import RiskPlan

    twelve = factories.placed_child(carer, date_of_birth=born_years_ago(12, 200))
    thirteen_today = factories.placed_child(carer, date_of_birth=born_years_ago(13))
    # Both have a plan saying "report after 3 hours past due back": age alone decides.
    for child in (twelve, thirteen_today):
        db.session.add(RiskPlan(id=child.id, report_after_hours=3))
    db.session.commit()
    page = as_user(carer).get(f"/children/{twelve.id}/episodes/new").get_data(as_text=True)
    assert "Report to police now" in page
    assert page.index("Report to police now") < page.index("What is happening?")
    # 13 today (age on the day), and the plan allows a wait: no flag.
    page = as_user(carer).get(f"/children/{thirteen_today.id}/episodes/new")
    assert "Report to police now" not in page.get_data(as_text=True)


def test_a_plan_that_says_report_at_once_flags_an_older_child(as_user, carer, placed):
    from webapp.carers.models import RiskPlan

    db.session.add(RiskPlan(id=placed.id, report_after_hours=0))
    db.session.commit()
    page = as_user(carer).get(f"/children/{placed.id}/episodes/new").get_data(as_text=True)
    assert "Report to police now" in page


# ---------------------------------------------------------------- only their own children


def test_a_carer_cannot_report_for_another_carers_child(as_user, carer, placed):
    other_carer = factories.carer(placed.responsible_authority)
    theirs = factories.placed_child(other_carer)
    open_episode = factories.episode(theirs, last_seen_hours_ago=5, missing_hours=None)
    back = factories.placed_child(other_carer)
    closed = factories.episode(back, last_seen_hours_ago=30, missing_hours=6)
    interview = factories.interview(child_=back, episodes=[closed])
    db.session.commit()
    phone = as_user(carer)
    assert phone.get(f"/children/{theirs.id}").status_code == 404
    assert phone.get(f"/children/{theirs.id}/episodes/new").status_code == 404
    assert phone.post(f"/children/{theirs.id}/episodes/new", report_form()).status_code == 404
    assert phone.get(f"/episodes/{open_episode.id}").status_code == 404
    assert phone.get(f"/episodes/{open_episode.id}/return").status_code == 404
    assert (
        phone.post(
            f"/episodes/{open_episode.id}/return",
            {"returned_at": local(now() - H), "how_returned": "own_accord"},
        ).status_code
        == 404
    )
    assert (
        phone.post(f"/episodes/{open_episode.id}/report", report_form(clothing="x")).status_code
        == 404
    )
    assert phone.post(f"/episodes/{closed.id}/notes", {"carer_notes": "x"}).status_code == 404
    assert phone.get(f"/interviews/{interview.id}").status_code == 404
    assert episodes_of(theirs.id) == [open_episode]
    assert fresh(open_episode).status == "missing" and fresh(closed).carer_notes is None
    # And the services refuse the same, for a sync that bypasses the pages.
    with pytest.raises(NotAllowed):
        episodes.record_return(carer, open_episode, now() - H, "own_accord")
    with pytest.raises(NotAllowed):
        episodes.update_report(carer, open_episode, {"report": {"clothing": "x"}})
    with pytest.raises(NotAllowed):
        episodes.save_carer_notes(carer, closed, "x")


def test_a_carer_never_reads_the_interview_of_their_own_child(as_user, carer, placed):
    episode = factories.episode(placed, last_seen_hours_ago=30, missing_hours=6)
    interview = factories.interview(child_=placed, episodes=[episode])
    db.session.commit()
    page = as_user(carer).get(f"/children/{placed.id}").get_data(as_text=True)
    assert f"/interviews/{interview.id}" not in page
    assert as_user(carer).get(f"/interviews/{interview.id}").status_code == 404


# ---------------------------------------------------------------- while away, and after


def test_the_carer_keeps_the_police_details_up_to_date_while_open_only(as_user, carer, placed):
    episode = episodes.report_missing(
        carer,
        placed,
        {
            "reported_type": "missing",
            "last_seen_at": now() - 4 * H,
            "report": {"clothing": "Grey hoodie", "phone": "07700 900123"},
        },
    )
    phone = as_user(carer)
    page = phone.get(f"/episodes/{episode.id}").get_data(as_text=True)
    assert "Grey hoodie" in page and "07700 900123" in page
    called = now() - H
    form = report_form(
        clothing="Grey hoodie, black cap",
        phone="",
        police_log_number="KM-4411",
        reported_to_police_at=local(called),
    )
    del form["last_seen_at"]
    r = phone.post(f"/episodes/{episode.id}/report", form)
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    episode = fresh(episode)
    assert episode.report == {
        "where_last_seen": "Bus stop on Mill Lane",
        "clothing": "Grey hoodie, black cap",
    }
    assert episode.police_log_number == "KM-4411"
    assert episode.reported_to_police_at == called.replace(second=0, microsecond=0)

    # A police time before the time last seen is refused, and what was typed stays.
    form["reported_to_police_at"] = local(now() - 10 * H)
    form["clothing"] = "Kept 6610"
    r = phone.post(f"/episodes/{episode.id}/report", form)
    assert r.status_code == 422
    assert "must be after the time last seen" in r.get_data(as_text=True)
    assert "Kept 6610" in r.get_data(as_text=True)
    assert fresh(episode).report["clothing"] == "Grey hoodie, black cap"

    # Notes wait for the return; after it, the report is closed to the carer.
    with pytest.raises(RuleError):
        episodes.save_carer_notes(carer, episode, "Too early")
    episodes.record_return(carer, episode, now() - 30 * timedelta(minutes=1), "own_accord")
    with pytest.raises(RuleError):
        episodes.update_report(carer, episode, {"report": {"clothing": "late"}})
    details = [
        e.detail
        for e in db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.object_id == episode.id, AuditEvent.action == "update"
            )
        )
    ]
    # Field names only, never what was written.
    assert details and all("hoodie" not in (d or "") for d in details)
    assert "report" in details[0] and "police_log_number" in details[0]


def test_a_worker_sees_what_the_carer_noticed_on_the_interview(as_user, carer, placed):
    episode = episodes.report_missing(
        carer, placed, {"reported_type": "missing", "last_seen_at": now() - 6 * H}
    )
    interview = episodes.record_return(carer, episode, now() - 2 * H, "found_by_police")
    worker = factories.worker(placed.responsible_authority)
    interview.allocated_to_id = worker.id
    interview.allocated_at = now()
    db.session.commit()

    phone = as_user(carer)
    r = phone.post(f"/episodes/{episode.id}/notes", {"carer_notes": "Quiet, a new phone 8830"})
    assert r.status_code == 302
    assert "Quiet, a new phone 8830" in phone.get(f"/episodes/{episode.id}").get_data(as_text=True)
    assert phone.get(f"/interviews/{interview.id}").status_code == 404

    page = as_user(worker).get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "What the carer noticed" in page and "Quiet, a new phone 8830" in page
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.object_id == episode.id,
            AuditEvent.action == "view",
            AuditEvent.detail == "carer_notes",
            AuditEvent.user_id == worker.id,
        )
    )
    # A worker reads the notes on the interview, not the carer's report on the episode.
    assert "Quiet, a new phone 8830" not in as_user(worker).get(f"/episodes/{episode.id}").get_data(
        as_text=True
    )


# ---------------------------------------------------------------- field mode's ids


def test_an_episode_made_on_a_phone_keeps_the_phones_id(app, carer, placed):
    made_on_phone = str(uuid.uuid4())
    base = {"reported_type": "missing", "last_seen_at": now() - 2 * H}
    for bad in ("not-a-uuid", made_on_phone.upper(), 42):
        with pytest.raises(RuleError) as refused:
            episodes.report_missing(carer, placed, base | {"episode_id": bad})
        assert refused.value.field == "episode_id"
    episode = episodes.report_missing(carer, placed, base | {"episode_id": made_on_phone})
    assert episode.id == made_on_phone
    episodes.record_return(carer, episode, now() - H, "own_accord")
    with pytest.raises(RuleError, match="already exists"):
        episodes.report_missing(
            carer, placed, base | {"episode_id": made_on_phone, "last_seen_at": now() - 0.5 * H}
        )


# ---------------------------------------------------------------- nothing in clear


@pytest.mark.both_databases
def test_what_a_carer_writes_is_never_stored_in_clear(as_user, carer, placed):
    canary = "CANARY-7f3a"
    phone = as_user(carer)
    form = report_form(
        **{
            name: f"{canary} {name}"
            for name in (
                "where_last_seen",
                "with_whom",
                "clothing",
                "belongings",
                "money",
                "phone",
                "circumstances",
                "checks_made",
            )
        },
        police_log_number=f"{canary}-log",
    )
    assert phone.post(f"/children/{placed.id}/episodes/new", form).status_code == 302
    (episode,) = episodes_of(placed.id)
    r = phone.post(
        f"/episodes/{episode.id}/return",
        {
            "returned_at": local(now() - H),
            "how_returned": "own_accord",
            "where_found": f"{canary} found",
            "who_with": f"{canary} with",
            "welfare": f"{canary} welfare",
        },
    )
    assert r.status_code == 302
    notes = phone.post(f"/episodes/{episode.id}/notes", {"carer_notes": f"{canary} notes"})
    assert notes.status_code == 302
    assert canary in phone.get(f"/episodes/{episode.id}").get_data(as_text=True)

    db.session.expire_all()
    rows = db.session.execute(text("SELECT * FROM episodes")).all()
    assert any(episode.id in map(str, row) for row in rows)
    assert all(canary not in str(value) for row in rows for value in row)
    audit_rows = db.session.execute(text("SELECT detail FROM audit_events")).all()
    assert all(canary not in str(row) for row in audit_rows)


def test_the_childs_page_shows_the_plans_next_step_while_not_back(as_user, carer, placed):
    from webapp.carers.models import RiskPlan

    db.session.add(RiskPlan(id=placed.id, report_after_hours=3, content={}))
    episode = factories.episode(placed, last_seen_hours_ago=5, missing_hours=None)
    episode.reported_type = "not_back"
    episode.due_back_at = now() - H
    episode.reported_to_police_at = None  # the factory's episode was reported
    db.session.commit()
    page = as_user(carer).get(f"/children/{placed.id}").get_data(as_text=True)
    assert "Try the contacts and addresses in the plan" in page
    assert "Report to police by" in page
    # Past the plan's hours: the page says to report now.
    episode = fresh(episode)
    episode.due_back_at = now() - 4 * H
    db.session.commit()
    page = as_user(carer).get(f"/children/{placed.id}").get_data(as_text=True)
    assert "Report to police now: the plan says not to wait any longer." in page
    # Police told: the deadline no longer shows.
    episode = fresh(episode)
    episode.reported_to_police_at = now() - H
    db.session.commit()
    page = as_user(carer).get(f"/children/{placed.id}").get_data(as_text=True)
    assert "Police have been told" in page and "Report to police by" not in page
