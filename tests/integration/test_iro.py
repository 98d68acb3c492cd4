"""The independent reviewing officer (IRO): made by an administrator, allocated to a looked-after
child by a manager, sees those children and their episodes (never an interview, never anyone
else's child), and is told when the child goes missing and comes back, like the social worker."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.helpers import episodes_of, fresh, interview_of
from webapp import deadlines
from webapp.accounts.models import Role, User
from webapp.children.models import Child, LegalStatus
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus
from webapp.reminders.models import Reminder, ReminderStatus

H = timedelta(hours=1)
MISSING_BODY = "A child you are the independent reviewing officer for has been reported missing."
BACK_BODY = "A child you are the independent reviewing officer for is back."


def local(dt):
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


def rows(subject_id, status=None) -> dict[str, Reminder]:
    db.session.expire_all()
    q = select(Reminder).where(Reminder.subject_id == subject_id)
    if status:
        q = q.where(Reminder.status == status)
    return {f"{r.kind}@{r.recipient_id}": r for r in db.session.scalars(q)}


@pytest.fixture
def people(app):
    authority = factories.local_authority()
    iro = factories.iro(authority, name="Testiro Person")
    other_iro = factories.iro(authority)
    carer = factories.carer(authority)
    sw = factories.user(Role.SOCIAL_WORKER, authority=authority)
    manager = factories.manager(authority)
    mine = factories.placed_child(
        carer,
        first_name="Zorya",
        social_worker_id=sw.id,
        iro_id=iro.id,
        date_of_birth=date(2011, 5, 14),
    )
    theirs = factories.child(
        authority, first_name="Quillon", legal_status=LegalStatus.LOOKED_AFTER, iro_id=other_iro.id
    )
    # Allocated on the record but not looked after (any more): an IRO has no part here.
    not_looked_after = factories.child(authority, first_name="Brisbane", iro_id=iro.id)
    db.session.commit()
    return {
        "authority": authority,
        "iro": iro,
        "other_iro": other_iro,
        "carer": carer,
        "sw": sw,
        "manager": manager,
        "mine": mine,
        "theirs": theirs,
        "not_looked_after": not_looked_after,
    }


@pytest.mark.both_databases
def test_an_iro_sees_only_the_looked_after_children_allocated_to_them(as_user, people):
    mine, theirs, not_lac = people["mine"], people["theirs"], people["not_looked_after"]
    episodes = {c.id: factories.episode(c) for c in (mine, theirs, not_lac)}
    db.session.commit()
    iro = as_user(people["iro"])

    listing = iro.get("/children/")
    assert listing.status_code == 200
    body = listing.get_data(as_text=True)
    assert "Zorya" in body and "Quillon" not in body and "Brisbane" not in body
    # The navigation offers the children list (an IRO's home page is that list).
    assert 'class="hw-header__nav-link" href="/children/"' in body

    page = iro.get(f"/children/{mine.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Independent reviewing officer" in text and "Testiro Person" in text
    # Seeing the child is not reporting for the child, keeping its profile or its plan.
    assert "Report missing" not in text and "Standing profile" not in text
    assert iro.get(f"/episodes/{episodes[mine.id].id}").status_code == 200
    assert iro.get(f"/api/v1/episodes/{episodes[mine.id].id}").status_code == 200

    for child in (theirs, not_lac):
        assert iro.get(f"/children/{child.id}").status_code == 404
        assert iro.get(f"/episodes/{episodes[child.id].id}").status_code == 404
        assert iro.get(f"/api/v1/episodes/{episodes[child.id].id}").status_code == 404
    # Nor may an IRO act: no report, no return, no new child.
    assert iro.get(f"/children/{mine.id}/episodes/new").status_code == 404
    assert iro.get(f"/episodes/{episodes[mine.id].id}/return").status_code == 404
    assert iro.get("/children/new").status_code == 404

    # The other IRO sees their own child, not this one.
    other = as_user(people["other_iro"])
    assert other.get(f"/children/{theirs.id}").status_code == 200
    assert other.get(f"/children/{mine.id}").status_code == 404


def test_an_iro_never_reads_an_interview_even_authorised(as_user, people):
    mine = people["mine"]
    interview = factories.interview(
        status=InterviewStatus.AUTHORISED,
        child_=mine,
        answers={"why_details": "Canary-IRO-4417"},
    )
    db.session.commit()
    iro = as_user(people["iro"])
    assert iro.get(f"/interviews/{interview.id}").status_code == 404
    page = iro.get(f"/children/{mine.id}").get_data(as_text=True)
    assert f"/interviews/{interview.id}" not in page and "Canary-IRO-4417" not in page
    # The social worker, by contrast, reads it once authorised: the interview exists.
    assert as_user(people["sw"]).get(f"/interviews/{interview.id}").status_code == 200


@pytest.mark.both_databases
def test_the_iro_is_told_when_the_child_goes_missing_and_comes_back(as_user, people):
    mine, iro = people["mine"], people["iro"]
    phone = as_user(people["carer"])
    r = phone.post(
        f"/children/{mine.id}/episodes/new",
        {
            "reported_type": "missing",
            "last_seen_at": local(datetime.now(UTC) - 3 * H),
            "where_last_seen": "Canary-IRO-place",
            "due_back_at": "",
            "reported_to_police_at": "",
            "police_log_number": "",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    (episode,) = episodes_of(mine.id)

    told = rows(episode.id)[f"iro_missing@{iro.id}"]
    assert told.status == ReminderStatus.PENDING and told.urgency == "high"
    assert told.title == "Child reported missing" and told.body == MISSING_BODY
    assert told.due_at <= datetime.now(UTC)
    for text in (told.title, told.body):
        assert "Zorya" not in text and "Canary" not in text
    # Nobody else's IRO is told.
    assert not any(k.endswith(f"@{people['other_iro'].id}") for k in rows(episode.id))

    # The notification centre shows it, and the tap lands on the episode the IRO may see.
    officer = as_user(iro)
    assert "Child reported missing" in officer.get("/notifications/").get_data(as_text=True)
    landed = officer.get(f"/notifications/{told.id}")
    assert landed.status_code == 302 and landed.headers["Location"].endswith(
        f"/episodes/{episode.id}"
    )
    assert officer.get(landed.headers["Location"]).status_code == 200

    back = datetime.now(UTC) - H
    r = phone.post(
        f"/episodes/{episode.id}/return",
        {
            "returned_at": local(back),
            "how_returned": "own_accord",
            "where_found": "",
            "who_with": "",
            "welfare": "",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    returned = rows(episode.id)[f"iro_returned@{iro.id}"]
    assert returned.status == ReminderStatus.PENDING and returned.urgency == "normal"
    assert returned.body == BACK_BODY and returned.title == "Child back"
    assert returned.due_at == fresh(episode).returned_at
    # The return interview's 72-hour clock started; the IRO still never reads it.
    assert officer.get(f"/interviews/{interview_of(mine.id).id}").status_code == 404


@pytest.mark.both_databases
def test_no_iro_reminder_for_a_child_not_looked_after(people):
    child = people["not_looked_after"]
    episode = factories.episode(child, last_seen_hours_ago=2, missing_hours=None)
    db.session.commit()
    assert not any(k.startswith("iro_") for k in rows(episode.id))


@pytest.mark.both_databases
def test_the_iro_reminders_follow_the_childs_iro(people):
    """CHILD_FACTS: allocating, changing or removing the IRO (or the child ceasing to be looked
    after) recomputes the open episode's reminders."""
    mine, iro, other = people["mine"], people["iro"], people["other_iro"]
    episode = factories.episode(mine, last_seen_hours_ago=2, missing_hours=None)
    db.session.commit()
    assert rows(episode.id)[f"iro_missing@{iro.id}"].status == ReminderStatus.PENDING

    child = fresh(mine)
    child.iro_id = other.id
    db.session.commit()
    got = rows(episode.id)
    assert got[f"iro_missing@{iro.id}"].status == ReminderStatus.CANCELLED
    assert got[f"iro_missing@{other.id}"].status == ReminderStatus.PENDING

    child = fresh(child)
    child.looked_after = False
    child.legal_status = LegalStatus.CHILD_IN_NEED
    db.session.commit()
    assert rows(episode.id)[f"iro_missing@{other.id}"].status == ReminderStatus.CANCELLED


