"""The audit trail: who read or changed which child's record, when, and from which device.

Every read and change of a child's record is written here by the service that does it. The row
carries ids and an action verb only; never names or content, so the trail itself is not a second
copy of the personal data.

Tamper-evident (issue 15): each entry is chained to the one before by a keyed hash
(webapp.audit_chain), in id order. The chain is made after the commit, not at it:

- Writers: `record` notes the entry; just before the transaction commits (uow, run last of all)
  `append_pending` inserts the entries with ids from the sequence and no hash. On PostgreSQL it
  first takes the audit lock SHARED (transaction-level, let go by the commit): writers never wait
  for each other, so audited commits share disk flushes instead of queueing one at a time on
  one lock held through each flush (issue 14). SQLite has one writer at a time already.
- The chainer (`chain_pending`, run by every reminder dispatcher round, `homeward audit chain`
  and `homeward audit verify`): one at a time (a second advisory lock, tried, never waited for),
  it takes a horizon as the sync change log does (webapp.fieldsync.changes.horizon): the largest
  id at a moment when no writer was between its insert and its commit, found by taking the audit
  lock EXCLUSIVELY for that one read. Ids are drawn after the shared lock is taken, so every id
  up to the horizon is committed or will never be (rolled back: a gap, which the chain does not
  mind). It then hashes the unchained entries above the chained head, up to the horizon, in id
  order, each on the previous chained one.

So an entry is tamper-evident from the moment the chainer has hashed it (within one dispatcher
round, seconds), not from its commit: docs/operations/audit.md says what that window means.

Audit rows are never deleted, and never updated except for that one step (entry_hash from NULL to
a value, nothing else changed): the ORM refuses any change here (AuditTrailError; the chainer
writes with Core), and the database refuses the rest too (triggers of migration 0022), for
whatever SQL bypasses the ORM.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from flask import Flask, current_app, g, has_request_context, request
from flask_login import current_user
from flask_sqlalchemy.session import Session as AppSession
from sqlalchemy import ForeignKey, String, bindparam, event, select, text
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.sql.dml import Delete, Update

from webapp import audit_chain, loghorizon, uow
from webapp.db_types import UTCDateTime, utcnow
from webapp.extensions import db

DEVICE_COOKIE = "hw_device"
# After everything else that runs before a commit (the sync change log is 100): nothing after it
# adds audit entries, and the logs' lock (webapp.loghorizon) is taken as late as it can be.
AUDIT_ORDER = 200
# Shared with the change log's writers (one lock, one round trip for a push that writes both):
# writers hold it shared from their insert to their commit, the chainer takes it exclusively
# for one read (webapp.loghorizon).
AUDIT_LOCK = loghorizon.LOCK
# Held (tried, never waited for) by the one chainer at work: a second one has nothing to do.
CHAINER_LOCK = 0x41756463  # "Audc"
CHAIN_BATCH = 1000

_PENDING = "homeward_audit_pending"
_MARKS = "homeward_audit_savepoints"
_ENDED = "homeward_audit_savepoint_ended"
_KEY_EXTENSION = "homeward_audit_key"

log = logging.getLogger(__name__)


class AuditTrailError(RuntimeError):
    """Something tried to change or remove an audit entry (never allowed)."""


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    # The chain position: from the sequence, drawn under the shared audit lock (see above).
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))  # e.g. "view", "create", "update", "allocate"
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(36))
    child_id: Mapped[str | None] = mapped_column(String(36), index=True)
    device_id: Mapped[str | None] = mapped_column(String(36))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[str | None] = mapped_column(String(200))  # field names, never values
    # HMAC-SHA256 (hex) over every column above and the previous chained entry's entry_hash;
    # NULL from the commit until the chainer's next run (set once, never changed after).
    entry_hash: Mapped[str | None] = mapped_column(String(64))


def record(
    action: str,
    object_type: str,
    object_id: str | None,
    *,
    child_id: str | None = None,
    detail: str | None = None,
    user_id: str | None = None,
) -> dict:
    """Add an audit entry to the current transaction (it commits or rolls back with the change,
    and a savepoint rolled back takes it with it). Returns the entry's columns as noted; its id
    is given at commit, its hash by the chainer after."""
    entry = {
        "at": utcnow(),
        "user_id": user_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "child_id": child_id,
        "device_id": None,
        "user_agent": None,
        "ip": None,
        "detail": detail,
    }
    if has_request_context():
        if entry["user_id"] is None and current_user and current_user.is_authenticated:
            entry["user_id"] = current_user.id
        entry["device_id"] = g.get("device_id")
        entry["user_agent"] = (request.user_agent.string or "")[:200]
        entry["ip"] = request.remote_addr
    _note(db.session, entry)
    return entry


def _note(session: Session, entry: dict) -> None:
    session.info.setdefault(_PENDING, []).append(entry)


# The pending entries follow the transaction: what a savepoint noted goes if it rolls back, and
# everything goes with a rollback of the whole. Kept here rather than in uow's notes: the list
# only grows, so a savepoint needs its length, not a copy; and SQLAlchemy ends a savepoint
# (after_transaction_end) before it reports its rollback (after_soft_rollback), so the mark is
# carried from the one to the other.


def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = len(session.info.get(_PENDING, ()))


def _end_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        mark = session.info.get(_MARKS, {}).pop(id(transaction), None)
        session.info[_ENDED] = (id(transaction), mark)
    elif transaction.parent is None:
        # Committed (append_pending took the entries first) or rolled back: nothing carries on.
        for key in (_PENDING, _MARKS, _ENDED):
            session.info.pop(key, None)


def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested:
        ended, mark = session.info.pop(_ENDED, (None, None))
        if ended == id(previous_transaction) and mark is not None:
            del session.info.get(_PENDING, [])[mark:]
    elif previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


# ---------------------------------------------------------------- the key


def chain_key() -> audit_chain.ChainKey:
    """The app's audit key: HOMEWARD_AUDIT_KEY or instance/audit-key (made on first use)."""
    key = current_app.extensions.get(_KEY_EXTENSION)
    if key is None:
        key = load_app_key(current_app.instance_path, allow_generate=True)
        current_app.extensions[_KEY_EXTENSION] = key
    return key


