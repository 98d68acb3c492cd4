"""The push and pull factors a child gave, as codes the dashboard can count.

An interview's answers are sealed (Interview.content_enc), so SQL cannot count them. The codes
of one answer, "reasons" (the Why did you go? checkboxes, WHY_REASONS), are copied in clear to
interview_factors: one row per interview and code, never free text, never another answer. The
copy follows the sealed content whichever way it changed (a web form's autosave, a phone's sync
push, the demo loader, a test factory): mapper listeners note the rows of each interview whose
content_enc changed, and the flush writes them all at its end, in the same transaction.
`homeward oversight backfill-factors` fills the table for interviews saved before it existed.

Why the codes may be in clear (docs/DESIGN.md, "Figures"): like an episode's police category,
a code from a fixed list of ten says which box was ticked, not what the child said; the words
stay sealed, and whoever can read the database already reads the statuses and dates beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import ForeignKey, String, delete, event, insert, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from webapp import sealed
from webapp.extensions import db
from webapp.interviews.models import Interview
from webapp.interviews.questions import WHY_REASONS

REASONS_FIELD = "reasons"
REASON_LABELS = dict(WHY_REASONS)

# Push factors drive a child away from where they live; pull factors draw them somewhere else.
# The classification follows the return interview guidance (DfE 2014; Kent and Medway): trouble
# at home or in the placement, needing to get away to think, and having nothing to do there push;
# friends, peers, substances, family elsewhere and being held or exploited pull. A planned
# departure and "something else" say neither.
PUSH = "push"
PULL = "pull"
OTHER = "other"
FACTOR_KIND = {
    "home": PUSH,
    "clear_head": PUSH,
    "bored": PUSH,
    "friends": PULL,
    "peer_pressure": PULL,
    "drugs_alcohol": PULL,
    "family_contact": PULL,
    "kept_against_will": PULL,
    "planned": OTHER,
    "other": OTHER,
}
KIND_LABELS = {PUSH: "Push", PULL: "Pull", OTHER: "Neither"}
assert set(FACTOR_KIND) == set(REASON_LABELS), "classify every reason in WHY_REASONS"


class InterviewFactor(db.Model):
    """One reason a child gave in one interview, as its code (never the child's words)."""

    __tablename__ = "interview_factors"

    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), primary_key=True)

    def __repr__(self) -> str:
        return f"<InterviewFactor {self.interview_id} {self.code}>"


def codes_of(content: dict | None) -> list[str]:
    """The known reason codes in an interview's content; anything else (never expected: the
    form only offers these) is left out rather than copied in clear."""
    value = (content or {}).get(REASONS_FIELD) or []
    if isinstance(value, str):
        value = [value]
    return sorted({code for code in value if code in REASON_LABELS})


def _content(interview_id: str, content_enc: str | None) -> dict:
    return sealed.unseal(content_enc, "interview", interview_id, "content", {}) or {}


# A flush's factor rows, written together when its own SQL is done (_write_flushed), as the
# backfill writes a page of interviews: a phone's batch of 50 interviews sent 50 INSERTs one
# after another, a fifth of the batch's time in bench/profile_push.py; now one DELETE (for
# content whose reasons changed) and one INSERT.
_PENDING = "homeward_factor_writes"


@dataclass
class _Writes:
    replace: list[str] = field(default_factory=list)  # interviews whose rows go first
    rows: list[dict[str, str]] = field(default_factory=list)

    def add(self, interview_id: str, codes: Iterable[str], *, replace: bool) -> None:
        if replace:
            self.replace.append(interview_id)
        self.rows.extend({"interview_id": interview_id, "code": code} for code in codes)

    def store(self, connection) -> None:
        """One DELETE for the interviews being replaced, one INSERT for every row."""
        table = InterviewFactor.__table__
        if self.replace:
            connection.execute(delete(table).where(table.c.interview_id.in_(self.replace)))
        if self.rows:
            connection.execute(insert(table), self.rows)


def _pending(interview: Interview) -> _Writes:
    session = object_session(interview)
    assert session is not None  # mapper events only fire inside a session's flush
    return session.info.setdefault(_PENDING, _Writes())


def _follow_content(mapper, connection, interview: Interview) -> None:
    history = inspect(interview).attrs.content_enc.history
    if not history.has_changes():
        return
    codes = codes_of(_content(interview.id, interview.content_enc))
    replace = True  # the content before this flush unknown: whatever rows it had go
    if history.deleted:
        # The content before is known: compare the codes. Most saves (each autosave, each
        # phone's push) leave the reasons as they were: the rows then stay, with no DELETE and
        # INSERT for every save; and content that was empty had no rows to delete.
        before = codes_of(_content(interview.id, history.deleted[0]))
        if codes == before:
            return
        replace = bool(before)
    _pending(interview).add(interview.id, codes, replace=replace)


def _follow_new(mapper, connection, interview: Interview) -> None:
    # A new interview has no rows to replace.
    if interview.content_enc is not None:
        codes = codes_of(_content(interview.id, interview.content_enc))
        _pending(interview).add(interview.id, codes, replace=False)


def _start_flush(session: Session, _flush_context, _instances) -> None:
    # A flush that failed part-way left its writes here: they went down with it.
    session.info.pop(_PENDING, None)


def _write_flushed(session: Session, _flush_context) -> None:
    """The flush's factor rows, on its connection and in its transaction: after the interviews'
    own INSERTs and UPDATEs (the rows refer to them), before anything reads the table."""
    writes: _Writes | None = session.info.pop(_PENDING, None)
    if writes is not None:
        writes.store(session.connection())


def init_app(app: Flask) -> None:
    # On the mapper and on every session, once per process (every app shares the models; a
    # script's own session stores interviews too), like carers.hooks.
    for target, name, fn in (
        (Interview, "after_insert", _follow_new),
        (Interview, "after_update", _follow_content),
        (Session, "before_flush", _start_flush),
        (Session, "after_flush", _write_flushed),
    ):
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)


def backfill(batch: int = 500) -> int:
    """Rewrite the factors of every interview with content; returns how many interviews. Idempotent:
    each interview's rows are replaced, so a second run changes nothing."""
    done = 0
    last = ""
    while True:
        rows = db.session.execute(
            select(Interview.id, Interview.content_enc)
            .where(Interview.content_enc.is_not(None), Interview.id > last)
            .order_by(Interview.id)
            .limit(batch)
        ).all()
        if not rows:
            return done
        writes = _Writes()
        for interview_id, content_enc in rows:
            writes.add(interview_id, codes_of(_content(interview_id, content_enc)), replace=True)
        writes.store(db.session.connection())
        db.session.commit()
        done += len(rows)
        last = rows[-1][0]
