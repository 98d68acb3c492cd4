"""Correcting an episode's facts (issue 12): a manager changes what was reported and when the
child was last seen or came back, with a reason; the correction, its author and reason are kept
(sealed) and shown to managers; the return interview's 72-hour deadline and the reminders follow;
overlapping another episode, a return before last seen, a time in the future, no reason, and
another's change made meanwhile are refused in words with what was typed kept."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests import factories
from webapp import deadlines
from webapp.accounts.models import Role
from webapp.db_types import utcnow
from webapp.episodes.models import Episode, EpisodeChange
from webapp.extensions import db
from webapp.reminders.models import Reminder

H = timedelta(hours=1)
REASON = "Police log says 18:40, Canary-Corr-5521"


def local(dt) -> str:
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def world(app):
    authority = factories.local_authority()
    manager = factories.manager(authority)
    child = factories.child(authority)
    interview = factories.interview(child_=child, returned_hours_ago=10, manager_=manager)
    db.session.commit()
    return {
        "authority": authority,
        "manager": manager,
        "child": child,
        "interview": interview,
        "episode": interview.episodes[0],
    }


def form(episode: Episode, seen: str, **over) -> dict:
    data = {
        "reported_type": episode.reported_type,
        "last_seen_at": local(episode.last_seen_at),
        "returned_at": local(episode.returned_at) if episode.returned_at else "",
        "reason": REASON,
        "seen": seen,
    }
    return data | over


def seen_of(browser, episode) -> str:
    page = browser.get(f"/episodes/{episode.id}/correct").get_data(as_text=True)
    return re.search(r'name="seen"[^>]*value="([^"]+)"', page).group(1)


@pytest.mark.both_databases
def test_a_corrected_return_time_moves_the_interview_deadline_and_is_kept(as_user, world):
    episode, interview = world["episode"], world["interview"]
    manager = as_user(world["manager"])
    earlier = episode.returned_at - 5 * H
    r = manager.post(
        f"/episodes/{episode.id}/correct",
        form(episode, seen_of(manager, episode), returned_at=local(earlier)),
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    db.session.expire_all()
    interview = db.session.get(type(interview), interview.id)
    assert interview.due_at == deadlines.rhi_due_at(db.session.get(Episode, episode.id).returned_at)
    assert abs(interview.due_at - (earlier.replace(second=0, microsecond=0) + 72 * H)) < H
    (change,) = db.session.scalars(
        select(EpisodeChange).where(EpisodeChange.episode_id == episode.id)
    )
    assert change.fields == "returned_at" and change.values["reason"] == REASON
    raw = db.session.execute(
        text("SELECT values_enc FROM episode_changes WHERE id = :id"), {"id": change.id}
    ).scalar()
    assert "Canary-Corr" not in raw
    page = manager.get(f"/episodes/{episode.id}").get_data(as_text=True)
    assert "Corrections" in page and REASON in page
    # The interview's reminders follow the new deadline.
    overdue = db.session.scalars(
        select(Reminder).where(Reminder.subject_id == interview.id, Reminder.kind == "rhi_overdue")
    ).all()
    assert overdue and all(r.due_at == interview.due_at for r in overdue if r.status == "pending")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"reason": ""}, "Enter why the episode is corrected"),
        ({"returned_at": "past"}, "The return must be after the time last seen"),
        ({"last_seen_at": "future"}, "The time last seen must be in the past"),
        ({"last_seen_at": "overlap"}, "These times overlap another episode of this child"),
    ],
)
def test_a_correction_the_facts_forbid_is_refused_with_what_was_typed_kept(
    as_user, world, over, message
):
    episode = world["episode"]
    other = factories.episode(world["child"], last_seen_hours_ago=200, missing_hours=20)
    db.session.commit()
    values = dict(over)
    if values.get("returned_at") == "past":
        values["returned_at"] = local(episode.last_seen_at - 2 * H)
    if values.get("last_seen_at") == "future":
        values["last_seen_at"] = local(utcnow() + 3 * H)
    if values.get("last_seen_at") == "overlap":
        values["last_seen_at"] = local(other.last_seen_at + H)
    manager = as_user(world["manager"])
    r = manager.post(
        f"/episodes/{episode.id}/correct", form(episode, seen_of(manager, episode), **values)
    )
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert message in body
    if values.get("reason", REASON):
        assert REASON in body  # what was typed is kept
    assert not db.session.scalars(select(EpisodeChange)).all()


def test_a_correction_made_meanwhile_is_not_overwritten(as_user, world):
    episode = world["episode"]
    colleague = factories.manager(world["authority"])
    db.session.commit()
    first, second = as_user(world["manager"]), as_user(colleague)
    seen_first, seen_second = seen_of(first, episode), seen_of(second, episode)
    assert (
        first.post(
            f"/episodes/{episode.id}/correct", form(episode, seen_first, reported_type="absent")
        ).status_code
        == 302
    )
    r = second.post(f"/episodes/{episode.id}/correct", form(episode, seen_second))
    assert r.status_code == 422 and "Someone else changed this episode" in r.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.WORKER, Role.SOCIAL_WORKER, Role.CARER])
def test_only_managers_correct_an_episode(as_user, world, role):
    person = factories.user(role, authority=world["authority"])
    db.session.commit()
    browser = as_user(person)
    episode = world["episode"]
    assert browser.get(f"/episodes/{episode.id}/correct").status_code in (403, 404)
    assert browser.post(f"/episodes/{episode.id}/correct", form(episode, "")).status_code in (
        403,
        404,
    )
    assert not db.session.scalars(select(EpisodeChange)).all()


# ---------------------------------------------------------------- withdrawing an episode

WITHDRAW = "A duplicate of the report made an hour earlier"


def withdraw(browser, episode, reason=WITHDRAW):
    page = browser.get(f"/episodes/{episode.id}/correct").get_data(as_text=True)
    seen = re.findall(r'name="seen"[^>]*value="([^"]+)"', page)[-1]
    return browser.post(
        f"/episodes/{episode.id}/withdraw", {"withdraw_reason": reason, "seen": seen}
    )


@pytest.mark.both_databases
def test_a_duplicate_report_is_withdrawn_and_counts_for_nothing(as_user, world):
    child = world["child"]
    # After the world's episode came back (10 hours ago): an open episode before it would
    # overlap it (SSDA903 rule 574, refused at entry).
    duplicate = factories.episode(child, last_seen_hours_ago=8, missing_hours=None)
    db.session.commit()
    pending = select(Reminder).where(
        Reminder.subject_id == duplicate.id, Reminder.status == "pending"
    )
    assert db.session.scalars(pending).all()  # Need to Know and the rest, before
    manager = as_user(world["manager"])
    assert f"/episodes/{duplicate.id}" in manager.get("/manage/").get_data(as_text=True)
    r = withdraw(manager, duplicate)
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    db.session.expire_all()
    assert db.session.get(Episode, duplicate.id).status == "withdrawn"  # kept, never deleted
    assert not db.session.scalars(pending).all()  # its reminders cancelled
    board = manager.get("/manage/").get_data(as_text=True)
    assert f"/episodes/{duplicate.id}" not in board  # no escalation, not missing now
    shown = manager.get(f"/children/{child.id}").get_data(as_text=True)
    assert "Withdrawn: recorded by mistake" in shown
    assert WITHDRAW in manager.get(f"/episodes/{duplicate.id}").get_data(as_text=True)
    # The child may be reported missing again for that time: it overlaps nothing now.
    from webapp.episodes import service

    again = service.report_missing(
        world["manager"], child, {"reported_type": "missing", "last_seen_at": utcnow() - 7 * H}
    )
    assert again.status == "missing"


@pytest.mark.both_databases
def test_an_interview_for_the_withdrawn_episode_alone_is_no_longer_needed(as_user, world):
    interview, episode = world["interview"], world["episode"]
    interview.status = "awaiting_allocation"
    interview.allocated_to_id = None
    db.session.commit()
    assert withdraw(as_user(world["manager"]), episode).status_code == 302
    db.session.expire_all()
    interview = db.session.get(type(interview), interview.id)
    assert interview.status == "not_needed"
    assert not db.session.scalars(
        select(Reminder).where(Reminder.subject_id == interview.id, Reminder.status == "pending")
    ).all()


@pytest.mark.both_databases
def test_an_interview_covering_others_goes_on_due_from_their_earliest_return(as_user, world):
    interview, episode = world["interview"], world["episode"]
    later = factories.episode(world["child"], last_seen_hours_ago=5, missing_hours=2)
    interview.episodes.append(later)
    db.session.commit()
    assert withdraw(as_user(world["manager"]), episode).status_code == 302
    db.session.expire_all()
    interview = db.session.get(type(interview), interview.id)
    assert [e.id for e in interview.episodes] == [later.id]
    assert interview.due_at == deadlines.rhi_due_at(db.session.get(Episode, later.id).returned_at)
    assert interview.status != "not_needed"


def test_a_withdrawal_needs_a_reason_a_manager_and_happens_once(as_user, world):
    episode = world["episode"]
    manager = as_user(world["manager"])
    r = withdraw(manager, episode, reason="")
    assert r.status_code == 422 and "Enter why the episode is withdrawn" in r.get_data(as_text=True)
    worker = factories.worker(world["authority"])
    db.session.commit()
    assert as_user(worker).post(
        f"/episodes/{episode.id}/withdraw", {"withdraw_reason": WITHDRAW}
    ).status_code in (403, 404)
    db.session.expire_all()
    assert db.session.get(Episode, episode.id).status != "withdrawn"
    assert withdraw(manager, episode).status_code == 302
    r = manager.post(f"/episodes/{episode.id}/withdraw", {"withdraw_reason": WITHDRAW})
    assert r.status_code == 422 and "already withdrawn" in r.get_data(as_text=True)


def test_a_withdrawn_episode_is_not_corrected(as_user, world):
    episode = world["episode"]
    manager = as_user(world["manager"])
    assert withdraw(manager, episode).status_code == 302
    assert "is withdrawn" in manager.get(f"/episodes/{episode.id}/correct").get_data(as_text=True)
    r = manager.post(f"/episodes/{episode.id}/correct", form(episode, "", reported_type="absent"))
    assert r.status_code == 422 and "This episode is withdrawn" in r.get_data(as_text=True)
