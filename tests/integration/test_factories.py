"""The factories make data the app itself would accept: the organisation each role must belong
to, a password the sign-in takes, an interview whose clock and allocation agree."""

from datetime import timedelta

from tests import factories
from webapp.accounts.models import OrgKind, Role, User
from webapp.accounts.service import _expected_org_kind
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus


def test_each_role_belongs_where_the_accounts_service_says(app):
    for role in Role:
        person = factories.user(role)
        assert person.organisation.kind == _expected_org_kind(role), role


def test_a_factory_user_signs_in_and_one_without_a_password_cannot(app, as_user, browser):
    person, no_password = factories.worker(), factories.worker(password=None)
    db.session.commit()
    assert as_user(person).get("/returns").status_code == 200
    browser.get("/sign-in")
    r = browser.post("/sign-in", {"email": no_password.email, "password": "!unset:"})
    assert r.status_code == 401


def test_an_interview_is_due_72_hours_after_the_return_and_allocated_in_the_workers_team(app):
    i = factories.interview(returned_hours_ago=10)
    assert i.due_at - i.episodes[0].returned_at == timedelta(hours=72)
    worker = db.session.get(User, i.allocated_to_id)
    assert worker.role == Role.WORKER and i.team_id == worker.team_id is not None
    assert worker.organisation_id == i.child.responsible_authority_id
    waiting = factories.interview(status=InterviewStatus.AWAITING_ALLOCATION)
    assert waiting.allocated_to_id is None and waiting.team_id is None
    submitted = factories.interview(status=InterviewStatus.SUBMITTED)
    assert submitted.completed_by_id == submitted.allocated_to_id is not None
    assert factories.team().kind == OrgKind.TEAM