def test_a_manager_allocates_an_iro_of_their_authority_to_a_looked_after_child(as_user, people):
    other_authority_iro = factories.iro()
    db.session.commit()
    manager = as_user(people["manager"])
    form = manager.get("/children/new").get_data(as_text=True)
    assert "Independent reviewing officer" in form
    assert people["iro"].id in form and other_authority_iro.id not in form

    def post(legal_status, iro_id):
        return manager.post(
            "/children/new",
            {
                "first_name": "Ottoline",
                "last_name": "Testcase",
                "date_of_birth": ["4", "7", "2011"],
                "sex": "female",
                "legal_status": legal_status,
                "school_id": "",
                "social_worker_id": "",
                "carer_id": "",
                "iro_id": iro_id,
            },
        )

    # Not looked after: refused beside the field, what was typed kept.
    r = post("none", people["iro"].id)
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Only a looked-after child has an independent reviewing officer" in body
    assert 'value="Ottoline"' in body
    # Another authority's IRO is not on the list.
    assert post("looked_after", other_authority_iro.id).status_code == 422

    r = post("looked_after", people["iro"].id)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    child = db.session.get(Child, r.headers["Location"].rsplit("/", 1)[1])
    assert child.iro_id == people["iro"].id
    assert as_user(people["iro"]).get(f"/children/{child.id}").status_code == 200


def test_an_administrator_makes_a_social_worker_an_iro(as_user, people):
    admin = factories.user(Role.ADMIN, authority=people["authority"])
    person = factories.user(Role.SOCIAL_WORKER, authority=people["authority"])
    db.session.commit()
    page = as_user(admin).get(f"/admin/users/{person.id}").get_data(as_text=True)
    assert "Independent reviewing officer" in page
    r = as_user(admin).post(f"/admin/users/{person.id}", {"role": "iro", "team": ""})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.scalar(select(User.role).where(User.id == person.id)) == "iro"
