"""An in-memory `Store` and a generic `RecordHandler`, for tests and for reading the contract.

It behaves like the webapp's SQL store where the engine can tell: mutation ids are unique keys
(saving one twice raises, as a primary key would), `transaction()` undoes everything on an
exception (as a rollback would), and pulls filter by what the actor may see.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sync.protocol import Change
from sync.store import PayloadError, RecordState, StoredMutation

Visibility = Callable[[Any, RecordState], bool]


def _everyone(actor: Any, state: RecordState) -> bool:
    return True


@dataclass(frozen=True)
class ConflictCopy:
    conflict_id: UUID
    actor: Any
    record_id: UUID
    base_version: int | None
    payload: dict[str, Any]
    server_version: int
    server_payload: dict[str, Any] | None


@dataclass(frozen=True)
class _Row:
    version: int
    payload: dict[str, Any]
    deleted: bool = False

    def state(self, record_id: UUID) -> RecordState:
        return RecordState(record_id, self.version, copy.deepcopy(self.payload), self.deleted)


class MemoryHandler:
    """One record type kept in a dict.

    `visible_to(actor, state)` decides what an actor may load and pull; a tombstone keeps its
    last payload so that visibility can still be judged. `writable_by` defaults to "anyone who
    can see it", `creatable_by` to "anyone who could see the result".
    """

    def __init__(
        self,
        record_type: str,
        *,
        visible_to: Visibility = _everyone,
        writable_by: Visibility = _everyone,
        creatable_by: Visibility | None = None,
        required_fields: Iterable[str] = (),
    ):
        self.record_type = record_type
        self.visible_to = visible_to
        self.writable_by = writable_by
        self.creatable_by = creatable_by or visible_to
        self.required_fields = tuple(required_fields)
        # Rows are frozen and replaced, never changed in place, so a snapshot is a dict copy.
        self.records: dict[UUID, _Row] = {}
        self.conflicts: dict[UUID, ConflictCopy] = {}

    # -- RecordHandler --

    def validate(self, payload: dict[str, Any]) -> dict[str, Any]:
        for name in self.required_fields:
            if payload.get(name) in (None, ""):
                raise PayloadError(name, f"{name} is required")
        return copy.deepcopy(payload)

    def load(self, actor: Any, record_id: UUID) -> RecordState | None:
        row = self.records.get(record_id)
        if row is None:
            return None
        state = row.state(record_id)
        return state if self.visible_to(actor, state) else None

    def can_create(self, actor: Any, record_id: UUID, payload: dict[str, Any]) -> bool:
        # load() answers None for a record the actor cannot see; "creating" that id again would
        # overwrite someone else's record.
        if record_id in self.records:
            return False
        return self.creatable_by(actor, RecordState(record_id, 0, payload))

    def can_write(self, actor: Any, state: RecordState) -> bool:
        return self.writable_by(actor, state)

    def write(
        self,
        actor: Any,
        record_id: UUID,
        payload: dict[str, Any],
        new_version: int,
        *,
        create: bool,
    ) -> None:
        if create == (record_id in self.records):
            raise RuntimeError(f"write(create={create}) does not match whether {record_id} exists")
        self.records[record_id] = _Row(new_version, copy.deepcopy(payload))

    def delete(self, actor: Any, state: RecordState, new_version: int) -> None:
        row = self.records[state.record_id]
        self.records[state.record_id] = replace(row, version=new_version, deleted=True)

    def save_conflict(
        self,
        actor: Any,
        record_id: UUID,
        base_version: int | None,
        payload: dict[str, Any],
        server: RecordState,
        conflict_id: UUID,
    ) -> None:
        self.conflicts[conflict_id] = ConflictCopy(
            conflict_id,
            actor,
            record_id,
            base_version,
            copy.deepcopy(payload),
            server.version,
            None if server.deleted else copy.deepcopy(server.payload),
        )

    # -- for tests --

    def state(self, record_id: UUID) -> RecordState | None:
        """The record whoever may see it (tests only)."""
        row = self.records.get(record_id)
        return row.state(record_id) if row else None

    def visible(self, actor: Any) -> dict[UUID, RecordState]:
        """The live records `actor` may see: what a device should hold after pulling."""
        states = (row.state(rid) for rid, row in self.records.items() if not row.deleted)
        return {s.record_id: s for s in states if self.visible_to(actor, s)}


@dataclass(frozen=True)
class LogEntry:
    seq: int
    record_type: str
    record_id: UUID
    version: int
    deleted: bool
    changed_at: datetime
    # The record as it was, so that "could this actor ever see it" is answerable later.
    snapshot: RecordState | None


class MemoryStore:
    def __init__(
        self, *handlers: MemoryHandler, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ):
        self._handlers = {h.record_type: h for h in handlers}
        self._clock = clock
        self.mutations: dict[UUID, tuple[Any, UUID, StoredMutation]] = {}
        self.log: list[LogEntry] = []

    # -- transactions --

    @contextmanager
    def transaction(self) -> Iterator[MemoryStore]:
        """Undo every change made inside the block if it raises, like a database rollback."""
        saved = self._snapshot()
        try:
            yield self
        except BaseException:
            self._restore(saved)
            raise

    # The engine wraps each mutation in a savepoint when the store offers one.
    savepoint = transaction

    def isolates(self, exc: Exception) -> bool:
        # In memory nothing is half-broken after a restore, but a failure here is a bug in the
        # engine or a test's handler: let it surface instead of answering server_error.
        return False

    def _snapshot(self) -> tuple[Any, ...]:
        handlers = {
            name: (dict(h.records), dict(h.conflicts)) for name, h in self._handlers.items()
        }
        return dict(self.mutations), list(self.log), handlers

    def _restore(self, saved: tuple[Any, ...]) -> None:
        mutations, log, handlers = saved
        self.mutations, self.log = mutations, log
        for name, (records, conflicts) in handlers.items():
            self._handlers[name].records = records
            self._handlers[name].conflicts = conflicts

    # -- Store --

    def handler(self, record_type: str) -> MemoryHandler | None:
        return self._handlers.get(record_type)

    def get_mutation(self, actor: Any, mutation_id: UUID) -> StoredMutation | None:
        entry = self.mutations.get(mutation_id)
        if entry is None:
            return None
        owner, _device, stored = entry
        if owner != actor:
            return StoredMutation(mutation_id, "", None)
        return stored

    def save_mutation(self, actor: Any, device_id: UUID, stored: StoredMutation) -> None:
        if stored.mutation_id in self.mutations:
            raise RuntimeError(f"duplicate key: mutation {stored.mutation_id}")
        # Through JSON, as a database column would keep it: a result that cannot be stored
        # fails here rather than on some later replay.
        result = stored.result
        if result is not None:
            result = type(result).model_validate_json(result.model_dump_json())
        self.mutations[stored.mutation_id] = (actor, device_id, replace(stored, result=result))

    def record_change(self, record_type: str, record_id: UUID, version: int, deleted: bool):
        handler = self._handlers[record_type]
        self.log.append(
            LogEntry(
                seq=len(self.log) + 1,
                record_type=record_type,
                record_id=record_id,
                version=version,
                deleted=deleted,
                changed_at=self._clock(),
                snapshot=handler.state(record_id),
            )
        )

    def latest_seq(self) -> int:
        return self.log[-1].seq if self.log else 0

    def changes_since(self, actor: Any, seq: int, limit: int) -> tuple[list[Change], int, bool]:
        window = [e for e in self.log if e.seq > seq][:limit]
        if not window:
            return [], seq, False
        last = window[-1].seq
        latest: dict[tuple[str, UUID], LogEntry] = {}
        for entry in window:
            # Re-inserting moves the record to the end: records come out in order of last change.
            latest.pop((entry.record_type, entry.record_id), None)
            latest[(entry.record_type, entry.record_id)] = entry
        changes = []
        for (record_type, record_id), entry in latest.items():
            handler = self._handlers[record_type]
            state = handler.load(actor, record_id)
            if state is not None and not state.deleted:
                changes.append(
                    Change(
                        record_type=record_type,
                        record_id=record_id,
                        version=state.version,
                        deleted=False,
                        payload=state.payload,
                        changed_at=entry.changed_at,
                    )
                )
            elif self._ever_visible(actor, handler, record_id, up_to=entry.seq):
                # Deleted, or out of the actor's sight now: a device that holds it must drop it.
                changes.append(
                    Change(
                        record_type=record_type,
                        record_id=record_id,
                        version=entry.version,
                        deleted=True,
                        payload=None,
                        changed_at=entry.changed_at,
                    )
                )
        return changes, last, last < self.latest_seq()

    def _ever_visible(self, actor: Any, handler: MemoryHandler, record_id: UUID, up_to: int):
        # Stateless, unlike the webapp's per-device delivery table: an actor is told of the end
        # of any record it was once allowed to see, and never of one it was not.
        return any(
            e.record_id == record_id
            and e.record_type == handler.record_type
            and e.snapshot is not None
            and not e.deleted
            and handler.visible_to(actor, e.snapshot)
            for e in self.log[:up_to]
        )
