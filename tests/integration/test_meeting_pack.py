"""The monthly missing meeting pack (issue 13, Wigan appendix f): each section from hand-built
facts for one month, the access rules (another authority's children never appear), and the
actions agreed at one meeting carried to the next until done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.helpers import fresh
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.children.models import LegalStatus
from webapp.db_types import utcnow
from webapp.episodes.models import EpisodeStatus
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus
from webapp.oversight.meeting_models import MeetingAction

pytestmark = pytest.mark.both_databases

H = timedelta(hours=1)


def _last_month():
    today = utcnow().date().replace(day=1)
    first = (today - timedelta(days=1)).replace(day=1)
    return first, f"{first:%Y-%m}"


def _in_month(day: int, hour: int = 12) -> datetime:
    first, _ = _last_month()
    return datetime(first.year, first.month, day, hour, tzinfo=UTC)


def _episode(child, last_seen, hours=6, **kw):
    ago = (utcnow() - last_seen) / H
    return factories.episode(child, last_seen_hours_ago=ago, missing_hours=hours, **kw)


@pytest.fixture
def world(app):
    la = factories.local_authority()
    other = factories.local_authority()
    manager = factories.manager(la)
    sw = factories.user(Role.SOCIAL_WORKER, authority=la)
    frequent = factories.child(la, first_name="Frequent")
    for day in (3, 10, 17):
        _episode(frequent, _in_month(day))
    withdrawn_three = factories.child(la, first_name="Withdrawn")
    for day, status in ((4, None), (11, None), (18, EpisodeStatus.WITHDRAWN)):
        e = _episode(withdrawn_three, _in_month(day))
        if status:
            e.status = status
    flagged = factories.child(la, first_name="Flagged")
    flagged.sealed_flags = {"flag_cse": 1}
    _episode(flagged, _in_month(5))
    unreported = factories.child(la, first_name="Unreported")
    e = _episode(unreported, _in_month(6))
    e.reported_to_police_at = None
    away = factories.child(la, first_name="Away", legal_status=LegalStatus.LOOKED_AFTER)
    e = _episode(away, _in_month(7), reported_type="away")
    e.reported_to_police_at = None
    placed_here = factories.child(other, first_name="Placedhere", host_authority_id=la.id)
    _episode(placed_here, _in_month(8))
    placed_away = factories.child(la, first_name="Placedaway", host_authority_id=other.id)
    _episode(placed_away, _in_month(9))
    declined = factories.child(la, first_name="Declined")
    d_ep = _episode(declined, _in_month(12))
    factories.interview(
        child_=declined,
        episodes=[d_ep],
        status=InterviewStatus.AUTHORISED,
        manager_=manager,
        outcome="declined",
        offered="Y",
    )
    stranger = factories.child(other, first_name="Stranger")
    stranger.sealed_flags = {"flag_trafficking": 1}
    for day in (3, 10, 17):
        _episode(stranger, _in_month(day))
    db.session.commit()
    return {"la": la, "manager": manager, "sw": sw, "other": other}


def test_the_pack_for_a_month(as_user, world):
    _, month = _last_month()
    r = as_user(world["manager"]).get(f"/manage/meeting/?month={month}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    section = {
        name: html.split(f'id="{name}"')[1].split('<h2 class="govuk-heading-m"')[0]
        for name in ("frequent", "high-risk", "out-of-area", "unreported", "declined")
    }
    assert "Frequent " in section["frequent"]
    assert "Withdrawn " not in section["frequent"]  # its third episode was withdrawn
    assert "Flagged " in section["high-risk"] and "sexual exploitation" in section["high-risk"]
    here, away = section["out-of-area"].split("Ours, placed in other authorities")
    assert "Placedhere " in here and "Placedaway " not in here
    assert "Placedaway " in away
    assert "Unreported " in section["unreported"]
    assert "Away " not in section["unreported"]  # away from placement is not reported by rule
    assert "1 of 1 declined" in section["declined"] and "Declined " in section["declined"]
    # Another authority's child, however frequent or flagged, is never in the pack.
    assert "Stranger" not in html
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.object_type == "meeting_pack", AuditEvent.detail == month
        )
    )


def test_actions_are_carried_to_the_next_meeting_until_done(as_user, world):
    first, month = _last_month()
    this_month = f"{utcnow():%Y-%m}"
    manager = as_user(world["manager"])
    # Refused without an owner, keeping what was typed.
    r = manager.post(
        f"/manage/meeting/{month}/actions",
        {"text": "Ask police for the hotspot map", "owner_id": ""},
    )
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "Choose who owns the action from the list" in body
    assert "Ask police for the hotspot map" in body
    r = manager.post(
        f"/manage/meeting/{month}/actions",
        {
            "text": "Ask police for the hotspot map",
            "owner_id": world["sw"].id,
            "due_on": [str(first.day + 20), str(first.month), str(first.year)],
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    action = db.session.scalar(
        select(MeetingAction).where(MeetingAction.authority_id == world["la"].id)
    )
    assert action.text == "Ask police for the hotspot map"
    assert "hotspot" not in (action.text_enc or "")  # sealed at rest

    # Next month's pack carries it, with its owner, until it is recorded as done.
    page = manager.get(f"/manage/meeting/?month={this_month}").get_data(as_text=True)
    assert "Carried from earlier meetings" in page and "Ask police for the hotspot map" in page
    prefix = f"d{action.id[:8]}"
    r = manager.post(
        f"/manage/meeting/{this_month}/actions/{action.id}/done",
        {f"{prefix}-outcome": "Map shared at the meeting", f"{prefix}-version": "1"},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    assert fresh(action).done_at is not None
    page = manager.get(f"/manage/meeting/?month={this_month}").get_data(as_text=True)
    assert "Ask police for the hotspot map" not in page
    # A second "done" from a page opened before the first is refused, saying so.
    r = manager.post(
        f"/manage/meeting/{this_month}/actions/{action.id}/done",
        {f"{prefix}-outcome": "Again", f"{prefix}-version": "1"},
    )
    assert r.status_code == 422
    assert "already recorded as done" in r.get_data(as_text=True)


def test_who_reads_the_pack_and_who_records_actions(as_user, world):
    _, month = _last_month()
    senior = factories.user(Role.SENIOR_MANAGER, authority=world["la"])
    worker = factories.worker(world["la"])
    stranger = factories.manager(world["other"])
    db.session.commit()
    assert as_user(senior).get("/manage/meeting/").status_code == 200
    assert "Record the action" not in as_user(senior).get("/manage/meeting/").get_data(as_text=True)
    assert as_user(senior).post(
        f"/manage/meeting/{month}/actions", {"text": "x", "owner_id": world["sw"].id}
    ).status_code in (403, 404)
    assert as_user(worker).get("/manage/meeting/").status_code in (403, 404)
    # A manager of another authority cannot own or close this authority's actions.
    r = as_user(stranger).post(
        f"/manage/meeting/{month}/actions", {"text": "x", "owner_id": world["sw"].id}
    )
    assert r.status_code == 422
    assert not db.session.scalars(select(MeetingAction)).all()
