"""A record type plugs into field sync from its own files: this one lives only here.

The example, a social worker's short note (social workers have no record type of their own
yet), registers itself the way interviews do (its feature's init_app would call
registry.register) and round-trips through a push and a pull without any change to the sync
store, the engine or the change log.
"""

import json
import uuid

import pytest
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from sync.store import PayloadError, RecordState, StaleWrite
from tests import factories
from webapp.accounts.models import Role
from webapp.extensions import db
from webapp.field import records
from webapp.fieldsync import registry, store

pytestmark = pytest.mark.both_databases


class Base(DeclarativeBase):
    """Its own metadata: the example never joins the app's schema or its migrations."""


class Note(Base):
    __tablename__ = "example_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(36))
    text: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class NoteHandler:
    record_type = "note"

    def __init__(self, device_id: str):
        self.device_id = device_id

    def _mine(self, actor, record_id):
        return select(Note).where(Note.id == str(record_id), Note.owner_id == actor.id)

    def validate(self, payload):
        text = payload.get("text")
        if set(payload) != {"text"} or not isinstance(text, str) or len(text) > 200:
            raise PayloadError("text", "A note is up to 200 characters of text")
        return {"text": text}

    def load(self, actor, record_id):
        note = db.session.scalar(self._mine(actor, record_id))
        if note is None:
            return None
        return RecordState(uuid.UUID(note.id), note.version, {"text": note.text})

    def can_create(self, actor, record_id, payload):
        return db.session.get(Note, str(record_id)) is None

    def can_write(self, actor, state):
        return True  # load() only shows the actor's own notes

    def write(self, actor, record_id, payload, new_version, *, create):
        if create:
            note = Note(id=str(record_id), owner_id=actor.id, text=payload["text"])
            db.session.add(note)
        else:
            note = db.session.scalar(
                self._mine(actor, record_id).execution_options(populate_existing=True)
            )
            if note is None or note.version != new_version - 1:
                raise StaleWrite("the note moved on")
            note.text = payload["text"]
        try:
            db.session.flush()
        except StaleDataError as err:
            raise StaleWrite("the note changed while it was written") from err
        return note.version

    def delete(self, actor, state, new_version):
        raise PayloadError(None, "Notes are kept")

    def save_conflict(self, actor, record_id, base_version, payload, server, conflict_id):
        store.save_conflict(
            actor,
            self.device_id,
            self.record_type,
            record_id,
            base_version,
            payload,
            server,
            conflict_id,
        )


NOTE = registry.RecordType(
    name="note", handler=NoteHandler, model=Note, roles=frozenset({"social_worker"})
)


@pytest.fixture
def notes_app(app):
    Base.metadata.create_all(db.engine)
    registry.register(app, NOTE)
    return app


def _push(browser, mutations):
    csrf = browser.get("/api/v1/session").json["csrf_token"]
    body = {"protocol": 1, "device_id": str(uuid.uuid4()), "mutations": mutations}
    return browser.raw_post(
        "/api/v1/sync/push",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "X-CSRFToken": csrf},
    )


def _upsert(record_id, base_version, text):
    return {
        "mutation_id": str(uuid.uuid4()),
        "record_type": "note",
        "record_id": record_id,
        "op": "upsert",
        "base_version": base_version,
        "payload": {"text": text},
    }


def test_an_example_record_type_round_trips_through_push_and_pull(notes_app, as_user):
    carer_user = factories.user(Role.SOCIAL_WORKER)
    # A worker with an interview of their own: their phone pulls changes, but no note.
    worker_user = factories.worker()
    factories.interview(worker_=worker_user)
    db.session.commit()
    carer = as_user(carer_user)
    note_id = str(uuid.uuid4())
    created = _push(carer, [_upsert(note_id, None, "Came home at 9, tired")])
    assert created.status_code == 200, created.get_data(as_text=True)
    assert created.json["results"][0]["status"] == "applied"
    version = created.json["results"][0]["version"]

    pulled = carer.get("/api/v1/sync/pull").json
    assert [(c["record_type"], c["record_id"], c["payload"]) for c in pulled["changes"]] == [
        ("note", note_id, {"text": "Came home at 9, tired"})
    ]

    edited = _push(carer, [_upsert(note_id, version, "Came home at 9, ate, slept")])
    assert edited.json["results"][0]["status"] == "applied"
    again = carer.get("/api/v1/sync/pull", query_string={"cursor": pulled["cursor"]}).json
    assert [c["payload"]["text"] for c in again["changes"]] == ["Came home at 9, ate, slept"]

    # Its own rules: a bad payload is refused in its words; a stale edit is a conflict.
    bad = _push(carer, [_upsert(str(uuid.uuid4()), None, "x" * 201)])
    assert bad.json["results"][0]["error"]["message"] == "A note is up to 200 characters of text"
    stale = _push(carer, [_upsert(note_id, version, "an edit from an old copy")])
    assert stale.json["results"][0]["status"] == "conflict"

    # Nobody else's phone gets it.
    assert as_user(worker_user).get("/api/v1/sync/pull").json["changes"] != []
    worker_pull = as_user(worker_user).get("/api/v1/sync/pull").json["changes"]
    assert "note" not in {c["record_type"] for c in worker_pull}


def test_the_roles_a_type_names_are_invited_to_field_mode(notes_app):
    assert records.field_record_types("social_worker") == ["interview", "note"]
    assert records.field_record_types("worker") == ["interview"]
    schema = notes_app.test_client().get("/api/v1/schema/interview").json
    assert schema["record_types"] == {
        "worker": ["interview"],
        "carer": ["child", "episode"],
        "dsl": ["school", "pupil", "school_entry"],
        "social_worker": ["interview", "note"],
    }


def test_without_it_a_social_worker_keeps_only_the_interviews_they_hold(app):
    # A looked-after child's interview the social worker holds themself (the Hertfordshire model).
    assert records.field_record_types("social_worker") == ["interview"]


def test_a_social_worker_is_offered_field_mode_once_a_type_of_theirs_exists(notes_app, as_user):
    """The navigation asks the registry (it hard-coded workers before)."""
    carer = factories.user(Role.SOCIAL_WORKER)
    db.session.commit()
    assert 'href="/app/"' in as_user(carer).get("/account").get_data(as_text=True)
