"""Correcting a child's record: a manager changes what was typed (legal status, placement and
carer, school, flags, the authorities, the authority's identifier); the change and its author are
kept in the child's history with what each field said before and after (sealed); a change made
meanwhile by someone else is not overwritten; the reminders follow the corrected facts (a host
authority's managers are told of the episodes of a child placed out of area)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from tests import factories
from webapp.accounts.models import OrgKind, Role
from webapp.audit import AuditEvent
from webapp.children.models import Child, ChildChange
from webapp.extensions import db
from webapp.reminders.models import Reminder

CANARY_ID = "CORR-4471"


@pytest.fixture
def world(app):
    authority = factories.local_authority()
    host = factories.local_authority()
    people = {
        "authority": authority,
        "host": host,
        "manager": factories.manager(authority),
        "host_manager": factories.manager(host),
        "sw": factories.user(Role.SOCIAL_WORKER, authority=authority),
        "worker": factories.worker(authority),
        "home": factories.organisation(OrgKind.PROVIDER, authority),
        "child": factories.child(authority, first_name="Ottilie", last_name="Brandt"),
    }
    db.session.commit()
    return people


def form(child: Child, **over) -> dict:
    data = {
        "first_name": child.first_name,
        "last_name": child.last_name,
        # The GOV.UK date input: three boxes under one name.
        "date_of_birth": [
            str(child.date_of_birth.day),
            str(child.date_of_birth.month),
            str(child.date_of_birth.year),
        ],
        "sex": child.sex,
        "legal_status": child.legal_status,
        "authority_child_id": child.authority_child_id or "",
        "responsible_authority_id": child.responsible_authority_id,
        "host_authority_id": child.host_authority_id or "",
        "placement_provider_id": child.placement_provider_id or "",
        "carer_id": child.carer_id or "",
        "school_id": child.school_id or "",
        "social_worker_id": child.social_worker_id or "",
        "iro_id": child.iro_id or "",
    }
    return data | over


def seen_of(page: str) -> str:
    import re

    return re.search(r'name="seen"[^>]*value="([^"]+)"', page).group(1)


@pytest.mark.both_databases
def test_a_manager_corrects_a_child_and_the_history_keeps_who_what_and_when(as_user, world):
    child = world["child"]
    manager = as_user(world["manager"])
    page = manager.get(f"/children/{child.id}/edit").get_data(as_text=True)
    r = manager.post(
        f"/children/{child.id}/edit",
        form(
            child,
            seen=seen_of(page),
            legal_status="looked_after",
            placement_provider_id=world["home"].id,
            authority_child_id=CANARY_ID,
            flags=["flag_cse"],
        ),
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-3000:]
    child = db.session.get(Child, child.id)
    db.session.refresh(child)
    assert child.looked_after and child.legal_status == "looked_after"
    assert child.authority_child_id == CANARY_ID and child.flags == ["Risk of sexual exploitation"]
    (change,) = db.session.scalars(select(ChildChange).where(ChildChange.child_id == child.id))
    assert set(change.fields.split(",")) == {
        "legal_status",
        "placement_provider_id",
        "authority_child_id",
        "flags",
    }
    assert change.values["after"]["authority_child_id"] == CANARY_ID
    assert change.values["before"]["legal_status"] == "None"
    raw = db.session.execute(
        text("SELECT values_enc FROM child_changes WHERE id = :id"), {"id": change.id}
    ).scalar()
    assert CANARY_ID not in raw and "Risk of sexual" not in raw  # sealed
    audit = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == child.id, AuditEvent.action == "update")
    ).one()
    assert CANARY_ID not in (audit.detail or "")
    shown = manager.get(f"/children/{child.id}").get_data(as_text=True)
    assert "Changes to this record" in shown and world["manager"].name in shown
    # The social worker sees the child, not the history of corrections.
    assert "Changes to this record" not in as_user(world["sw"]).get(
        f"/children/{child.id}"
    ).get_data(as_text=True)


def test_a_change_made_meanwhile_is_not_overwritten(as_user, world):
    child = world["child"]
    colleague = factories.manager(world["authority"])
    db.session.commit()
    first, second = as_user(world["manager"]), as_user(colleague)
    seen = seen_of(first.get(f"/children/{child.id}/edit").get_data(as_text=True))
    other_seen = seen_of(second.get(f"/children/{child.id}/edit").get_data(as_text=True))
    assert (
        first.post(
            f"/children/{child.id}/edit", form(child, seen=seen, last_name="Brant")
        ).status_code
        == 302
    )
    r = second.post(
        f"/children/{child.id}/edit", form(child, seen=other_seen, first_name="Ottoline")
    )
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "Someone else changed this child" in body and 'value="Ottoline"' in body  # kept
    db.session.expire_all()
    assert db.session.get(Child, child.id).first_name == "Ottilie"


def test_the_authoritys_identifier_is_unique_and_short(as_user, world):
    other = factories.child(world["authority"], authority_child_id="DUP-1")
    db.session.commit()
    child = world["child"]
    manager = as_user(world["manager"])
    r = manager.post(f"/children/{child.id}/edit", form(child, authority_child_id="DUP-1"))
    assert r.status_code == 422
    assert "Another child of the authority has this identifier" in r.get_data(as_text=True)
    r = manager.post(f"/children/{child.id}/edit", form(child, authority_child_id="X" * 21))
    assert r.status_code == 422
    assert other.authority_child_id == "DUP-1"


@pytest.mark.parametrize("who", ["sw", "worker", "host_manager"])
def test_only_a_manager_who_sees_the_child_corrects_it(as_user, world, who):
    child = world["child"]
    browser = as_user(world[who])
    assert browser.get(f"/children/{child.id}/edit").status_code in (403, 404)
    assert browser.post(
        f"/children/{child.id}/edit", form(child, first_name="Hacked")
    ).status_code in (403, 404)
    db.session.expire_all()
    assert db.session.get(Child, child.id).first_name == "Ottilie"


@pytest.mark.both_databases
def test_a_host_authority_recorded_later_is_told_of_the_childs_episode(as_user, world):
    child = world["child"]
    factories.episode(child, last_seen_hours_ago=30, missing_hours=None)  # missing 30 hours
    db.session.commit()

    def need_to_know_recipients():
        return set(
            db.session.scalars(
                select(Reminder.recipient_id).where(
                    Reminder.kind == "need_to_know", Reminder.status == "pending"
                )
            )
        )

    assert world["host_manager"].id not in need_to_know_recipients()
    r = as_user(world["manager"]).post(
        f"/children/{child.id}/edit", form(child, host_authority_id=world["host"].id)
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert world["host_manager"].id in need_to_know_recipients()
