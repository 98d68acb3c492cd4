"""Apply pushed mutations idempotently, and answer pulls from an opaque, signed cursor.

The rules themselves are described in the package docstring (`sync/__init__.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import struct
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from uuid import UUID, uuid4

from sync.protocol import (
    DEFAULT_PULL_LIMIT,
    HTTP_STATUS,
    MAX_PAYLOAD_BYTES,
    MAX_PULL_LIMIT,
    PROTOCOL_VERSION,
    Change,
    ErrorCode,
    ErrorDetail,
    Mutation,
    MutationResult,
    PullResponse,
    PushBatch,
    PushRequest,
    Refused,
    canonical_json,
    client_action_for,
)
from sync.store import (
    PayloadError,
    RecordHandler,
    RecordState,
    StaleWrite,
    Store,
    StoredMutation,
    SupportsSavepoint,
)

__all__ = [
    "BadCursor",
    "RunOneByOne",
    "UnsupportedProtocol",
    "apply_batch",
    "decode_cursor",
    "decode_position",
    "encode_cursor",
    "fingerprint",
    "pull",
]


_log = logging.getLogger(__name__)


class BadCursor(ValueError):
    """A cursor this server cannot honour; the device must pull again without one."""


class UnsupportedProtocol(ValueError):
    """A request for another protocol version (the webapp answers protocol_version first)."""


def fingerprint(m: Mutation) -> str:
    """What makes two sends of one mutation id "the same mutation".

    client_time is left out because a device may re-stamp a retry; the mutation id is left out
    because it is the key the fingerprint is compared under.
    """
    body = {
        "record_type": m.record_type,
        "record_id": str(m.record_id),
        "op": m.op,
        "base_version": m.base_version,
        "payload": m.payload,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


# --- push ---------------------------------------------------------------------------------------


class RunOneByOne(Exception):
    """Raised by `apply_batch(..., roll_back_instead=True)` when the batch, tried with no
    savepoint, needs a mutation undone: the caller rolls its whole transaction back and calls
    `apply_batch(..., one_by_one=True)` in a fresh one."""


def apply_batch(
    store: Store,
    actor: Any,
    request: PushRequest | PushBatch,
    *,
    roll_back_instead: bool = False,
    one_by_one: bool = False,
) -> list[MutationResult]:
    """Answer every mutation of one push, in order. Run inside one transaction; raises to abort.

    Each mutation is answered alone: one the protocol refused (a `Refused` item of a PushBatch),
    one a handler refuses, a conflict, and (with a store that supports savepoints and says the
    error is isolated) one whose write failed unexpectedly, which is answered server_error with
    client_action "retry" and not remembered, so the rest of the batch goes on. Anything else (a
    lost database connection) propagates so that the caller rolls the whole batch back and the
    device, which has deleted nothing, sends it again.

    A batch at a time: the mutation ids already seen are read in one go, the records the batch
    names are loaded in one go (a store's optional `prepare`), and the batch is first tried in
    one savepoint with no savepoint per mutation. Only if a mutation then has to be undone (a
    rule only checkable while writing, a write that lost a race, a fault of one payload) is that
    attempt rolled back and the batch run again mutation by mutation, each in its own savepoint,
    which answers exactly as the first attempt would have had nothing needed undoing.

    `roll_back_instead`: the caller's transaction holds nothing it cannot do again, so the whole
    try needs no savepoint of its own (two round trips fewer: most pushes carry one mutation and
    need nothing undone); if something must be undone, RunOneByOne is raised for the caller to
    roll back and call again with `one_by_one`, which goes straight to a savepoint each.
    """
    if request.protocol != PROTOCOL_VERSION:
        raise UnsupportedProtocol(
            f"Sync protocol {request.protocol} is not supported; this server speaks "
            f"{PROTOCOL_VERSION}"
        )
    items = request.items if isinstance(request, PushBatch) else request.mutations
    mutations = [item for item in items if not isinstance(item, Refused)]
    seen = _seen(store, actor, mutations)
    prepare = getattr(store, "prepare", None)
    if prepare is not None:
        prepare(
            actor, [(m.record_type, m.record_id) for m in mutations if m.mutation_id not in seen]
        )
    if not isinstance(store, SupportsSavepoint) or one_by_one:
        return _run(store, actor, request.device_id, items, seen, isolated=True)
    if roll_back_instead and mutations:
        attempt = getattr(store, "batch_without_savepoint", nullcontext)
    elif len(mutations) > 1:
        attempt = getattr(store, "batch_savepoint", store.savepoint)
    else:
        return _run(store, actor, request.device_id, items, seen, isolated=True)
    try:
        with attempt():
            return _run(store, actor, request.device_id, items, seen, isolated=False)
    except _OneByOne:
        if roll_back_instead:
            raise RunOneByOne from None
    except Exception as exc:
        if not (isinstance(exc, StaleWrite) or store.isolates(exc)):
            raise
        if roll_back_instead:
            raise RunOneByOne from exc
    return _run(store, actor, request.device_id, items, seen, isolated=True)


class _OneByOne(Exception):
    """The batch, tried whole, needs a mutation undone: run it again one savepoint each."""


def _seen(store: Store, actor: Any, mutations: list[Mutation]) -> dict[Any, StoredMutation]:
    """The mutation ids this server already answered, in one lookup where the store can."""
    get_many = getattr(store, "get_mutations", None)
    if get_many is not None:
        return get_many(actor, [m.mutation_id for m in mutations])
    found = {}
    for m in mutations:
        stored = store.get_mutation(actor, m.mutation_id)
        if stored is not None:
            found[m.mutation_id] = stored
    return found


def _run(
    store: Store,
    actor: Any,
    device_id: Any,
    items: list,
    seen: dict[Any, StoredMutation],
    *,
    isolated: bool,
) -> list[MutationResult]:
    results: list[MutationResult] = []
    answered: list[StoredMutation] = []
    for item in items:
        if isinstance(item, Refused):
            results.append(_refused(item))
            continue
        stored = seen.get(item.mutation_id)
        if stored is not None:
            results.append(_replay(item, stored, fingerprint(item)))
            continue
        result, remember = _apply_one(store, actor, item, isolated=isolated)
        if remember is not None and isolated:
            # Saved at once: the next mutation's savepoint must not be able to undo it.
            store.save_mutation(actor, device_id, remember)
        elif remember is not None:
            answered.append(remember)  # saved with the batch, in one go below
        results.append(result)
    if answered:
        save_many = getattr(store, "save_mutations", None)
        if save_many is not None:
            save_many(actor, device_id, answered)
        else:
            for stored in answered:
                store.save_mutation(actor, device_id, stored)
    return results


class _Undo(Exception):
    """Roll this mutation's savepoint back and answer `result` (a refusal found mid-write)."""

    def __init__(self, result: MutationResult):
        super().__init__(result.status)
        self.result = result


def _apply_one(
    store: Store, actor: Any, m: Mutation, *, isolated: bool
) -> tuple[MutationResult, StoredMutation | None]:
    """The answer to one new mutation, and what to remember of it (None: not remembered)."""
    fp = fingerprint(m)
    if not isolated:
        # Tried with the whole batch: anything that would need this mutation undone sends the
        # batch back to be run one savepoint at a time.
        try:
            result = _apply(store, actor, m)
        except (_Undo, StaleWrite):
            raise _OneByOne from None
        return result, StoredMutation(m.mutation_id, fp, result)
    try:
        with _savepoint(store):
            result = _apply(store, actor, m)
    except _Undo as undo:
        result = undo.result
    except StaleWrite:
        # Another writer committed between our load and our write: answer as if we had seen it.
        result = _conflict_after_stale_write(store, actor, m)
    except Exception as exc:
        if not (isinstance(store, SupportsSavepoint) and store.isolates(exc)):
            raise
        # The type only: the exception text may quote the device's values.
        _log.error("sync: mutation failed, answered server_error: %s", type(exc).__name__)
        return (
            _rejected(
                m,
                ErrorCode.SERVER_ERROR,
                "The server could not store this change; it will be sent again later",
                field=None,
            ),
            None,
        )
    # Conflicts and rejections are remembered too, so a replay answers exactly as before
    # instead of, say, creating a second conflict copy.
    return result, StoredMutation(m.mutation_id, fp, result)


def _replay(m: Mutation, stored: StoredMutation, fp: str) -> MutationResult:
    if stored.result is None or not hmac.compare_digest(stored.fingerprint, fp):
        # Not saved: the id still belongs to its first content, which a later replay of that
        # content must keep getting.
        return _rejected(
            m,
            ErrorCode.MUTATION_ID_REUSED,
            "This mutation id was already used for a different change; the device must give "
            "each change its own id",
            field="mutation_id",
        )
    if stored.result.status == "applied":
        return stored.result.model_copy(update={"status": "replayed"})
    return stored.result


def _validated(handler: RecordHandler, m: Mutation) -> dict[str, Any]:
    """The handler's normalised payload; raises _Undo with the refusal."""
    if m.op == "delete":
        if m.payload:
            raise _Undo(
                _rejected(
                    m, ErrorCode.INVALID_PAYLOAD, "A delete carries no payload", field="payload"
                )
            )
        return {}
    try:
        return handler.validate(m.payload)
    except PayloadError as exc:
        raise _Undo(_rejected(m, ErrorCode.INVALID_PAYLOAD, exc.message, field=exc.field)) from None


def _apply(store: Store, actor: Any, m: Mutation) -> MutationResult:
    handler = store.handler(m.record_type)
    if handler is None:
        return _rejected(
            m,
            ErrorCode.UNKNOWN_RECORD_TYPE,
            f"This server does not sync records of type {m.record_type!r}",
            field="record_type",
        )
    size = len(canonical_json(m.payload).encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        return _rejected(
            m,
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"The payload is {size:,} bytes; the limit is {MAX_PAYLOAD_BYTES:,}",
            field="payload",
        )
    payload = _validated(handler, m)
    state = _current(handler, actor, m.record_id)
    if m.op == "delete":
        return _delete(store, handler, actor, m, state)
    return _upsert(store, handler, actor, m, payload, state)


def _current(handler: RecordHandler, actor: Any, record_id: Any) -> RecordState | None:
    """The record's version and whether it is deleted; its payload (which may take decrypting
    and reading the records it shows) only where the handler cannot say one without the other.
    A push needs the payload only for a conflict, and reads it again then."""
    peek = getattr(handler, "peek", None)
    return peek(actor, record_id) if peek is not None else handler.load(actor, record_id)


def _conflict_after_stale_write(store: Store, actor: Any, m: Mutation) -> MutationResult:
    handler = store.handler(m.record_type)
    assert handler is not None  # it wrote, so it exists
    state = handler.load(actor, m.record_id)
    if state is None:
        return _not_found(m)
    return _conflict(handler, actor, m, _validated(handler, m), state)


def _upsert(
    store: Store,
    handler: RecordHandler,
    actor: Any,
    m: Mutation,
    payload: dict[str, Any],
    state: RecordState | None,
) -> MutationResult:
    if state is None:
        # A base version for a record we cannot show means it is gone or hidden; refusing a
        # create looks the same, so neither reveals whether the id exists.
        if m.base_version is not None or not handler.can_create(actor, m.record_id, payload):
            return _not_found(m)
        return _write(store, handler, actor, m, payload, old_version=0, create=True)
    if state.deleted or state.version != m.base_version:
        return _conflict(handler, actor, m, payload, state)
    if not handler.can_write(actor, state):
        return _forbidden(m)
    return _write(store, handler, actor, m, payload, old_version=state.version, create=False)


def _delete(
    store: Store, handler: RecordHandler, actor: Any, m: Mutation, state: RecordState | None
) -> MutationResult:
    if state is None:
        return _not_found(m)
    if state.deleted:
        # What the device asked for is already true: acknowledge, log nothing new.
        return _applied(m, state.version)
    if state.version != m.base_version:
        return _conflict(handler, actor, m, {}, state)
    if not handler.can_write(actor, state):
        return _forbidden(m)
    new_version = state.version + 1
    try:
        stored = handler.delete(actor, state, new_version)
    except PayloadError as exc:
        raise _Undo(_rejected(m, ErrorCode.INVALID_PAYLOAD, exc.message, field=exc.field)) from None
    version = _stored_version(stored, new_version, state.version)
    store.record_change(m.record_type, m.record_id, version, True)
    return _applied(m, version)


def _write(
    store: Store,
    handler: RecordHandler,
    actor: Any,
    m: Mutation,
    payload: dict[str, Any],
    *,
    old_version: int,
    create: bool,
) -> MutationResult:
    new_version = old_version + 1
    try:
        stored = handler.write(actor, m.record_id, payload, new_version, create=create)
    except PayloadError as exc:
        # A rule only checkable while writing: the savepoint undoes whatever was written.
        raise _Undo(_rejected(m, ErrorCode.INVALID_PAYLOAD, exc.message, field=exc.field)) from None
    version = _stored_version(stored, new_version, old_version)
    store.record_change(m.record_type, m.record_id, version, False)
    return _applied(m, version)


def _savepoint(store: Store) -> AbstractContextManager[Any]:
    if isinstance(store, SupportsSavepoint):
        return store.savepoint()
    return nullcontext()


def _stored_version(stored: int | None, proposed: int, old: int) -> int:
    if stored is None:
        return proposed
    if stored <= old:
        # A version that does not rise would let devices keep a stale copy forever.
        raise RuntimeError(f"handler stored version {stored}, not above the old version {old}")
    return stored


def _conflict(
    handler: RecordHandler,
    actor: Any,
    m: Mutation,
    payload: dict[str, Any],
    server: RecordState,
) -> MutationResult:
    if getattr(handler, "peek", None) is not None and not server.deleted:
        # The server's copy travels with the answer: read it whole now.
        server = handler.load(actor, m.record_id) or server
    conflict_id = uuid4()
    handler.save_conflict(actor, m.record_id, m.base_version, payload, server, conflict_id)
    if server.deleted:
        message = "This record was deleted on the server after your copy was made"
    elif m.base_version is None:
        message = f"This record already exists on the server (version {server.version})"
    else:
        message = (
            f"This record changed on the server (your copy was made on version "
            f"{m.base_version}, the server has version {server.version})"
        )
    return MutationResult(
        mutation_id=m.mutation_id,
        record_type=m.record_type,
        record_id=m.record_id,
        status="conflict",
        http_status=HTTP_STATUS[ErrorCode.CONFLICT],
        version=server.version,
        error=ErrorDetail(
            code=ErrorCode.CONFLICT, message=message + "; both copies are kept", field=None
        ),
        conflict_id=conflict_id,
        server_payload=None if server.deleted else server.payload,
        client_action="keep_and_show",
    )


def _applied(m: Mutation, version: int) -> MutationResult:
    return MutationResult(
        mutation_id=m.mutation_id,
        record_type=m.record_type,
        record_id=m.record_id,
        status="applied",
        http_status=200,
        version=version,
        client_action="delete_local",
    )


def _not_found(m: Mutation) -> MutationResult:
    return _rejected(
        m, ErrorCode.NOT_FOUND, "No such record, or you do not have access to it", field=None
    )


def _forbidden(m: Mutation) -> MutationResult:
    verb = "delete" if m.op == "delete" else "change"
    return _rejected(
        m, ErrorCode.FORBIDDEN_OPERATION, f"You cannot {verb} this record now", field=None
    )


def _refused(item: Refused) -> MutationResult:
    http_status = HTTP_STATUS[item.code]
    return MutationResult(
        mutation_id=item.mutation_id,
        record_type=item.record_type,
        record_id=item.record_id,
        status="rejected",
        http_status=http_status,
        error=ErrorDetail(code=item.code, message=item.message, field=item.field),
        client_action=client_action_for("rejected", http_status),
    )


def _rejected(m: Mutation, code: ErrorCode, message: str, *, field: str | None) -> MutationResult:
    return _refused(Refused(m.mutation_id, m.record_type, m.record_id, code, message, field))


# --- cursors ------------------------------------------------------------------------------------

_CURSOR_VERSION = b"v1"
# A full copy part-way: the log position it is a copy as of, and where in the copy the next
# page starts (the record type's place in the store's order, and the last record id given).
_SNAPSHOT_VERSION = b"v2"
_SEQ = struct.Struct(">Q")
_POSITION = struct.Struct(">B16s")
_MAC_BYTES = 16
_CURSOR_BYTES = len(_CURSOR_VERSION) + _SEQ.size + _MAC_BYTES
_SNAPSHOT_BYTES = _CURSOR_BYTES + _POSITION.size
_MAX_SEQ = 2**63 - 1  # the largest BIGINT, so every seq the database can hold round-trips
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OTHER_VERSION = re.compile(rb"v[0-9]")


def _mac(secret: bytes, body: bytes) -> bytes:
    if not secret:
        raise ValueError("the cursor secret must not be empty")
    return hmac.new(secret, body, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def encode_cursor(seq: int, secret: bytes, position: tuple[int, UUID] | None = None) -> str:
    """An opaque, URL-safe token for "everything up to change log seq `seq` has been seen", or,
    with a position, for "a full copy as of `seq`, given up to this record"."""
    if not 0 <= seq <= _MAX_SEQ:
        raise ValueError(f"seq {seq} is outside 0..{_MAX_SEQ}")
    if position is None:
        body = _CURSOR_VERSION + _SEQ.pack(seq)
    else:
        type_index, record_id = position
        body = _SNAPSHOT_VERSION + _SEQ.pack(seq) + _POSITION.pack(type_index, record_id.bytes)
    return _b64(body + _mac(secret, body))


def decode_cursor(cursor: str, secret: bytes) -> int:
    """The seq inside a cursor this server issued; BadCursor for anything else.

    Messages have no final full stop: the webapp appends what the device should do next.
    """
    return decode_position(cursor, secret)[0]


def decode_position(cursor: str, secret: bytes) -> tuple[int, tuple[int, UUID] | None]:
    """(seq, None) for a log cursor; (seq, (type index, last record id)) part-way through a full
    copy. BadCursor for anything this server did not issue."""
    if not isinstance(cursor, str) or not _CURSOR_CHARS.fullmatch(cursor):
        raise BadCursor("The cursor is not one this server issues (wrong characters or length)")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise BadCursor("The cursor is not valid base64url") from None
    # Only one spelling is accepted, so a cursor cannot be altered in its unused bits.
    if _b64(raw) != cursor:
        raise BadCursor("The cursor is not valid base64url")
    version = raw[: len(_CURSOR_VERSION)]
    if version not in (_CURSOR_VERSION, _SNAPSHOT_VERSION):
        if _OTHER_VERSION.fullmatch(version):
            raise BadCursor(
                f"The cursor is format {version.decode()}; this server only reads "
                f"{_CURSOR_VERSION.decode()} and {_SNAPSHOT_VERSION.decode()}"
            )
        raise BadCursor("The cursor is not one this server issues")
    expected = _CURSOR_BYTES if version == _CURSOR_VERSION else _SNAPSHOT_BYTES
    if len(raw) != expected:
        raise BadCursor("The cursor has the wrong length")
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise BadCursor(
            "The cursor's signature does not match: it was altered, or issued by another "
            "server or before its key changed"
        )
    start = len(_CURSOR_VERSION)
    (seq,) = _SEQ.unpack(body[start : start + _SEQ.size])
    if seq > _MAX_SEQ:
        raise BadCursor("The cursor is out of range")
    if version == _CURSOR_VERSION:
        return seq, None
    type_index, raw_id = _POSITION.unpack(body[start + _SEQ.size :])
    return seq, (type_index, UUID(bytes=raw_id))


# --- pull ---------------------------------------------------------------------------------------


def pull(
    store: Store,
    actor: Any,
    cursor: str | None,
    secret: bytes,
    limit: int = DEFAULT_PULL_LIMIT,
) -> PullResponse:
    """One page of the changes `actor` may see after `cursor` (None: a full pull from scratch).

    A full pull from a store that can list what an actor may see (its optional `snapshot`) is
    served from that, each record once, in pages whose cursor holds the log position the copy is
    as of; the device then follows the log from there. Without it, a full pull walks the log from
    its start.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    limit = min(limit, MAX_PULL_LIMIT)
    snapshot = getattr(store, "snapshot", None)
    if cursor is None:
        seq, position, reset = 0, None, True
        if snapshot is not None:
            # Where the log takes over from the copy: a store whose writers run side by side
            # gives the seq up to which they have all finished (its optional `horizon`).
            as_of = getattr(store, "horizon", store.latest_seq)()
            page = snapshot(actor, None, limit)
            if page is not None:
                return _snapshot_page(as_of, page, secret, reset=True)
    else:
        seq, position = decode_position(cursor, secret)
        reset = False
        latest = store.latest_seq()
        if seq > latest:
            # Signed by us yet beyond our log: the database went back in time (a restore), so
            # the device may hold changes this server no longer has.
            raise BadCursor(
                f"The cursor is ahead of this server's change log ({seq} > {latest}); the "
                "server's data may have been restored from a backup"
            )
        if position is not None:
            page = snapshot(actor, position, limit) if snapshot is not None else None
            if page is None:
                raise BadCursor(
                    "The cursor is part-way through a full copy this server cannot go on with"
                )
            return _snapshot_page(seq, page, secret, reset=False)
    changes, last_scanned, has_more = store.changes_since(actor, seq, limit)
    return PullResponse(
        protocol=PROTOCOL_VERSION,
        changes=changes,
        # max(): a store that scanned nothing may report less than it was given.
        cursor=encode_cursor(max(seq, last_scanned), secret),
        has_more=has_more,
        reset=reset,
    )


def _snapshot_page(
    as_of: int, page: tuple[list[Change], tuple[int, UUID] | None], secret: bytes, *, reset: bool
) -> PullResponse:
    changes, position = page
    return PullResponse(
        protocol=PROTOCOL_VERSION,
        changes=changes,
        cursor=encode_cursor(as_of, secret, position),
        # The copy's last page says "no more": what changed since it is in the log after as_of,
        # which the device's next pull reads.
        has_more=position is not None,
        reset=reset,
    )
