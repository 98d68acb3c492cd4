"""The change log, written by the database session itself.

Every flush that touches an interview (or the child or episode an interview shows) appends a
change_log row in the same transaction, whether the change came from a web form, a sync push or
the demo loader. One mechanism, so a pull can never miss a change made some other way.

Commit order: on PostgreSQL two transactions can take sequence numbers 10 and 11 and commit 11
first; a device pulling in between would move its cursor past 10 and never see it. Taking a
transaction-level advisory lock before appending makes the log's order the commit order (SQLite
already has one writer at a time).
"""

from __future__ import annotations

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from webapp.children.models import Child
from webapp.db_types import utcnow
from webapp.episodes.models import Episode
from webapp.fieldsync.models import ChangeLog
from webapp.interviews.models import Interview, interview_episodes

CHANGE_LOG_LOCK = 0x486F6D65  # "Home": any constant shared by every writer


def _interview_ids_for(session: Session, children: set[str], episodes: set[str]) -> set[str]:
    ids: set[str] = set()
    conn = session.connection()
    if children:
        ids |= set(conn.scalars(select(Interview.id).where(Interview.child_id.in_(children))))
    if episodes:
        ids |= set(
            conn.scalars(
                select(interview_episodes.c.interview_id).where(
                    interview_episodes.c.episode_id.in_(episodes)
                )
            )
        )
    return ids


@event.listens_for(Session, "after_flush")
def _log_changes(session: Session, _flush_context) -> None:
    changed: dict[str, Interview | None] = {}
    deleted: set[str] = set()
    children: set[str] = set()
    episodes: set[str] = set()
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Interview) and (obj in session.new or session.is_modified(obj)):
            changed[obj.id] = obj
        elif isinstance(obj, Child) and session.is_modified(obj):
            children.add(obj.id)
        elif isinstance(obj, Episode) and (obj in session.new or session.is_modified(obj)):
            episodes.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Interview):
            deleted.add(obj.id)
    for interview_id in _interview_ids_for(session, children, episodes):
        changed.setdefault(interview_id, None)
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
        for rid in changed
        if rid in versions
    ] + [
        {
            "record_type": "interview",
            "record_id": rid,
            "version": 0,
            "deleted": True,
            "changed_at": now,
        }
        for rid in deleted
    ]
    conn.execute(ChangeLog.__table__.insert(), rows)