def load_app_key(instance_path: str, *, allow_generate: bool) -> audit_chain.ChainKey:
    key = audit_chain.load_key(os.environ, instance_path, allow_generate=allow_generate)
    if key.created:
        # Said once, when it is made: the operator must keep it with the instance's secrets.
        log.warning(
            "Audit trail key in use at %s: keep it with the instance secrets; with several "
            "servers set %s to one key on every server",
            key.source,
            audit_chain.ENV_KEY,
        )
    return key


# ---------------------------------------------------------------- appending, just before commit


def append_pending(session: Session) -> None:
    """Insert this transaction's entries, unhashed. Registered with uow to run last before the
    commit: on PostgreSQL the audit lock is taken SHARED here (before the ids are drawn: the
    chainer's horizon relies on it) and let go by the commit, so writers never wait for each
    other; only a chainer's horizon read waits for them, for the time of their commit."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    conn = session.connection()
    loghorizon.hold_shared(conn)
    conn.execute(AuditEvent.__table__.insert(), [dict(entry, entry_hash=None) for entry in pending])


# ---------------------------------------------------------------- chaining, after the commit


class ChainError(RuntimeError):
    """The chainer cannot go on: the newest chained entry does not fit under this key (the
    wrong key, or a tampered head). Nothing is chained on top of it; verify says more."""


def chained_head(conn) -> tuple[int, str]:
    """(id, hash) of the newest chained entry; (0, GENESIS) when none is chained yet. The
    primary key's index read backwards: unchained entries are only ever above the head."""
    row = conn.execute(
        select(AuditEvent.id, AuditEvent.entry_hash)
        .where(AuditEvent.entry_hash.is_not(None))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, audit_chain.GENESIS)


def horizon(conn) -> int:
    """The largest id such that every entry up to it is committed or will never be
    (webapp.loghorizon; SQLite: the chainer holds the write lock, nothing is in flight)."""
    return loghorizon.horizon(conn, "audit_events", "id")


_COLUMNS = tuple(AuditEvent.__table__.c[name] for name in audit_chain.FIELDS)
_SET_HASH = (
    AuditEvent.__table__.update()
    .where(AuditEvent.__table__.c.id == bindparam("row_id"))
    .where(AuditEvent.__table__.c.entry_hash.is_(None))
    .values(entry_hash=bindparam("new_hash"))
)


def _check_head(conn, key: audit_chain.ChainKey, head_id: int, head_hash: str) -> None:
    """The head must be this key's work on the chained entry before it: else chaining on would
    seal a wrong key's (or a forger's) entry into the chain, or fork it under a second key."""
    if not head_id:
        return
    rows = conn.execute(
        select(*_COLUMNS, AuditEvent.entry_hash)
        .where(AuditEvent.id <= head_id, AuditEvent.entry_hash.is_not(None))
        .order_by(AuditEvent.id.desc())
        .limit(2)
    ).all()
    entry = dict(rows[0]._mapping)
    prev = rows[1].entry_hash if len(rows) > 1 else audit_chain.GENESIS
    try:
        fits = audit_chain.entry_hash(key, entry, prev) == head_hash
    except TypeError:
        fits = False
    if not fits:
        raise ChainError(
            f"the newest chained entry ({head_id}) does not match this audit key: the key is "
            "not the one that chained the trail, or the entry was changed. Nothing was chained; "
            "run `homeward audit verify --no-chain`."
        )


