"""The change log, written by the database session itself.

Every transaction that touches a record of a registered type (an interview, or the child or
episode an interview shows: the type says which rows feed its log) appends change_log rows just
before it commits, whether the change came from a web form, a sync push or
the demo loader. One mechanism, so a pull can never miss a change made some other way.

Commit order: on PostgreSQL two transactions can take sequence numbers 10 and 11 and commit 11
first; a device pulling in between would move its cursor past 10 and never see it. So a pull only
reads up to a horizon: the last seq at a moment when no writer was between its append and its
commit. Each writer holds the change log lock in *shared* mode from its append to its commit, so
writers never wait for each other (their commits can share one disk flush); a pull takes the
same lock in exclusive mode just long enough to read the last seq (`horizon`), which waits for
the appends in flight to commit and holds new ones back for that one read. Every seq up to the
horizon was then given to a writer that had finished; any later writer's seq is above it.
(Before, every writer took the lock exclusively from its append to its commit: writers queued on
each other's commit, disk flush included.) SQLite has one writer at a time: the log's order is
its commit order, and the horizon is simply the last seq.
"""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from webapp import loghorizon, uow
from webapp.db_types import utcnow
from webapp.fieldsync import registry
from webapp.fieldsync.models import ChangeLog

CHANGE_LOG_LOCK = loghorizon.LOCK  # shared with the audit trail's writers


_KEY = "homeward_change_log"


def note_changes(session: Session) -> None:
    """Remember what this flush touched; the log rows are written once, just before commit."""
    types = registry.record_types()
    if not types:
        return
    noted = uow.notes(session, _KEY, dict)
    tracked = tuple({cls for rt in types.values() for cls in (rt.model, *rt.shows)})
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, tracked):
            continue
        if obj not in session.new and not session.is_modified(obj):
            continue
        for name, rt in types.items():
            entry = noted.setdefault(name, {"changed": set(), "deleted": set(), "shows": {}})
            if isinstance(obj, rt.model):
                entry["changed"].add(obj.id)
            for cls in rt.shows:
                if isinstance(obj, cls) and _shown_change(session, obj, rt.shows_only.get(cls)):
                    entry["shows"].setdefault(cls.__name__, set()).add(obj.id)
    for obj in session.deleted:
        for name, rt in types.items():
            if isinstance(obj, rt.model):
                entry = noted.setdefault(name, {"changed": set(), "deleted": set(), "shows": {}})
                entry["deleted"].add(obj.id)


def _shown_change(session: Session, obj, only: tuple[str, ...] | None) -> bool:
    if not only or obj in session.new:
        return True
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in only)


def append_log(session: Session) -> None:
    """Append this transaction's change log rows. Registered with uow to run last of all: the
    PostgreSQL lock it takes (shared: writers never wait for each other) is then held only from
    here to the commit, so a pull's horizon waits for milliseconds, not for whole batches."""
    noted = uow.take_notes(session, _KEY)
    if not noted:
        return
    conn = session.connection()
    types = registry.record_types()
    work = []
    for name, entry in noted.items():
        rt = types[name]
        changed = set(entry["changed"])
        for cls, find in rt.shows.items():
            ids = entry["shows"].get(cls.__name__)
            if ids:
                changed |= find(conn, ids)
        changed -= entry["deleted"]
        if changed or entry["deleted"]:
            written = set(entry["changed"]) - entry["deleted"]
            work.append((rt, changed, entry["deleted"], written))
    if not work:
        return

    loghorizon.hold_shared(conn)
    now = utcnow()
    rows = []
    for rt, changed, deleted, written in work:
        # Rows this transaction wrote: their version is in the session (the flush set it, and
        # the row lock keeps it so to the commit). Rows only shown (another row changed) are read.
        versions = _known_versions(session, rt.model, written & changed)
        unknown = changed - set(versions)
        if unknown:
            query = select(rt.model.id, rt.model.version).where(rt.model.id.in_(unknown))
            versions.update(conn.execute(query).all())
        rows += [
            {
                "record_type": rt.name,
                "record_id": rid,
                "version": versions[rid],
                "deleted": False,
                "changed_at": now,
            }
            for rid in sorted(changed)
            if rid in versions  # created and rolled back in a savepoint: nothing to log
        ] + [
            {
                "record_type": rt.name,
                "record_id": rid,
                "version": 0,
                "deleted": True,
                "changed_at": now,
            }
            for rid in sorted(deleted)
        ]
    if rows:
        conn.execute(ChangeLog.__table__.insert(), rows)


def _known_versions(session: Session, model: type, ids: set[str]) -> dict[str, int]:
    """The versions the session holds for rows this transaction wrote, as flushed (the version
    column is set by the flush itself)."""
    known = {}
    for rid in ids:
        obj = session.identity_map.get(identity_key(model, rid))
        if obj is None:
            continue
        state = inspect(obj)
        if "version" in state.dict and not state.expired and obj not in session.dirty:
            known[rid] = state.dict["version"]
    return known


def note_written(session: Session, cls: type, ids: set[str]) -> None:
    """Note rows a transaction wrote with Core (a bulk insert the flush never sees) exactly as
    note_changes notes what a flush touched, so their change log rows are appended too."""
    if not ids:
        return
    noted = uow.notes(session, _KEY, dict)
    for name, rt in registry.record_types().items():
        if not (issubclass(cls, rt.model) or cls in rt.shows):
            continue
        entry = noted.setdefault(name, {"changed": set(), "deleted": set(), "shows": {}})
        if issubclass(cls, rt.model):
            entry["changed"] |= set(ids)
        if cls in rt.shows:
            entry["shows"].setdefault(cls.__name__, set()).update(ids)


def note_deleted(session: Session, cls: type, ids: set[str]) -> None:
    """Note rows a transaction deleted with Core (retention's deletion, which no flush sees) as
    note_changes notes a deleted object: their tombstones are appended at commit, and each
    device that holds one is told to drop it at its next pull."""
    if not ids:
        return
    noted = uow.notes(session, _KEY, dict)
    for name, rt in registry.record_types().items():
        if issubclass(cls, rt.model):
            entry = noted.setdefault(name, {"changed": set(), "deleted": set(), "shows": {}})
            entry["deleted"] |= set(ids)


def horizon(session: Session) -> int:
    """The last seq of the change log such that every row up to it is committed or rolled back:
    a pull reads up to here and no further (see the module's docstring and webapp.loghorizon)."""
    return loghorizon.horizon(session.connection(), "change_log", "seq")
