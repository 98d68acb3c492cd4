"""The webapp's side of the sync engine: `sync.store.Store` over SQLAlchemy.

The record types and their handlers come from the registry (webapp.fieldsync.registry), filled
in by each feature's init_app; the interview's is webapp/interviews/sync.py.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from uuid import UUID

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from sync.protocol import Change, MutationResult
from sync.store import RecordState, StoredMutation
from webapp import sealed, uow
from webapp.accounts.models import User
from webapp.db_types import utcnow
from webapp.extensions import db
from webapp.fieldsync import changes as change_log
from webapp.fieldsync import registry
from webapp.fieldsync.models import ChangeLog, SyncConflict, SyncDelivery, SyncMutation

# How many log rows one pull reads before answering has_more.
SCAN_WINDOW = 500

# Every push asks it: built once, with its cache key (sessions._LOAD says why).
_ANSWERED = select(SyncMutation).where(
    SyncMutation.mutation_id.in_(bindparam("ids", expanding=True))
)
_INSERT_ANSWERED = SyncMutation.__table__.insert()
_NOTE_DELIVERED_PG = text(
    "INSERT INTO sync_deliveries (user_id, device_id, record_type, record_id) "
    "SELECT :user_id, :device_id, :record_type, unnest(CAST(:record_ids AS varchar[])) "
    "ON CONFLICT DO NOTHING"
)
_NOTE_DELIVERED_SQLITE = sqlite_insert(SyncDelivery.__table__).on_conflict_do_nothing()


def save_conflict(
    actor: User,
    device_id: str,
    record_type: str,
    record_id,
    base_version,
    payload,
    server,
    conflict_id,
) -> SyncConflict:
    """Keep a device's losing copy, sealed, for a person to resolve (any record type)."""
    conflict = SyncConflict(
        id=str(conflict_id),
        record_type=record_type,
        record_id=str(record_id),
        user_id=actor.id,
        device_id=device_id,
        base_version=base_version,
        server_version=server.version,
        payload_enc="",
    )
    conflict.payload_enc = sealed.seal(payload, "sync_conflict", conflict.id, "payload")
    db.session.add(conflict)
    return conflict