def _chain_batch(conn, key, batch: int, limit: int | None) -> tuple[int, int | None]:
    """One transaction: returns (entries chained, horizon taken or None if no chainer lock)."""
    if conn.dialect.name == "postgresql":
        if not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": CHAINER_LOCK}):
            return 0, None  # another chainer is at work: it will chain these too
    elif not conn.connection.dbapi_connection.in_transaction:
        # SQLite: the write lock, taken before the head is read (one chainer, no writer).
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    head_id, head_hash = chained_head(conn)
    if limit is None:
        # Nothing above the head: done, without touching the writers' lock (every round).
        waiting = conn.scalar(select(AuditEvent.id).where(AuditEvent.id > head_id).limit(1))
        if waiting is None:
            return 0, head_id
        limit = horizon(conn)
    _check_head(conn, key, head_id, head_hash)
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            select(*_COLUMNS, AuditEvent.entry_hash)
            .where(AuditEvent.id > head_id, AuditEvent.id <= limit)
            .order_by(AuditEvent.id)
            .limit(batch)
        )
    ]
    prev = head_hash
    for row in rows:
        if row["entry_hash"] is not None:  # never: the head is the largest hashed id
            raise ChainError(f"entry {row['id']} is above the chained head yet hashed")
        row["row_id"] = row["id"]
        row["new_hash"] = prev = audit_chain.entry_hash(key, row, prev)
    if rows:
        done = conn.execute(
            _SET_HASH, [{"row_id": r["row_id"], "new_hash": r["new_hash"]} for r in rows]
        ).rowcount
        if done != len(rows):
            raise ChainError("an entry was chained by someone else meanwhile; nothing kept")
    return len(rows), limit


def chain_pending(engine, key: audit_chain.ChainKey | None = None, batch: int = CHAIN_BATCH) -> int:
    """Chain every entry committed so far and not chained yet; returns how many. A batch a
    transaction (each committed: a crash loses no work and holds nothing). Returns 0 at once if
    another chainer is at work. Raises ChainError if the head does not fit this key."""
    key = key or chain_key()
    total, limit = 0, None
    with engine.connect() as conn:
        while True:
            with conn.begin():
                done, taken = _chain_batch(conn, key, batch, limit)
            if taken is None:
                return total
            total, limit = total + done, taken
            if done < batch:
                return total


def chain_quietly(engine) -> int:
    """chain_pending for a loop that must go on whatever happens (the reminder dispatcher):
    any failure is logged by its type only (no entry, no SQL, no values) and returns 0."""
    try:
        return chain_pending(engine)
    except Exception as exc:  # noqa: BLE001 - the dispatcher's reminders come first
        log.error("audit chaining failed: %s", type(exc).__name__)
        return 0


# ---------------------------------------------------------------- never updated, never deleted


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    # Even the hash: only the chainer sets it, with Core, once.
    raise AuditTrailError("audit entries are never changed")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:
    raise AuditTrailError("audit entries are never deleted")


def _adopt_strays(session: Session, _flush_context, _instances) -> None:
    """An AuditEvent added to the session directly (not through record) is appended like the
    rest, at the commit under the shared lock, rather than by the flush (ids drawn outside the
    lock would let the chainer's horizon pass an entry still to commit)."""
    for obj in list(session.new):
        if isinstance(obj, AuditEvent):
            session.expunge(obj)
            entry = {name: getattr(obj, name) for name in audit_chain.FIELDS if name != "id"}
            entry["at"] = entry["at"] or utcnow()
            _note(session, entry)


def _refuse_bulk(state) -> None:
    """update(AuditEvent) / delete(AuditEvent) executed through the session."""
    statement = state.statement
    if isinstance(statement, Update | Delete) and statement.table.name == "audit_events":
        raise AuditTrailError("audit entries are never changed or deleted")


_SESSION_LISTENERS = {
    "before_flush": _adopt_strays,
    "do_orm_execute": _refuse_bulk,
    "after_transaction_create": _mark_savepoint,
    "after_transaction_end": _end_transaction,
    "after_soft_rollback": _forget_rolled_back,
}


def init_app(app: Flask) -> None:
    # On the app's session class, as uow does: the migration's bare connections are not ours.
    for name, fn in _SESSION_LISTENERS.items():
        if not event.contains(AppSession, name, fn):
            event.listen(AppSession, name, fn)
    uow.register_before_commit(app, "audit_chain", append_pending, order=AUDIT_ORDER)
    # Loaded (made, on a fresh instance) at start: a malformed key stops the app here rather
    # than failing every audited page later.
    app.extensions[_KEY_EXTENSION] = load_app_key(app.instance_path, allow_generate=True)
