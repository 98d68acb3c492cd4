"""The interview as a field-mode record type: what a phone holds and what it may change.

A device may change the answers of an interview allocated to its user while it is still theirs
to edit, and ask to send it for authorisation. Everything else (allocation, authorisation,
returns) happens online through the services, which log changes the same way. Registered with
the sync store by webapp.interviews.init_app.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from sync.store import PayloadError, RecordState, StaleWrite
from webapp import access, uow
from webapp.accounts.models import Role, User
from webapp.children.models import Child
from webapp.episodes.models import Episode
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db
from webapp.fieldsync import store
from webapp.fieldsync.registry import RecordType
from webapp.interviews import questions, workflow
from webapp.interviews import service as interviews
from webapp.interviews.models import Interview, interview_ids_for


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def interview_payload(interview: Interview, actor: User) -> dict[str, Any]:
    """What a worker's device holds about one return: enough to do the interview offline."""
    child = interview.child
    return {
        "child": {
            "id": child.id,
            "first_name": child.first_name,
            "last_name": child.last_name,
            "date_of_birth": child.date_of_birth.isoformat(),
            "legal_status": child.legal_status_label,
            "looked_after": child.looked_after,
            "flags": child.flags,
        },
        "status": interview.status,
        "status_label": workflow.status_label(interview.status),
        # What this person may do now, with the words to show: the client never works out a
        # status or a permission for itself.
        "actions": workflow.action_labels(access.interview_actions(actor, interview)),
        "due_at": _iso(interview.due_at),
        "episodes": [
            {
                "id": e.id,
                "missing_from": e.missing_from,
                "last_seen_at": _iso(e.last_seen_at),
                "returned_at": _iso(e.returned_at),
                "police_log_number": e.police_log_number,
                # What the carer noticed, for the worker to read before meeting the child.
                "carer_notes": e.carer_notes,
            }
            for e in interview.episodes
        ],
        "answers": interviews.answers(interview),
        "review_note": interviews.review_note(interview)
        if interview.status == workflow.Status.SENT_BACK
        else None,
        "editable": access.can_edit_interview(actor, interview),
    }


