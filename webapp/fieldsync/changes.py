"""The change log, written by the database session itself.

Every transaction that touches an interview (or the child or episode an interview shows) appends
change_log rows just before it commits, whether the change came from a web form, a sync push or
the demo loader. One mechanism, so a pull can never miss a change made some other way.

Commit order: on PostgreSQL two transactions can take sequence numbers 10 and 11 and commit 11
first; a device pulling in between would move its cursor past 10 and never see it. Taking a
transaction-level advisory lock before appending makes the log's order the commit order (SQLite
already has one writer at a time). The lock is taken as late as possible: see append_log.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from webapp import uow
from webapp.children.models import Child
from webapp.db_types import utcnow
from webapp.episodes.models import Episode
from webapp.fieldsync.models import ChangeLog
from webapp.interviews.models import Interview, interview_ids_for

CHANGE_LOG_LOCK = 0x486F6D65  # "Home": any constant shared by every writer


_KEY = "homeward_change_log"


def note_changes(session: Session) -> None:
    """Remember what this flush touched; the log rows are written once, just before commit."""
    noted = uow.notes(
        session,
        _KEY,
        lambda: {"changed": set(), "deleted": set(), "children": set(), "episodes": set()},
    )
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Interview) and (obj in session.new or session.is_modified(obj)):
            noted["changed"].add(obj.id)
        elif isinstance(obj, Child) and session.is_modified(obj):
            noted["children"].add(obj.id)
        elif isinstance(obj, Episode) and (obj in session.new or session.is_modified(obj)):
            noted["episodes"].add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Interview):
            noted["deleted"].add(obj.id)


def append_log(session: Session) -> None:
    """Append this transaction's change log rows. Registered with uow to run last of all:
    the PostgreSQL lock it takes is then held only from here to the commit, so concurrent pushes
    wait on each other for milliseconds, not for the whole of each other's batches."""
    noted = uow.take_notes(session, _KEY)
    if not noted:
        return
    changed = set(noted["changed"])
    deleted = noted["deleted"]
    changed |= interview_ids_for(
        session.connection(), child_ids=noted["children"], episode_ids=noted["episodes"]
    )
    changed -= deleted
    if not changed and not deleted:
        return

    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHANGE_LOG_LOCK})
    versions = dict(
        conn.execute(
            select(Interview.id, Interview.version).where(Interview.id.in_(list(changed)))
        ).all()
    )
    now = utcnow()
    rows = [
        {
            "record_type": "interview",
            "record_id": rid,
            "version": versions[rid],
            "deleted": False,
            "changed_at": now,
        }
        for rid in sorted(changed)
        if rid in versions  # created and rolled back in a savepoint: nothing to log
    ] + [
        {
            "record_type": "interview",
            "record_id": rid,
            "version": 0,
            "deleted": True,
            "changed_at": now,
        }
        for rid in sorted(deleted)
    ]
    if rows:
        conn.execute(ChangeLog.__table__.insert(), rows)
