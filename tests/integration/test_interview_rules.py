"""One home for each interview rule: the workflow's actions and the answer validator, as the web
pages, the sync API and field mode's schema all see them."""

import html

import pytest

from tests import factories
from tests.integration.helpers import fresh
from tests.integration.test_sync_api import Device, mutation
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus


def _pulled(phone, interview):
    changes = phone.pull().json["changes"]
    return next(c for c in changes if c["record_id"] == interview.id)["payload"]


def test_sync_payload_carries_the_actions_this_user_may_take(as_user):
    worker = factories.worker()
    allocated = factories.interview(worker_=worker)
    submitted = factories.interview(worker_=worker, status=InterviewStatus.SUBMITTED)
    db.session.commit()
    phone = Device(as_user(worker))
    payload = _pulled(phone, allocated)
    assert payload["status"] == "allocated" and payload["status_label"] == "Allocated"
    assert payload["actions"] == [
        {"action": "edit", "label": "Save answers"},
        {"action": "submit", "label": "Send for authorisation"},
    ]
    sent = _pulled(phone, submitted)  # sent for authorisation: nothing left for the worker
    assert sent["status_label"] == "Awaiting authorisation" and sent["actions"] == []


def test_show_page_offers_what_the_workflow_allows(as_user):
    boss = factories.manager()
    submitted = factories.interview(manager_=boss, status=InterviewStatus.SUBMITTED)
    allocated = factories.interview(manager_=boss)
    db.session.commit()
    manager = as_user(boss)
    page = manager.get(f"/interviews/{submitted.id}").get_data(as_text=True)
    assert "Authorise" in page and "Send back for changes" in page
    assert "Send for authorisation" not in page
    page = manager.get(f"/interviews/{allocated.id}").get_data(as_text=True)
    assert 'value="authorise"' not in page and "Reallocate" in page


BAD_ANSWERS = [
    ("arrangements", "offered", "perhaps", "offered", "perhaps"),
    ("arrangements", "location", "x" * 201, "location", "x" * 201),
    ("why", "reasons", "flew", "reasons", ["flew"]),
]


@pytest.mark.parametrize(("section", "name", "form_value", "_n", "sync_value"), BAD_ANSWERS)
def test_the_form_and_sync_refuse_a_bad_answer_in_the_same_words(
    as_user, section, name, form_value, _n, sync_value
):
    from webapp.interviews.questions import QUESTIONS, check_answer

    try:
        check_answer(QUESTIONS[name], sync_value)
    except ValueError as err:
        expected = err.message
    else:
        raise AssertionError("the validator took it")
    interview = factories.interview()
    db.session.commit()
    worker = as_user(interview.allocated_to)
    r = worker.post(f"/interviews/{interview.id}/sections/{section}", {name: form_value})
    assert r.status_code == 422
    assert html.escape(expected, quote=False) in r.get_data(as_text=True)

    phone = Device(worker)
    pushed = phone.push([mutation(interview.id, fresh(interview).version, {name: sync_value})])
    error = pushed.json["results"][0]["error"]
    assert error["message"] == expected and error["field"] == name


def test_field_mode_is_given_the_validators_rules(as_user):
    worker = factories.worker()
    db.session.commit()
    schema = as_user(worker).get("/api/v1/schema/interview").json
    questions = {q["name"]: q for s in schema["sections"] for q in s["questions"]}
    assert questions["location"]["messages"]["too_long"] == (
        "Where was it held? must be 200 characters or fewer"
    )
    rules = {r["field"]: r for r in schema["required"]}
    assert rules["share_with"]["when"] == [{"outcome": ["accepted"], "consent_to_share": ["yes"]}]


def test_completeness_rules_as_data_say_what_is_missing():
    from webapp.interviews.questions import completeness_problems

    assert [p.field for p in completeness_problems({})] == ["offered"]
    declined = completeness_problems({"offered": "Y", "outcome": "declined"})
    assert [p.field for p in declined] == ["decline_reason", "attempts"]
    assert [p.field for p in completeness_problems({"offered": "N"})] == [
        "decline_reason",
        "attempts",
    ]
    accepted = {p.field for p in completeness_problems({"offered": "Y", "outcome": "accepted"})}
    assert "share_with" not in accepted and "held_at" in accepted
    consented = {"offered": "Y", "outcome": "accepted", "consent_to_share": "yes"}
    assert "share_with" in {p.field for p in completeness_problems(consented)}


@pytest.mark.parametrize(
    ("facts", "asked"),
    [
        ({"harm": ["hurt"]}, True),
        ({"harm": ["none"]}, False),
        ({"harm": ["none", "drugged"]}, True),
        ({"crime": "yes"}, True),
        ({"crime": "unsure"}, False),
        ({"held_captive": "yes"}, True),
        ({}, False),
    ],
)
def test_harm_a_crime_or_being_held_with_no_cp_referral_asks_why(facts, asked):
    """The rules say: a return interview that records harm, a crime or being held against their
    will, with "child protection referral: no", says why before it is sent for authorisation."""
    from webapp.interviews.questions import completeness_problems

    accepted = {"offered": "Y", "outcome": "accepted", "cp_referral": "no", **facts}
    missing = {p.field for p in completeness_problems(accepted)}
    assert ("cp_referral_reason" in missing) is asked
    # A referral made, or the reason given: nothing more is asked.
    assert "cp_referral_reason" not in {
        p.field for p in completeness_problems({**accepted, "cp_referral": "yes"})
    }
    assert "cp_referral_reason" not in {
        p.field
        for p in completeness_problems({**accepted, "cp_referral_reason": "Police already on it"})
    }


@pytest.mark.both_databases
def test_a_managers_phone_copies_only_what_is_allocated_to_them(as_user):
    """ "My returns" means allocated to me: the web pages keep the manager's wider view."""
    from webapp.db_types import utcnow

    me = factories.manager()
    interview = factories.interview(manager_=me)  # allocated by me to a worker of my authority
    db.session.commit()
    manager = as_user(me)
    assert manager.get(f"/interviews/{interview.id}").status_code == 200
    phone = Device(manager)
    assert phone.pull().json["changes"] == []

    interview.allocated_to_id, interview.allocated_at = me.id, utcnow()
    db.session.commit()
    got = [c["record_id"] for c in phone.pull().json["changes"]]
    assert got == [interview.id]