class InterviewHandler:
    record_type = "interview"

    def __init__(self, device_id: str):
        self.device_id = device_id
        # The rows a push's batch names, loaded once (prepare) with what their payload shows;
        # None for an id this person may not see. One handler per request, so per transaction.
        self._rows: dict[str, Interview | None] = {}

    def prepare(self, actor: User, record_ids, *, payloads: bool = True) -> None:
        """Load the named interviews this person may see, with their episodes, in one query
        (two for several). The child too unless `payloads=False` (a push): a push reads it only
        to answer a conflict, and loaded with every push it was ORM work (and one more object
        for the flush to look over) on every request. The episodes a push does read: the rules
        check the interview's date against the return's; left to load lazily, a batch of 50
        sent 50 more queries (568 records/s, where 850-1,100 had been measured)."""
        ids = [str(i) for i in record_ids if str(i) not in self._rows]
        if not ids:
            return
        for rid in ids:
            self._rows[rid] = None
        # The episodes (several per interview): for one interview in the same query, one round
        # trip fewer; for several in one more query, rather than repeat each interview's
        # columns per episode.
        episodes = joinedload if len(ids) == 1 else selectinload
        options = [episodes(Interview.episodes)]
        if payloads:
            options.append(joinedload(Interview.child))
        query = access.field_interviews_query(actor).where(Interview.id.in_(ids)).options(*options)
        for interview in db.session.scalars(query).unique():
            self._rows[interview.id] = interview

    def visible_ids(self, actor: User, after: str | None, limit: int) -> list[str]:
        """The ids of the interviews this person's phone keeps, in id order after `after`: a full
        pull's page, from the allocations, not from the change log."""
        query = access.field_interviews_query(actor).with_only_columns(Interview.id)
        if after is not None:
            query = query.where(Interview.id > after)
        return list(db.session.scalars(query.order_by(Interview.id).limit(limit)))

    def _get(self, actor: User, record_id) -> Interview | None:
        key = str(record_id)
        if key in self._rows:
            return self._rows[key]
        return db.session.scalar(access.field_interviews_query(actor).where(Interview.id == key))

    def validate(self, payload: dict) -> dict:
        extra = set(payload) - {"answers", "submit"}
        if extra:
            raise PayloadError("payload", "Only answers and submit can be sent")
        try:
            answers = questions.clean_answers(payload.get("answers", {}))
        except questions.AnswerError as err:
            raise PayloadError(err.field, err.message) from None
        submit = payload.get("submit", False)
        if not isinstance(submit, bool):
            raise PayloadError("submit", "submit must be true or false")
        if submit:
            problems = questions.completeness_problems(answers)
            if problems:
                raise PayloadError(problems[0].field, problems[0].message)
        return {"answers": answers, "submit": submit}

    def load(self, actor: User, record_id) -> RecordState | None:
        interview = self._get(actor, record_id)
        if interview is None or not access.can_read_interview_content(actor, interview):
            return None
        return RecordState(
            record_id=uuid.UUID(interview.id),
            version=interview.version,
            payload=interview_payload(interview, actor),
        )

    def peek(self, actor: User, record_id) -> RecordState | None:
        """As load, without the payload (a push compares versions; the payload is decrypted
        only for a conflict's answer)."""
        interview = self._get(actor, record_id)
        if interview is None or not access.can_read_interview_content(actor, interview):
            return None
        if interview in db.session.dirty and db.session.is_modified(interview):
            # Written earlier in this batch and not yet flushed: its version moves at the flush.
            db.session.flush()
        return RecordState(record_id=uuid.UUID(interview.id), version=interview.version)

    def can_create(self, actor, record_id, payload) -> bool:
        return False  # interviews start when a manager records a return

    def can_write(self, actor: User, state: RecordState) -> bool:
        interview = self._get(actor, state.record_id)
        return interview is not None and access.can_edit_interview(actor, interview)

    def write(self, actor: User, record_id, payload, new_version: int, *, create: bool):
        # The compare-and-set the engine relies on: the version column's WHERE clause refuses the
        # UPDATE if another transaction moved the row since it was read (SQLAlchemy raises
        # StaleDataError at the flush). Read in this transaction (prepare, or now), so a row
        # another writer committed meanwhile is still caught there, never overwritten.
        interview = self._get(actor, record_id)
        if interview is None or interview.version != new_version - 1:
            raise StaleWrite(f"interview is no longer at version {new_version - 1}")
        values = dict(payload["answers"])
        if "held_at" in values:
            values["held_at"] = datetime.fromisoformat(values["held_at"])
        try:
            interviews.replace_answers(actor, interview, values, source="sync")
            if payload["submit"]:
                problems = interviews.submit(actor, interview)
                if problems:
                    raise PayloadError(problems[0].field, problems[0].message)
            if uow.deferring():
                # Tried with the whole batch: one flush at its end stores it as new_version.
                return new_version
            db.session.flush()
        except StaleDataError as err:
            raise StaleWrite("interview changed while it was being written") from err
        except RuleError as err:
            raise PayloadError(err.field, err.message) from err
        except NotAllowed as err:
            raise PayloadError(None, str(err)) from err
        return interview.version

    def delete(self, actor, state, new_version: int) -> None:
        raise PayloadError(None, "An interview cannot be deleted from a device")

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


def _interview_ids_of_children(conn, ids: set[str]) -> set[str]:
    return interview_ids_for(conn, child_ids=ids)


def _interview_ids_of_episodes(conn, ids: set[str]) -> set[str]:
    return interview_ids_for(conn, episode_ids=ids)


RECORD_TYPE = RecordType(
    name="interview",
    handler=InterviewHandler,
    model=Interview,
    # The payload shows the child and the episodes: a change to them is a change to it.
    shows={Child: _interview_ids_of_children, Episode: _interview_ids_of_episodes},
    # A social worker's phone holds the looked-after children's interviews they hold themself.
    roles=frozenset({Role.WORKER, Role.SOCIAL_WORKER}),
)
