"""The risk assessment and action plan through the real HTTP stack: the social worker and the
carer complete it together and each signs it off for themself; a change after a sign-off clears
both; a broken rule keeps what was typed; only the child's own people see it; every read and
change is audited; what anyone wrote is sealed at rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests import factories
from tests.integration.helpers import fresh
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.carers import plan_rules, plans
from webapp.carers.models import RiskPlan
from webapp.db_types import utcnow
from webapp.extensions import db

CANARY = "Canary-Plan-7f3a"


@pytest.fixture
def people(app):
    """A child placed with a carer, with a social worker and a manager of its authority."""
    authority = factories.local_authority()
    carer = factories.user(Role.CARER, authority=authority)
    social_worker = factories.user(Role.SOCIAL_WORKER, authority=authority)
    manager = factories.manager(authority)
    child = factories.child(authority, carer_id=carer.id, social_worker_id=social_worker.id)
    db.session.commit()
    return {"carer": carer, "sw": social_worker, "manager": manager, "child": child}


def form(**kw) -> dict:
    data = {
        "pattern": f"Goes to the retail park {CANARY}",
        "report_after_hours": "2",
        "contacts-0-name": "Aunt",
        "contacts-0-phone": "07000 000000",
        "addresses-0-address": "The retail park",
        "addresses-0-risk": "high",
        "addresses-0-action": "Drive round once",
        "addresses-0-max_wait_hours": "1",
    }
    data.update(kw)
    return data


def test_completed_together_and_signed_off_by_each(people, as_user):
    child = people["child"]
    url = f"/children/{child.id}/plan"
    sw = as_user(people["sw"])
    assert sw.get(url).status_code == 200
    r = sw.post(url, form())
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    plan = db.session.get(RiskPlan, child.id)
    assert plan.report_after_hours == 2
    assert plan.content["addresses"] == [
        {
            "address": "The retail park",
            "risk": "high",
            "action": "Drive round once",
            "max_wait_hours": 1,
        }
    ]
    assert plan.content["contacts"][0]["name"] == "Aunt"

    # The carer sees what was saved, and signs it off.
    carer = as_user(people["carer"])
    page = carer.get(url).get_data(as_text=True)
    assert "The retail park" in page and "Not signed" in page
    assert carer.post(f"{url}/sign").status_code == 302
    plan = fresh(plan)
    assert plan.carer_signed_by_id == people["carer"].id and plan.carer_signed_at
    assert plan.reviewed_at is None

    # The social worker signs too: that is a review, and the next falls due 6 months on.
    assert sw.post(f"{url}/sign").status_code == 302
    plan = fresh(plan)
    assert plan.social_worker_signed_by_id == people["sw"].id
    assert plan.reviewed_at == plan.social_worker_signed_at
    assert plan.review_due_at == plan_rules.review_due_at(plan.reviewed_at)
    assert plan.review_due_at - plan.reviewed_at > timedelta(days=180)

    # Saving it unchanged keeps the sign-offs; changing it clears both.
    assert sw.post(url, form()).status_code == 302
    assert fresh(plan).carer_signed_at is not None
    assert carer.post(url, form(report_after_hours="3")).status_code == 302
    plan = fresh(plan)
    assert plan.carer_signed_at is None and plan.social_worker_signed_at is None
    assert plan.reviewed_at is not None  # the last review still stands

    actions = set(
        db.session.execute(
            select(AuditEvent.action, AuditEvent.user_id).where(
                AuditEvent.object_type == "risk_plan", AuditEvent.child_id == child.id
            )
        )
    )
    assert {
        ("create", people["sw"].id),
        ("view", people["carer"].id),
        ("sign", people["carer"].id),
        ("sign", people["sw"].id),
        ("update", people["carer"].id),
    } <= actions


def test_seven_hours_is_refused_and_what_was_typed_is_kept(people, as_user):
    child = people["child"]
    sw = as_user(people["sw"])
    r = sw.post(f"/children/{child.id}/plan", form(report_after_hours="7"))
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "govuk-error-summary" in page and "no more than 6 hours" in page
    assert 'href="#report_after_hours"' in page
    assert CANARY in page and "The retail park" in page
    assert db.session.get(RiskPlan, child.id) is None


def test_an_address_rule_shows_beside_its_row(people, as_user):
    child = people["child"]
    r = as_user(people["carer"]).post(
        f"/children/{child.id}/plan", form(**{"addresses-0-max_wait_hours": "9"})
    )
    assert r.status_code == 422
    assert 'href="#addresses-0-max_wait_hours"' in r.get_data(as_text=True)


def test_only_the_childs_own_people_see_or_sign_it(people, as_user):
    child = people["child"]
    url = f"/children/{child.id}/plan"
    assert as_user(people["sw"]).post(url, form()).status_code == 302
    other_carer = factories.user(Role.CARER)
    worker = factories.worker()
    other_manager = factories.manager()
    db.session.commit()
    for who in (other_carer, worker, other_manager):
        b = as_user(who)
        assert b.get(url).status_code == 404
        assert b.post(url, form(pattern="x")).status_code == 404
        assert b.post(f"{url}/sign").status_code == 404
    # A manager of the authority may read and edit, but signs for no one.
    m = as_user(people["manager"])
    assert m.get(url).status_code == 200
    assert m.post(f"{url}/sign").status_code == 404
    assert "x" != fresh(db.session.get(RiskPlan, child.id)).content["pattern"]


def test_signing_before_saving_is_a_rule(people, as_user):
    child = people["child"]
    r = as_user(people["carer"]).post(f"/children/{child.id}/plan/sign")
    assert r.status_code == 422
    assert "Save the plan before signing it off" in r.get_data(as_text=True)


@pytest.mark.both_databases
def test_the_plan_is_sealed_at_rest_and_summarised_for_the_phone(people):
    child = people["child"]
    plan = plans.save_plan(
        people["carer"],
        child,
        {"pattern": CANARY, "report_after_hours": "4", "contacts": [], "addresses": []},
    )
    raw = db.session.execute(
        text("SELECT content_enc FROM risk_plans WHERE id = :id"), {"id": child.id}
    ).scalar_one()
    assert CANARY not in raw
    summary = plans.plan_summary(plan)
    assert summary["report_after_hours"] == 4 and summary["pattern"] == CANARY
    assert summary["exists"] is True and summary["review_due_at"] is None
    assert plans.plan_summary(None) == {"exists": False, "report_after_hours": None}


def test_a_return_since_the_review_brings_the_review_forward(people):
    child = people["child"]
    plans.save_plan(people["sw"], child, {"report_after_hours": "1"})
    plans.sign_plan(people["carer"], child)
    plan = plans.sign_plan(people["sw"], child)
    reviewed = plan.reviewed_at
    episode = factories.episode(child, last_seen_hours_ago=-1, missing_hours=None)
    episode.last_seen_at = utcnow() + timedelta(minutes=1)
    episode.returned_at = episode.last_seen_at + timedelta(hours=3)
    episode.status = "returned"
    db.session.commit()
    plan = fresh(plan)
    assert plan.review_due_at == episode.returned_at + timedelta(days=7)
    assert plan.reviewed_at == reviewed
