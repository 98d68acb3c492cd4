"""The whole online journey: report, return, allocate, interview, submit, authorise, forward."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.helpers import episodes_of, fresh, interview_of
from webapp import deadlines
from webapp.interviews.models import InterviewStatus


def local(dt: datetime) -> str:
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.both_databases
def test_full_flow(as_user, ids):
    manager = as_user("manager@demo.test")
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    # A manager adds a child and records an episode.
    r = manager.post(
        "/children/new",
        {
            "first_name": "Zara",
            "last_name": "Quinn",
            "date_of_birth": ["4", "7", "2011"],
            "sex": "female",
            "legal_status": "looked_after",
            "school_id": ids["school"],
            "social_worker_id": ids["sw"],
            "carer_id": "",
            "flags": ["flag_cse"],
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    child_url = r.headers["Location"]
    child_id = child_url.rsplit("/", 1)[1]
    assert "Zara Quinn" in manager.get(child_url).get_data(as_text=True)

    last_seen = now - timedelta(hours=30)
    r = manager.post(
        f"/children/{child_id}/episodes/new",
        {
            "reported_type": "missing",
            "missing_from": "placement",
            "last_seen_at": local(last_seen),
            "circumstances": "Left after tea",
            "police_log_number": "NB-1",
            "police_category": "",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    episode_id = r.headers["Location"].rsplit("/", 1)[1]
    page = manager.get(f"/episodes/{episode_id}").get_data(as_text=True)
    assert "Need to Know" in page  # missing 30 h: the 24-hour escalation is due

    # The return starts the 72-hour clock.
    returned = now - timedelta(hours=2)
    r = manager.post(
        f"/episodes/{episode_id}/return",
        {"returned_at": local(returned), "how_returned": "found_by_police"},
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    interview = interview_of(child_id)
    assert interview.status == InterviewStatus.AWAITING_ALLOCATION
    assert interview.due_at == returned + timedelta(hours=72)
    assert "Zara Quinn" in manager.get("/manage/").get_data(as_text=True)

    # Allocate to the worker, who now sees it at the top of their returns.
    r = manager.post(f"/interviews/{interview.id}/allocate", {"worker_id": ids["worker"]})
    assert r.status_code == 302
    worker = as_user("worker@demo.test")
    assert "Zara Quinn" in worker.get("/returns").get_data(as_text=True)

    # Submitting too early lists what is missing.
    r = worker.post(f"/interviews/{interview.id}/submit")
    assert r.status_code == 422
    assert "Say whether an independent interview was offered" in r.get_data(as_text=True)

    held = now - timedelta(hours=1)
    sections = {
        "arrangements": {
            "offered": "Y",
            "outcome": "accepted",
            "independent": "yes",
            "held_at": local(held),
            "location": "School library",
            "present": "Zara and the worker",
            "school_checked": "yes",
        },
        "why": {"reasons": ["home", "friends"], "why_details": "Argument about phone"},
        "away": {"harm": ["none"], "where_stayed": "A friend's flat"},
        "returning": {"how_returned": "returned_by_police", "feel_now": "Tired"},
        "prevention": {"prevent": "Talk to key worker"},
        "concerns": {
            "cp_referral": "no",
            "consent_to_share": "yes",
            "share_with": "Police",
            "intelligence": "Older male, blue car",
        },
        "carers": {"carers_info": "Carer says she seemed scared"},
    }
    for slug, data in sections.items():
        r = worker.post(f"/interviews/{interview.id}/sections/{slug}", data)
        assert r.status_code == 302, (slug, r.get_data(as_text=True)[:2000])

    overview = worker.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert overview.count("Completed") >= 2
    r = worker.post(f"/interviews/{interview.id}/submit")
    assert r.status_code == 302
    assert fresh(interview).status == InterviewStatus.SUBMITTED

    # The manager reads it, sends it back with a note, the worker resubmits, it is authorised.
    page = manager.get(f"/interviews/{interview.id}").get_data(as_text=True)
    assert "Argument about phone" in page and "Older male, blue car" in page
    r = manager.post(f"/interviews/{interview.id}/review", {"decision": "send_back", "note": ""})
    assert r.status_code == 422 and "Say what needs to change" in r.get_data(as_text=True)
    r = manager.post(
        f"/interviews/{interview.id}/review",
        {"decision": "send_back", "note": "Add who collected her"},
    )
    assert r.status_code == 302 and fresh(interview).status == InterviewStatus.SENT_BACK
    assert "Add who collected her" in worker.get(f"/interviews/{interview.id}").get_data(
        as_text=True
    )
    r = worker.post(
        f"/interviews/{interview.id}/sections/returning",
        {"how_returned": "returned_by_police", "returned_by": "PC Smith"},
    )
    assert r.status_code == 302
    assert worker.post(f"/interviews/{interview.id}/submit").status_code == 302
    r = manager.post(f"/interviews/{interview.id}/review", {"decision": "authorise"})
    assert r.status_code == 302 and fresh(interview).status == InterviewStatus.AUTHORISED

    r = manager.post(
        f"/interviews/{interview.id}/forwarded", {"forwarded_at": local(datetime.now(UTC))}
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    assert fresh(interview).forwarded_to_police_at is not None
    # Once authorised the worker can no longer change it.
    assert (
        worker.post(
            f"/interviews/{interview.id}/sections/why", {"why_details": "late edit"}
        ).status_code
        == 404
    )


@pytest.mark.both_databases
def test_second_return_before_interview_joins_the_same_interview(as_user, ids):
    manager = as_user("manager@demo.test")
    mia = interview_of(ids["mia"])
    due_before = mia.due_at
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    r = manager.post(
        f"/children/{ids['mia']}/episodes/new",
        {
            "reported_type": "missing",
            "missing_from": "home",
            "last_seen_at": local(now - timedelta(hours=5)),
            "police_category": "",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    episode_id = r.headers["Location"].rsplit("/", 1)[1]
    r = manager.post(
        f"/episodes/{episode_id}/return",
        {"returned_at": local(now - timedelta(hours=1)), "how_returned": "own_accord"},
    )
    assert r.status_code == 302
    mia = fresh(mia)
    assert len(mia.episodes) == 2
    assert mia.due_at == due_before  # the clock of the earliest return still runs
    assert len(episodes_of(ids["mia"])) == 4
