"""The registry of sealed columns (webapp/keyring/registry.py) covers every column holding tokens.

`homeward keys rotate` re-encrypts only what the registry names, and `keys retire` then deletes
the old key: a sealed column missing from the registry would be left under the old key and become
unreadable. These tests seed a value into every kind of sealed column, through the app's own
write paths where they are plain functions, then read every table back with plain SQL.

`seed_every_sealed_column` is also used by test_keys_rotation.py.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import inspect, text

from tests import factories as f
from webapp import sealed
from webapp.db_types import new_id, utcnow
from webapp.extensions import db
from webapp.keyring.registry import sealed_columns

pytestmark = pytest.mark.both_databases

TOKEN = re.compile(r"hw1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def seed_every_sealed_column() -> dict:
    """A record in every table with a sealed column, each sealed column filled. Returns ids."""
    from webapp.accounts.models import OrgKind
    from webapp.carers.models import ChildProfile, RiskPlan
    from webapp.children.models import ChildChange
    from webapp.devices import service as devices
    from webapp.devices.models import Device
    from webapp.episodes.models import EpisodeChange, EscalationAction
    from webapp.fieldsync import store
    from webapp.oversight.meeting_models import MeetingAction
    from webapp.schools.absence_models import Enquiry, FollowUp, Referral
    from webapp.schools.cme_models import CmeCase

    la = f.local_authority()
    manager = f.manager(la)
    worker = f.worker(la)
    carer = f.carer(la)
    child = f.placed_child(carer)
    interview = f.interview(
        worker_=worker, manager_=manager, child_=child, answers={"why_details": "Seed-why"}
    )
    episode = interview.episodes[0]
    episode.police_log_number = "LOG-seed-1"
    episode.report = {"description": "Seed-report"}
    episode.return_details = {"where_found": "Seed-found"}
    episode.carer_notes = "Seed-carer-notes"
    episode.safe_and_well_by = "Seed-officer"
    episode.circumstances_enc = sealed.seal("Seed-circ", "episode", episode.id, "circumstances")
    interview.intelligence_enc = sealed.seal(
        "Seed-intel", "interview", interview.id, "intelligence"
    )
    interview.review_note_enc = sealed.seal("Seed-review", "interview", interview.id, "review_note")
    interview.appointment_place = "Seed-library"

    profile = db.session.get(ChildProfile, child.id) or ChildProfile(id=child.id)
    profile.content = {"appearance": "Seed-profile"}
    profile.photo = "Seed-photo"
    db.session.add(profile)
    plan = db.session.get(RiskPlan, child.id) or RiskPlan(id=child.id)
    plan.content = {"risks": "Seed-plan"}
    db.session.add(plan)

    db.session.add(ChildChange(child_id=child.id, fields="name", values={"old": "Seed-cc"}))
    db.session.add(EpisodeChange(episode_id=episode.id, fields="times", values={"o": "Seed-ec"}))
    db.session.add(
        EscalationAction(
            episode_id=episode.id,
            code="x",
            kind="x",
            done_at=utcnow(),
            details={"note": "Seed-esc"},
        )
    )
    db.session.add(
        MeetingAction(
            authority_id=la.id,
            month="2025-01",
            owner_id=manager.id,
            text="Seed-action",
            outcome="Seed-outcome",
        )
    )

    school = f.organisation(OrgKind.SCHOOL, la)
    pupil = f.school_pupil(school)
    notification = f.school_notification(pupil, school=school)
    db.session.add(
        CmeCase(
            child_id=pupil.id,
            school_id=school.id,
            opened_from_id=notification.id,
            joint_enquiries=["Seed-joint"],
            outcome_note="Seed-cme",
        )
    )
    followup = FollowUp(child_id=pupil.id, school_id=school.id, opened_on=date.today())
    db.session.add(followup)
    db.session.flush()
    db.session.add(
        Enquiry(followup_id=followup.id, at=utcnow(), kind="phone", outcome="Seed-enquiry")
    )
    db.session.add(
        Referral(followup_id=followup.id, answers={"q": "Seed-ref"}, reference="Seed-refno")
    )

    device_id = new_id()
    db.session.add(Device(id=device_id, user_id=worker.id, label="Seed phone"))
    db.session.flush()

    class _Server:
        version = 1

    conflict = store.save_conflict(
        worker, device_id, "episode", episode.id, 0, {"x": "Seed-conflict"}, _Server(), new_id()
    )
    # The second factor lands separately (issue 15); the factories enrol managers already.
    from webapp.accounts import models as accounts_models

    second_factor = getattr(accounts_models, "SecondFactor", None)
    if second_factor is not None and db.session.get(second_factor, manager.id) is None:
        f.enrol_second_factor(manager)
    db.session.commit()
    recovery = devices.recovery_key(worker, device_id)  # seals and commits, as the app does
    return {
        "interview": interview.id,
        "episode": episode.id,
        "child": child.id,
        "worker": worker.id,
        "manager": manager.id,
        "device": device_id,
        "conflict": conflict.id,
        "recovery_key": recovery,
        "pupil": pupil.id,
        "when": utcnow() - timedelta(seconds=1),
    }


def token_columns() -> dict[tuple[str, str], int]:
    """(table, column) -> how many rows hold an hw1 token anywhere in the value, read raw."""
    found: dict[tuple[str, str], int] = {}
    inspector = inspect(db.engine)
    for table in inspector.get_table_names():
        names = [c["name"] for c in inspector.get_columns(table)]
        for row in db.session.execute(text(f'SELECT * FROM "{table}"')):
            for name, value in zip(names, row, strict=True):
                if value is not None and TOKEN.search(str(value)):
                    found[(table, name)] = found.get((table, name), 0) + 1
    return found


def test_every_column_holding_tokens_is_registered(app):
    seed_every_sealed_column()
    registered = {(c.table_name, c.column) for c in sealed_columns()}
    holding = set(token_columns())
    assert holding - registered == set(), "sealed columns missing from the registry"
    # And the seed is full: every registered column was filled, so the rotation tests (which
    # use this seed) exercise each one and its associated data.
    assert registered - holding == set(), "registered columns the seed left empty"


def test_every_enc_column_of_the_models_is_registered(app):
    # The naming convention for sealed columns: one added by hand, without a SealedAttribute or
    # a declaration, fails here before any data exists.
    registered = {(c.table_name, c.column) for c in sealed_columns()}
    enc = {
        (table.name, column.name)
        for table in db.metadata.tables.values()
        for column in table.columns
        if column.name.endswith("_enc")
    }
    assert enc - registered == set()


def test_registry_ids_are_each_tables_primary_key(app):
    # Rotation pages through a column by its key and rebuilds the record id from it.
    for col in sealed_columns():
        table = col.model.__table__
        assert col.column in table.c, col.name
        assert set(col.id_columns) == {c.name for c in table.primary_key.columns}, col.name


def test_a_column_registered_twice_with_another_context_is_refused():
    from webapp.interviews.models import Interview

    sealed_columns()
    with pytest.raises(ValueError, match="already registered"):
        sealed.register_sealed_column(Interview, "content_enc", "interview", "other")
