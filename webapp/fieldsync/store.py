"""The webapp's side of the sync engine: `sync.store.Store` over SQLAlchemy, and the handler
for interviews.

What a device may change: the answers of an interview allocated to its user while it is still
theirs to edit, and the request to send it for authorisation. Everything else (allocation,
authorisation, returns) happens online through the services, which log changes the same way.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from sync.protocol import Change, MutationResult
from sync.store import PayloadError, RecordState, StaleWrite, StoredMutation
from webapp import access, sealed
from webapp.accounts.models import User
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db
from webapp.fieldsync.models import ChangeLog, SyncConflict, SyncDelivery, SyncMutation
from webapp.interviews import questions, workflow
from webapp.interviews import service as interviews
from webapp.interviews.models import Interview

# How many log rows one pull reads before answering has_more.
SCAN_WINDOW = 500


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

    def _get(self, actor: User, record_id) -> Interview | None:
        return db.session.scalar(
            access.field_interviews_query(actor).where(Interview.id == str(record_id))
        )

    def validate(self, payload: dict) -> dict:
        extra = set(payload) - {"answers", "submit"}
        if extra:
            raise PayloadError(sorted(extra)[0], "Only answers and submit can be sent")
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

    def can_create(self, actor, record_id, payload) -> bool:
        return False  # interviews start when a manager records a return

    def can_write(self, actor: User, state: RecordState) -> bool:
        interview = self._get(actor, state.record_id)
        return interview is not None and access.can_edit_interview(actor, interview)

    def write(self, actor: User, record_id, payload, new_version: int, *, create: bool):
        # The compare-and-set the engine relies on: read the row as it is now (not the copy
        # load() left in the session), and let the version column's WHERE clause refuse the
        # UPDATE if another transaction moved it since (SQLAlchemy raises StaleDataError).
        interview = db.session.scalar(
            access.field_interviews_query(actor)
            .where(Interview.id == str(record_id))
            .execution_options(populate_existing=True)
        )
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
        conflict = SyncConflict(
            id=str(conflict_id),
            record_type=self.record_type,
            record_id=str(record_id),
            user_id=actor.id,
            device_id=self.device_id,
            base_version=base_version,
            server_version=server.version,
            payload_enc="",
        )
        conflict.payload_enc = sealed.seal(payload, "sync_conflict", conflict.id, "payload")
        db.session.add(conflict)


class SqlStore:
    def __init__(self, device_id: str):
        self.device_id = device_id
        self._handlers = {"interview": InterviewHandler(device_id)}

    def handler(self, record_type: str):
        return self._handlers.get(record_type)

    def savepoint(self):
        # The engine wraps each mutation in this, so a write refused part-way (a rule only
        # checkable while writing, such as sending for authorisation) leaves nothing behind,
        # audit rows included, while the rest of the batch goes on.
        return db.session.begin_nested()

    def isolates(self, exc: Exception) -> bool:
        # A value the database refused (DataError, IntegrityError) or a bug hit by one payload
        # is undone by the savepoint. A lost or locked connection is not the mutation's fault:
        # the batch fails whole and is sent again.
        if isinstance(exc, OperationalError | InterfaceError):
            return False
        return not (isinstance(exc, DBAPIError) and exc.connection_invalidated)

    def get_mutation(self, actor: User, mutation_id) -> StoredMutation | None:
        row = db.session.get(SyncMutation, str(mutation_id))
        if row is None:
            return None
        if row.user_id != actor.id:
            # Another user's id: never show their result; the engine answers "reused".
            return StoredMutation(mutation_id=mutation_id, fingerprint="", result=None)
        return StoredMutation(
            mutation_id=mutation_id,
            fingerprint=row.fingerprint,
            result=MutationResult.model_validate(row.result),
        )

    def save_mutation(self, actor: User, device_id, stored: StoredMutation) -> None:
        result = stored.result.model_dump(mode="json")
        result["server_payload"] = None  # answers are not kept in clear in the mutation log
        db.session.add(
            SyncMutation(
                mutation_id=str(stored.mutation_id),
                user_id=actor.id,
                device_id=str(device_id),
                fingerprint=stored.fingerprint,
                result=result,
            )
        )
        db.session.flush()

    def record_change(self, record_type, record_id, version, deleted) -> None:
        """Nothing to do: the session listener (changes.py) logs every change, however made."""

    def latest_seq(self) -> int:
        return db.session.scalar(select(func.max(ChangeLog.seq))) or 0

    def changes_since(self, actor: User, seq: int, limit: int) -> tuple[list[Change], int, bool]:
        rows = db.session.scalars(
            select(ChangeLog)
            .where(ChangeLog.seq > seq)
            .order_by(ChangeLog.seq)
            .limit(min(limit, SCAN_WINDOW))
        ).all()
        if not rows:
            return [], seq, False
        last_seq = rows[-1].seq
        has_more = len(rows) == min(limit, SCAN_WINDOW)
        latest: dict[tuple[str, str], ChangeLog] = {}
        for row in rows:
            latest[(row.record_type, row.record_id)] = row
        delivered = set(
            db.session.execute(
                select(SyncDelivery.record_type, SyncDelivery.record_id).where(
                    SyncDelivery.user_id == actor.id, SyncDelivery.device_id == self.device_id
                )
            ).all()
        )
        changes: list[Change] = []
        for (record_type, record_id), row in sorted(latest.items(), key=lambda kv: kv[1].seq):
            handler = self.handler(record_type)
            state = None if row.deleted or handler is None else handler.load(actor, record_id)
            if state is not None:
                changes.append(
                    Change(
                        record_type=record_type,
                        record_id=record_id,
                        version=state.version,
                        deleted=False,
                        payload=state.payload,
                        changed_at=row.changed_at,
                    )
                )
                if (record_type, record_id) not in delivered:
                    db.session.add(
                        SyncDelivery(
                            user_id=actor.id,
                            device_id=self.device_id,
                            record_type=record_type,
                            record_id=record_id,
                        )
                    )
            elif (record_type, record_id) in delivered:
                # Deleted, reallocated or no longer visible: tell the devices that hold it.
                changes.append(
                    Change(
                        record_type=record_type,
                        record_id=record_id,
                        version=row.version,
                        deleted=True,
                        payload=None,
                        changed_at=row.changed_at,
                    )
                )
                db.session.execute(
                    delete(SyncDelivery).where(
                        SyncDelivery.user_id == actor.id,
                        SyncDelivery.device_id == self.device_id,
                        SyncDelivery.record_type == record_type,
                        SyncDelivery.record_id == record_id,
                    )
                )
        return changes, last_seq, has_more
