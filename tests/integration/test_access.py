"""Least privilege: each role sees exactly its own children and records; the rest is 404."""

import pytest

from tests import factories
from tests.integration.helpers import episodes_of, interview_of
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus

# child -> the roles (demo emails) that may open the child's page
VISIBLE = {
    "leah": {"manager@demo.test", "sw@demo.test", "iro@demo.test"},
    "tyler": {"manager@demo.test", "dsl@demo.test"},
    "mia": {
        "manager@demo.test",
        "worker@demo.test",
        "sw@demo.test",
        "dsl@demo.test",
        "carer@demo.test",
        "iro@demo.test",
    },
    "kai": {"manager@demo.test", "worker@demo.test"},
    "ruby": {"manager@demo.test", "worker@demo.test", "dsl@demo.test"},
    "ella": {"manager@demo.test", "worker2@demo.test"},
    "finn": {"manager@southvale.test"},
}
USERS = [
    "manager@demo.test",
    "worker@demo.test",
    "worker2@demo.test",
    "sw@demo.test",
    "dsl@demo.test",
    "carer@demo.test",
    "iro@demo.test",
    "admin@demo.test",
    "manager@southvale.test",
]


@pytest.mark.parametrize("email", USERS)
def test_child_pages_and_episode_api_follow_the_rules(as_user, ids, email):
    person = as_user(email)
    for child, allowed in VISIBLE.items():
        expected = 200 if email in allowed else 404
        assert person.get(f"/children/{ids[child]}").status_code == expected, (email, child)
        for episode in episodes_of(ids[child]):
            got = person.get(f"/api/v1/episodes/{episode.id}").status_code
            assert got == expected, (email, child, "api")


@pytest.mark.both_databases
@pytest.mark.parametrize("email", USERS)
def test_children_list_shows_only_visible_children(as_user, ids, email):
    page = as_user(email).get("/children/")
    names = {
        "leah": "Leah Marsh",
        "tyler": "Tyler Grant",
        "mia": "Mia Cole",
        "kai": "Kai Turner",
        "ruby": "Ruby Ellis",
        "ella": "Ella Price",
        "finn": "Finn Walsh",
    }
    if email == "admin@demo.test":
        assert page.status_code == 404
        return
    body = page.get_data(as_text=True)
    for child, name in names.items():
        assert (name in body) == (email in VISIBLE[child]), (email, child)


def test_interview_content_only_for_worker_manager(as_user, ids):
    mia_interview = interview_of(ids["mia"])
    url = f"/interviews/{mia_interview.id}"
    assert as_user("worker@demo.test").get(url).status_code == 200
    assert as_user("manager@demo.test").get(url).status_code == 200
    for email in (
        "worker2@demo.test",
        "dsl@demo.test",
        "carer@demo.test",
        "iro@demo.test",
        "admin@demo.test",
        "manager@southvale.test",
    ):
        assert as_user(email).get(url).status_code == 404, email
    # The social worker sees where it stands, but reads it only once a manager has authorised
    # it (or while they hold it themself: tests/integration/test_sw_holds_interview.py).
    page = as_user("sw@demo.test").get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "You can read the interview once a manager has authorised it" in html
    # The manager's page shows the answers (the worker's shows the sections to fill in).
    worker_html = as_user("manager@demo.test").get(url).get_data(as_text=True)
    from markupsafe import escape

    from webapp.interviews import service as interviews

    written = [
        str(escape(v)) for v in interviews.answers(mia_interview).values() if isinstance(v, str)
    ]
    written = [v for v in written if len(v) > 12 and v in worker_html]
    assert written, "the demo interview has answers the manager reads"
    for text in written:
        assert text not in html


@pytest.mark.both_databases
def test_my_returns_lists_only_own_allocations_soonest_first(as_user):
    la = factories.local_authority()
    me = factories.worker(la)
    colleague = factories.worker(la, team_=me.team)
    due_soon = factories.interview(worker_=me, returned_hours_ago=60)
    overdue = factories.interview(worker_=me, returned_hours_ago=80)
    theirs = factories.interview(worker_=colleague)
    unallocated = factories.interview(
        status=InterviewStatus.AWAITING_ALLOCATION, child_=factories.child(la)
    )
    db.session.commit()

    def name(i):
        return f"{i.child.first_name} {i.child.last_name}"

    body = as_user(me).get("/returns").get_data(as_text=True)
    assert name(overdue) in body and name(due_soon) in body
    assert name(theirs) not in body and name(unallocated) not in body
    assert body.index(name(overdue)) < body.index(name(due_soon))
    assert "Overdue" in body


@pytest.mark.parametrize(
    "email",
    [
        "worker@demo.test",
        "dsl@demo.test",
        "carer@demo.test",
        "sw@demo.test",
        "iro@demo.test",
        "admin@demo.test",
    ],
)
def test_manager_actions_are_404_for_other_roles(as_user, ids, email):
    person = as_user(email)
    tyler = interview_of(ids["tyler"])
    leah_episode = episodes_of(ids["leah"])[0]
    assert person.get("/manage/").status_code == 404
    assert person.get("/children/new").status_code == 404
    assert (
        person.post(f"/interviews/{tyler.id}/allocate", {"worker_id": ids["worker"]}).status_code
        == 404
    )
    assert (
        person.post(
            f"/episodes/{leah_episode.id}/return",
            {"returned_at": "2026-01-01T10:00", "how_returned": "own_accord"},
        ).status_code
        == 404
    )
    assert person.get(f"/children/{ids['leah']}/episodes/new").status_code == 404


def test_another_worker_cannot_edit_or_submit(as_user, ids):
    kai = interview_of(ids["kai"])
    other = as_user("worker2@demo.test")
    assert other.get(f"/interviews/{kai.id}/sections/why").status_code == 404
    assert (
        other.post(f"/interviews/{kai.id}/sections/why", {"why_details": "overwrite"}).status_code
        == 404
    )
    assert other.post(f"/interviews/{kai.id}/submit").status_code == 404


@pytest.mark.both_databases
def test_team_visibility_is_configurable(app, as_user, ids):
    ella = interview_of(ids["ella"])
    worker = as_user("worker@demo.test")
    assert worker.get(f"/interviews/{ella.id}").status_code == 404
    app.config["HOMEWARD_WORKER_SEES_TEAM"] = True
    assert worker.get(f"/interviews/{ella.id}").status_code == 200


def test_signed_out_is_sent_to_sign_in_and_api_gets_401(app, ids):
    client = app.test_client()
    response = client.get(f"/children/{ids['mia']}")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    episode = episodes_of(ids["mia"])[0]
    api = client.get(f"/api/v1/episodes/{episode.id}")
    assert api.status_code == 401 and api.json["error"] == "unauthorized"


@pytest.mark.both_databases
def test_every_read_of_a_child_is_audited_with_user_and_device(app, as_user, ids):
    from sqlalchemy import select

    from webapp.audit import AuditEvent
    from webapp.extensions import db

    person = as_user("manager@demo.test")
    person.get(f"/children/{ids['mia']}")
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.child_id == ids["mia"], AuditEvent.action == "view")
    ).one()
    assert event.user_id == ids["manager"]
    assert event.device_id and event.user_agent is not None
    assert "Mia" not in (event.detail or "")