class SqlStore:
    def __init__(self, device_id: str):
        self.device_id = device_id
        # Every record type a feature registered (webapp.fieldsync.registry), none named here.
        self._handlers = {
            name: rt.handler(device_id) for name, rt in registry.record_types().items()
        }

    def handler(self, record_type: str):
        return self._handlers.get(record_type)

    def savepoint(self):
        # The engine wraps each mutation in this, so a write refused part-way (a rule only
        # checkable while writing, such as sending for authorisation) leaves nothing behind,
        # audit rows included, while the rest of the batch goes on.
        return db.session.begin_nested()

    def serialise(self, actor: User) -> None:
        """One push at a time per device: a phone that timed out sends the same batch again
        while its first copy may still be being applied. Without this, both read the mutation
        ids as new, the second found its records moved on by the first and then collided with
        the first's answers (a 500). Now the second waits for the first to commit and answers
        "replayed" from what it remembered. Other devices never wait on it. (SQLite already
        runs one writing transaction at a time.)"""
        if db.session.get_bind().dialect.name != "postgresql":
            return
        digest = hashlib.sha256(f"sync-push:{actor.id}:{self.device_id}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    @contextmanager
    def batch_savepoint(self):
        # The whole batch tried in one savepoint (sync.engine.apply_batch): services hold their
        # writes (uow.deferred) and the savepoint's release flushes them in one go, where a lost
        # race (StaleDataError) or a refused value still rolls back cleanly.
        with db.session.begin_nested():
            with uow.deferred():
                yield

    @contextmanager
    def batch_without_savepoint(self):
        # The batch tried in the request's own transaction (apply_batch's roll_back_instead):
        # writes held and flushed at the end, still inside the engine's try, so a refused value
        # or a lost race is caught there; the caller then rolls the transaction back.
        with uow.deferred():
            yield
        db.session.flush()

    def prepare(self, actor: User, records) -> None:
        """Load a push's records in one query per type (handlers that can): what a push
        compares and checks, not what a payload shows (loaded only for a conflict's answer)."""
        by_type: dict[str, list] = {}
        for record_type, record_id in records:
            by_type.setdefault(record_type, []).append(record_id)
        for record_type, ids in by_type.items():
            handler = self._handlers.get(record_type)
            if handler is not None and hasattr(handler, "prepare"):
                handler.prepare(actor, ids, payloads=False)

    def isolates(self, exc: Exception) -> bool:
        # A value the database refused (DataError, IntegrityError) or a bug hit by one payload
        # is undone by the savepoint. A lost or locked connection is not the mutation's fault:
        # the batch fails whole and is sent again.
        if isinstance(exc, OperationalError | InterfaceError):
            return False
        return not (isinstance(exc, DBAPIError) and exc.connection_invalidated)

    def get_mutation(self, actor: User, mutation_id) -> StoredMutation | None:
        return self.get_mutations(actor, [mutation_id]).get(mutation_id)

    def get_mutations(self, actor: User, mutation_ids) -> dict:
        """The answered ones among `mutation_ids`, in one query."""
        by_key = {str(mid): mid for mid in mutation_ids}
        if not by_key:
            return {}
        found = {}
        for row in db.session.scalars(_ANSWERED, {"ids": list(by_key)}):
            mid = by_key[row.mutation_id]
            if row.user_id != actor.id:
                # Another user's id: never show their result; the engine answers "reused".
                found[mid] = StoredMutation(mutation_id=mid, fingerprint="", result=None)
            else:
                found[mid] = StoredMutation(
                    mutation_id=mid,
                    fingerprint=row.fingerprint,
                    result=MutationResult.model_validate(row.result),
                )
        return found

    def _row(self, actor: User, device_id, stored: StoredMutation) -> dict:
        result = stored.result.model_dump(mode="json")
        result["server_payload"] = None  # answers are not kept in clear in the mutation log
        return {
            "mutation_id": str(stored.mutation_id),
            "user_id": actor.id,
            "device_id": str(device_id),
            "fingerprint": stored.fingerprint,
            "result": result,
        }

    def save_mutation(self, actor: User, device_id, stored: StoredMutation) -> None:
        self.save_mutations(actor, device_id, [stored])

    def save_mutations(self, actor: User, device_id, stored: list[StoredMutation]) -> None:
        # One INSERT, written now, in the transaction (or savepoint) the batch is tried in, so it
        # goes with it if the batch is undone. Core, not ORM objects: nothing reads these rows
        # back in the transaction, and the unit of work's bookkeeping for them was a sixth of
        # the flush's function calls. On the connection: no autoflush of held writes.
        db.session.connection().execute(
            _INSERT_ANSWERED, [self._row(actor, device_id, s) for s in stored]
        )

    def record_change(self, record_type, record_id, version, deleted) -> None:
        """Nothing to do: the session listener (changes.py) logs every change, however made."""

    def latest_seq(self) -> int:
        return db.session.scalar(select(func.max(ChangeLog.seq))) or 0

    def horizon(self) -> int:
        """The last seq whose writers, and every earlier one's, have finished (changes.py): what
        a pull may read up to, and the position a full copy starting now is as of."""
        return change_log.horizon(db.session)

    def _states(self, handler, actor: User, record_ids: list[str]) -> dict[str, RecordState]:
        """The records as `actor` may see them, loaded together where the handler can."""
        prepare = getattr(handler, "prepare", None)
        if prepare is not None:
            prepare(actor, record_ids)
        states = {}
        for rid in record_ids:
            state = handler.load(actor, rid)
            if state is not None:
                states[rid] = state
        return states

    def _deliver(self, actor: User, keys: list[tuple[str, str]]) -> None:
        """Note records given to this device (one statement a record type; one it holds
        already is left as it is)."""
        if not keys:
            return
        conn = db.session.connection()
        if conn.dialect.name == "postgresql":
            # The ids as one array parameter: a fresh phone's page notes up to 500, and as 500
            # parameter sets (executemany) psycopg's per-row work was 7% of a full copy's time.
            by_type: dict[str, list[str]] = {}
            for record_type, record_id in keys:
                by_type.setdefault(record_type, []).append(record_id)
            for record_type, ids in by_type.items():
                conn.execute(
                    _NOTE_DELIVERED_PG,
                    {
                        "user_id": actor.id,
                        "device_id": self.device_id,
                        "record_type": record_type,
                        "record_ids": ids,
                    },
                )
            return
        # Elsewhere (SQLite) the rows as parameters of one statement built once, not written
        # into it: a 500-row VALUES list was compiled afresh for every page.
        conn.execute(
            _NOTE_DELIVERED_SQLITE,
            [
                {
                    "user_id": actor.id,
                    "device_id": self.device_id,
                    "record_type": record_type,
                    "record_id": record_id,
                }
                for record_type, record_id in keys
            ],
        )

    def snapshot(self, actor: User, position, limit: int):
        """A page of a full copy of what `actor` may see, from what they may see (not from the
        change log): (changes, where the next page starts, or None after the last). None if a
        type this role keeps cannot list what is visible (the engine then walks the log)."""
        # Every type, not only those the actor's role is invited to keep: each handler says what
        # this person may hold (a manager's phone holds what is allocated to them), as a pull
        # walking the log would.
        handlers = list(self._handlers.items())
        if not all(hasattr(h, "visible_ids") for _, h in handlers):
            return None
        if position is None:
            # A new copy: the device drops what it held, and so does its list of deliveries.
            db.session.execute(
                delete(SyncDelivery).where(
                    SyncDelivery.user_id == actor.id, SyncDelivery.device_id == self.device_id
                )
            )
            index, after = 0, None
        else:
            index, last = position
            after = None if last.int == 0 else str(last)
        changes: list[Change] = []
        now = utcnow()
        while index < len(handlers) and len(changes) < limit:
            name, handler = handlers[index]
            want = limit - len(changes)
            ids = handler.visible_ids(actor, after, want)
            states = self._states(handler, actor, ids)
            given = [rid for rid in ids if rid in states]
            changes += [
                Change(
                    record_type=name,
                    record_id=rid,
                    version=states[rid].version,
                    deleted=False,
                    payload=states[rid].payload,
                    changed_at=now,
                )
                for rid in given
            ]
            self._deliver(actor, [(name, rid) for rid in given])
            if len(ids) < want:
                index, after = index + 1, None
            else:
                after = ids[-1]
        if index >= len(handlers):
            return changes, None
        return changes, (index, UUID(after) if after else UUID(int=0))

    def changes_since(self, actor: User, seq: int, limit: int) -> tuple[list[Change], int, bool]:
        rows = db.session.scalars(
            select(ChangeLog)
            .where(ChangeLog.seq > seq, ChangeLog.seq <= self.horizon())
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
        # The window's records loaded a type at a time (one query where the handler can), not
        # one query per logged record.
        wanted: dict[str, list[str]] = {}
        for (record_type, record_id), row in latest.items():
            if not row.deleted and self.handler(record_type) is not None:
                wanted.setdefault(record_type, []).append(record_id)
        states = {
            (record_type, rid): state
            for record_type, ids in wanted.items()
            for rid, state in self._states(self.handler(record_type), actor, ids).items()
        }
        changes: list[Change] = []
        new_deliveries = []
        gone = []
        for (record_type, record_id), row in sorted(latest.items(), key=lambda kv: kv[1].seq):
            state = states.get((record_type, record_id))
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
                    new_deliveries.append((record_type, record_id))
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
                gone.append((record_type, record_id))
        self._deliver(actor, new_deliveries)
        for record_type, record_id in gone:
            db.session.execute(
                delete(SyncDelivery).where(
                    SyncDelivery.user_id == actor.id,
                    SyncDelivery.device_id == self.device_id,
                    SyncDelivery.record_type == record_type,
                    SyncDelivery.record_id == record_id,
                )
            )
        return changes, last_seq, has_more
