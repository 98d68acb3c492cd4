"""What the SSDA903 Missing table would refuse is refused when it is typed (issue 13): an episode
starting before the child was born (DfE rule 586), ending before it started (567), or
overlapping another of the child's episodes (574: a new open episode runs on, so it overlaps a
later one), through the web forms, a carer's sync push, a correction, and a child's date of birth
corrected to after an episode. Each refusal is said beside its field with what was typed kept,
and nothing changes. The date care began (rule 581) is kept on the child's record."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.helpers import episodes_of, fresh
from tests.integration.test_sync_api import Device
from webapp import deadlines
from webapp.children.models import ChildChange, LegalStatus
from webapp.db_types import utcnow
from webapp.episodes.models import EpisodeChange
from webapp.extensions import db

H = timedelta(hours=1)
D = timedelta(days=1)


def local(dt) -> str:
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def world(app):
    authority = factories.local_authority()
    people = {
        "authority": authority,
        "manager": factories.manager(authority),
        # Born ten days ago (UK date): a baby reported missing is rare, but the rule is the
        # rule, and it keeps every time in the test in the past.
        "baby": factories.child(
            authority, date_of_birth=deadlines.to_local(utcnow()).date() - timedelta(days=10)
        ),
        "child": factories.child(authority),
    }
    db.session.commit()
    return people


def report_form(last_seen) -> dict:
    return {
        "reported_type": "missing",
        "missing_from": "home",
        "last_seen_at": local(last_seen),
        "police_category": "",
    }


@pytest.mark.both_databases
def test_a_report_before_the_date_of_birth_is_refused_beside_the_field(as_user, world):
    baby = world["baby"]
    manager = as_user(world["manager"])
    typed = report_form(utcnow() - 12 * D)
    r = manager.post(f"/children/{baby.id}/episodes/new", typed)
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "The time last seen must be on or after the child&#39;s date of birth" in body
    assert typed["last_seen_at"] in body  # what was typed is kept
    assert episodes_of(baby.id) == []
    # On the birth day itself (UK date) it is accepted.
    born = deadlines.local_to_utc(
        deadlines.to_local(utcnow()).replace(tzinfo=None, hour=0, minute=30) - 10 * D
    )
    r = manager.post(f"/children/{baby.id}/episodes/new", report_form(born))
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]


@pytest.mark.both_databases
def test_a_new_open_episode_before_a_later_one_is_refused(as_user, world):
    child = world["child"]
    whole_minute = utcnow().replace(second=0, microsecond=0)  # as a form can type it
    later = factories.episode(child, last_seen_hours_ago=48, missing_hours=6, now=whole_minute)
    db.session.commit()
    manager = as_user(world["manager"])
    r = manager.post(f"/children/{child.id}/episodes/new", report_form(later.last_seen_at - 5 * H))
    assert r.status_code == 422
    assert "This child has a later episode" in r.get_data(as_text=True)
    assert [e.id for e in episodes_of(child.id)] == [later.id]
    # Inside it: the earlier message. At its return exactly (touching): accepted.
    r = manager.post(f"/children/{child.id}/episodes/new", report_form(later.last_seen_at + H))
    assert "This time falls inside an earlier episode" in r.get_data(as_text=True)
    r = manager.post(f"/children/{child.id}/episodes/new", report_form(later.returned_at))
    assert r.status_code == 302


def test_a_withdrawn_episode_blocks_nothing(as_user, world):
    child = world["child"]
    factories.episode(child, last_seen_hours_ago=48, missing_hours=6).status = "withdrawn"
    db.session.commit()
    manager = as_user(world["manager"])
    r = manager.post(f"/children/{child.id}/episodes/new", report_form(utcnow() - 50 * H))
    assert r.status_code == 302


def test_a_return_past_the_start_of_a_later_episode_is_refused(as_user, world):
    # Records from before this rule: an open episode with a later one after it. Its return
    # must come before the later one began.
    child = world["child"]
    open_ = factories.episode(child, last_seen_hours_ago=240, missing_hours=None)
    later = factories.episode(child, last_seen_hours_ago=100, missing_hours=4)
    db.session.commit()
    manager = as_user(world["manager"])
    typed = {"returned_at": local(utcnow() - H), "how_returned": "own_accord"}
    r = manager.post(f"/episodes/{open_.id}/return", typed)
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "The child&#39;s next episode began at" in body and typed["returned_at"] in body
    assert fresh(open_).returned_at is None
    r = manager.post(
        f"/episodes/{open_.id}/return",
        {"returned_at": local(later.last_seen_at - H), "how_returned": "own_accord"},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]


def test_a_correction_before_the_date_of_birth_is_refused(as_user, world):
    baby = world["baby"]
    episode = factories.episode(baby, last_seen_hours_ago=48, missing_hours=6)
    db.session.commit()
    manager = as_user(world["manager"])
    page = manager.get(f"/episodes/{episode.id}/correct").get_data(as_text=True)
    seen = re.search(r'name="seen"[^>]*value="([^"]+)"', page).group(1)
    typed = {
        "reported_type": "missing",
        "last_seen_at": local(utcnow() - 11 * D),
        "returned_at": local(episode.returned_at),
        "reason": "Typed the wrong month",
        "seen": seen,
    }
    r = manager.post(f"/episodes/{episode.id}/correct", typed)
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "on or after the child&#39;s date of birth" in body and "Typed the wrong month" in body
    assert not db.session.scalars(select(EpisodeChange)).all()


@pytest.mark.both_databases
def test_a_carer_sync_push_is_refused_by_the_same_rules(as_user, app):
    from tests.integration.test_carer_sync import report, results, upsert

    carer = factories.carer()
    child = factories.placed_child(
        carer, date_of_birth=deadlines.to_local(utcnow()).date() - timedelta(days=3)
    )
    db.session.commit()
    phone = Device(as_user(carer))
    before_birth = report(
        child,
        reported_type="missing",
        last_seen_at=(utcnow() - 5 * D).isoformat(),
        due_back_at=None,
    )
    (r,) = results(phone.push([upsert("episode", str(uuid.uuid4()), None, before_birth)]))
    assert r["status"] == "rejected" and r["http_status"] == 422, r
    assert r["error"]["field"] == "last_seen_at"
    assert "date of birth" in r["error"]["message"]

    later = factories.episode(child, last_seen_hours_ago=10, missing_hours=2)
    db.session.commit()
    overlapping = report(
        child,
        reported_type="missing",
        last_seen_at=(later.last_seen_at - 3 * H).isoformat(),
        due_back_at=None,
    )
    (r,) = results(phone.push([upsert("episode", str(uuid.uuid4()), None, overlapping)]))
    assert r["status"] == "rejected" and r["error"]["field"] == "last_seen_at", r
    assert "later episode" in r["error"]["message"]
    assert [e.id for e in episodes_of(child.id)] == [later.id]


def child_form(child, **over) -> dict:
    data = {
        "first_name": child.first_name,
        "last_name": child.last_name,
        "date_of_birth": [
            str(child.date_of_birth.day),
            str(child.date_of_birth.month),
            str(child.date_of_birth.year),
        ],
        "sex": child.sex,
        "legal_status": child.legal_status,
        "authority_child_id": child.authority_child_id or "",
        "responsible_authority_id": child.responsible_authority_id,
        "host_authority_id": "",
        "placement_provider_id": "",
        "carer_id": "",
        "school_id": "",
        "social_worker_id": "",
        "iro_id": "",
        "looked_after_since": ["", "", ""],
    }
    return data | over


def test_a_date_of_birth_after_an_episode_is_refused(as_user, world):
    child = world["child"]
    episode = factories.episode(child, last_seen_hours_ago=24 * 30, missing_hours=6)
    db.session.commit()
    manager = as_user(world["manager"])
    started = deadlines.to_local(episode.last_seen_at).date()
    after = started + D
    r = manager.post(
        f"/children/{child.id}/edit",
        child_form(child, date_of_birth=[str(after.day), str(after.month), str(after.year)]),
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "the date of birth cannot be after it" in body
    assert fresh(child).date_of_birth == date(2010, 1, 1)
    # The episode's own day is fine (rule 586 compares dates).
    r = manager.post(
        f"/children/{child.id}/edit",
        child_form(child, date_of_birth=[str(started.day), str(started.month), str(started.year)]),
    )
    assert r.status_code == 302


def test_the_date_care_began_is_kept_with_its_history_and_only_while_looked_after(as_user, world):
    child = world["child"]
    manager = as_user(world["manager"])
    page = manager.get(f"/children/{child.id}/edit").get_data(as_text=True)
    assert 'name="looked_after_since"' in page
    since = ["4", "9", "2024"]
    # Not looked after: a date typed is refused rather than dropped.
    r = manager.post(f"/children/{child.id}/edit", child_form(child, looked_after_since=since))
    assert r.status_code == 422
    assert "only for a looked-after child" in r.get_data(as_text=True)
    assert fresh(child).looked_after_since is None
    r = manager.post(
        f"/children/{child.id}/edit",
        child_form(child, legal_status=LegalStatus.LOOKED_AFTER.value, looked_after_since=since),
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    assert fresh(child).looked_after_since == date(2024, 9, 4)
    change = db.session.scalars(select(ChildChange).where(ChildChange.child_id == child.id)).one()
    assert "looked_after_since" in change.fields.split(",")
    assert change.values["after"]["looked_after_since"] == "4 September 2024"

    # Before the birth, or in the future: refused beside the field, what was typed kept.
    for typed, message in (
        (["1", "1", "2009"], "on or after the date of birth"),
        (["1", "1", str(utcnow().year + 1)], "today or in the past"),
    ):
        r = manager.post(
            f"/children/{child.id}/edit",
            child_form(
                fresh(child),
                legal_status=LegalStatus.LOOKED_AFTER.value,
                looked_after_since=typed,
            ),
        )
        assert r.status_code == 422 and message in r.get_data(as_text=True)
    assert fresh(child).looked_after_since == date(2024, 9, 4)

    # Leaving care clears it, though the form still holds the date it was drawn with.
    r = manager.post(
        f"/children/{child.id}/edit",
        child_form(fresh(child), legal_status=LegalStatus.NONE.value, looked_after_since=since),
    )
    assert r.status_code == 302
    assert fresh(child).looked_after_since is None


def test_a_new_looked_after_child_may_be_added_with_the_date_care_began(as_user, world):
    manager = as_user(world["manager"])
    r = manager.post(
        "/children/new",
        {
            "first_name": "Wren",
            "last_name": "Addison",
            "date_of_birth": ["3", "3", "2012"],
            "sex": "female",
            "legal_status": "looked_after",
            "looked_after_since": ["1", "2", "2025"],
            "school_id": "",
            "social_worker_id": "",
            "carer_id": "",
            "iro_id": "",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    from webapp.children.models import Child

    wren = db.session.scalars(select(Child).where(Child.first_name == "Wren")).one()
    assert wren.looked_after and wren.looked_after_since == date(2025, 2, 1)
