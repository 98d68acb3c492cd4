"""The audit trail: who read or changed which child's record, when, and from which device.

Every read and change of a child's record is written here by the service that does it. The row
carries ids and an action verb only; never names or content, so the trail itself is not a second
copy of the personal data.

Tamper-evident (issue 15): each entry is chained to the one before by a keyed hash
(webapp.audit_chain). Chaining needs one total order, and ids taken from a sequence as rows are
flushed are not in commit order (two transactions take 10 and 11 and commit 11 first). So
`record` only notes the entry; just before the transaction commits (uow, run last of all) the
entries are given their ids and hashes after the current head, and inserted. On PostgreSQL a
transaction-level advisory lock, taken there and held only until the commit, makes that "read
the head, append" one at a time; SQLite has one writer at a time already. The id IS the chain
position: ids are in commit order, and the chain is walked in id order.

Audit rows are never updated or deleted: the ORM refuses it here (AuditTrailError), and the
database refuses it too (triggers of migration 0022), for whatever SQL bypasses the ORM.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from flask import Flask, current_app, g, has_request_context, request
from flask_login import current_user
from flask_sqlalchemy.session import Session as AppSession
from sqlalchemy import ForeignKey, String, event, select, text
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.sql.dml import Delete, Update

from webapp import audit_chain, uow
from webapp.db_types import UTCDateTime, utcnow
from webapp.extensions import db

DEVICE_COOKIE = "hw_device"
# After everything else that runs before a commit (the sync change log is 100): the audit lock
# is then the last taken and held the shortest time, and nothing after it adds audit entries.
AUDIT_ORDER = 200
# Any constant shared by every writer, distinct from the change log's ("Home").
AUDIT_LOCK = 0x41756469  # "Audi"

_PENDING = "homeward_audit_pending"
_MARKS = "homeward_audit_savepoints"
_ENDED = "homeward_audit_savepoint_ended"
_KEY_EXTENSION = "homeward_audit_key"

log = logging.getLogger(__name__)


class AuditTrailError(RuntimeError):
    """Something tried to change or remove an audit entry (never allowed)."""


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    # The chain position: assigned just before commit, head + 1, never from the sequence.
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
    # HMAC-SHA256 (hex) over every column above and the previous entry's entry_hash.
    entry_hash: Mapped[str] = mapped_column(String(64))


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
    and hash are given at commit."""
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


def head(conn) -> tuple[int, str]:
    """(id, hash) of the newest entry; (0, GENESIS) for an empty trail."""
    row = conn.execute(
        select(AuditEvent.id, AuditEvent.entry_hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, audit_chain.GENESIS)


def append_pending(session: Session) -> None:
    """Give this transaction's entries their place after the head and insert them. Registered
    with uow to run last before the commit: the lock is held from here to the commit only, so
    audited page views queue for milliseconds, never for each other's whole requests."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    key = chain_key()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK})
    elif not conn.connection.dbapi_connection.in_transaction:
        # A transaction that only read has not begun on SQLite yet (the driver begins at the
        # first write): take the write lock before reading the head, or another writer could
        # append between that read and this insert.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    last_id, last_hash = head(conn)
    rows = [dict(entry, id=last_id + n) for n, entry in enumerate(pending, start=1)]
    audit_chain.seal(key, rows, last_hash)
    conn.execute(AuditEvent.__table__.insert(), rows)


# ---------------------------------------------------------------- never updated, never deleted


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper, connection, target) -> None:
    raise AuditTrailError("audit entries are never changed")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:
    raise AuditTrailError("audit entries are never deleted")


def _adopt_strays(session: Session, _flush_context, _instances) -> None:
    """An AuditEvent added to the session directly (not through record) is chained like the
    rest rather than inserted by the flush with a sequence id and no hash."""
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
