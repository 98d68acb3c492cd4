"""What the engine needs from storage, as `typing.Protocol`s.

The webapp implements these over SQLAlchemy; `sync.memory` implements them in memory for tests.
The engine never opens or commits a transaction: the caller runs one `apply_batch` or `pull`
inside one database transaction and rolls it back if the engine raises.

`actor` is whatever the caller uses for "who is asking" (the webapp passes its User); the engine
only hands it back to the store and handlers, which decide what that actor may see and do.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from sync.protocol import Change, MutationResult


class PayloadError(ValueError):
    """A payload the handler refuses: answered 422 invalid_payload, naming the field."""

    def __init__(self, field: str | None, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class StaleWrite(RuntimeError):
    """The record is no longer at the version the engine compared: another writer got there
    between the load and the write. The engine answers a conflict, keeping both copies."""


@dataclass(frozen=True)
class StoredMutation:
    mutation_id: UUID
    fingerprint: str
    # None when the id is known but was used by another actor: the engine then answers
    # mutation_id_reused without showing anything of the other actor's result.
    result: MutationResult | None


@dataclass(frozen=True)
class RecordState:
    record_id: UUID
    version: int
    payload: dict[str, Any] = field(default_factory=dict)
    # A tombstone keeps its version so that a stale edit of a deleted record is a conflict, not a
    # silent resurrection.
    deleted: bool = False


class RecordHandler(Protocol):
    """The rules for one record type, e.g. "interview"."""

    record_type: str

    def validate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the normalised payload, or raise PayloadError(field, message)."""
        ...

    def load(self, actor: Any, record_id: UUID) -> RecordState | None:
        """The record as `actor` may see it; None if it is missing OR not visible to `actor`."""
        ...

    def can_create(self, actor: Any, record_id: UUID, payload: dict[str, Any]) -> bool:
        """Called when load() gave None. Must be False if the id exists at all, visible or not:
        ids come from devices, and a "create" must never overwrite a record someone cannot see.
        """
        ...

    def can_write(self, actor: Any, state: RecordState) -> bool: ...

    def write(
        self,
        actor: Any,
        record_id: UUID,
        payload: dict[str, Any],
        new_version: int,
        *,
        create: bool,
    ) -> int | None:
        """Store the payload as `new_version`: a compare-and-set.

        The engine compared the mutation's base version with the version load() gave, which is
        `new_version - 1`. The write must happen only if the record is still at that version,
        checked atomically with the write (a conditional UPDATE, or a row lock taken before the
        check); otherwise raise StaleWrite and change nothing. Without this, two phones saving at
        once would both be told "applied" and the second would silently replace the first.

        A store that assigns versions itself (SQLAlchemy's version_id_col bumps once per flush)
        returns the version it actually stored, which must be above the old one. May raise
        PayloadError for a rule only checkable while writing; without a savepoint (see
        SupportsSavepoint) it must then have changed nothing.
        """
        ...

    def delete(self, actor: Any, state: RecordState, new_version: int) -> int | None:
        """Leave a tombstone at `new_version` (or return the version stored, as for write); the
        same compare-and-set as write, raising StaleWrite."""
        ...

    def save_conflict(
        self,
        actor: Any,
        record_id: UUID,
        base_version: int | None,
        payload: dict[str, Any],
        server: RecordState,
        conflict_id: UUID,
    ) -> None:
        """Keep the losing copy so that a person can resolve it; the record itself is unchanged."""
        ...


class Store(Protocol):
    def handler(self, record_type: str) -> RecordHandler | None: ...

    def get_mutation(self, actor: Any, mutation_id: UUID) -> StoredMutation | None: ...

    def save_mutation(self, actor: Any, device_id: UUID, stored: StoredMutation) -> None: ...

    def record_change(self, record_type: str, record_id: UUID, version: int, deleted: bool) -> None:
        """Append to the change log (a store whose database logs changes itself may do nothing)."""
        ...

    def changes_since(self, actor: Any, seq: int, limit: int) -> tuple[list[Change], int, bool]:
        """Changes `actor` may see with log seq > `seq`, scanning at most `limit` log entries.

        Returns (changes, the last seq scanned, whether more entries follow). The last seq counts
        entries that were filtered out as invisible too, so a cursor never scans them again.
        A record that stops being visible to an actor who was given it must come back as a
        tombstone; a record the actor never saw must not appear at all.
        """
        ...

    def latest_seq(self) -> int: ...


@runtime_checkable
class SupportsSavepoint(Protocol):
    """Optional: lets one mutation's failed write be undone without losing the batch.

    The webapp can return `db.session.begin_nested()`. Without it, a handler must not raise
    PayloadError after changing anything.
    """

    def savepoint(self) -> AbstractContextManager[Any]: ...

    def isolates(self, exc: Exception) -> bool:
        """Whether an unexpected error while applying one mutation, once its savepoint is rolled
        back, leaves the transaction fit to go on with the rest of the batch (a bad value the
        database refused, a bug triggered by one payload). A lost connection does not: the
        batch fails whole and the device sends it again."""
        ...


__all__ = [
    "PayloadError",
    "RecordHandler",
    "RecordState",
    "StaleWrite",
    "Store",
    "StoredMutation",
    "SupportsSavepoint",
]
