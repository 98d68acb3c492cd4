"""The push and pull factors a child gave, as codes the dashboard can count.

An interview's answers are sealed (Interview.content_enc), so SQL cannot count them. The codes
of one answer, "reasons" (the Why did you go? checkboxes, WHY_REASONS), are copied in clear to
interview_factors: one row per interview and code, never free text, never another answer. The
copy follows the sealed content whichever way it changed (a web form's autosave, a phone's sync
push, the demo loader, a test factory): a mapper listener rewrites the interview's rows in the
same flush, on the same connection, whenever content_enc changes. `homeward oversight
backfill-factors` fills the table for interviews saved before it existed.

Why the codes may be in clear (docs/DESIGN.md, "Figures"): like an episode's police category,
a code from a fixed list of ten says which box was ticked, not what the child said; the words
stay sealed, and whoever can read the database already reads the statuses and dates beside it.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from sqlalchemy import ForeignKey, String, delete, event, insert, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

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


def _write(connection, interview_id: str, codes: Iterable[str]) -> None:
    table = InterviewFactor.__table__
    connection.execute(delete(table).where(table.c.interview_id == interview_id))
    rows = [{"interview_id": interview_id, "code": code} for code in codes]
    if rows:
        connection.execute(insert(table), rows)


def _follow_content(mapper, connection, interview: Interview) -> None:
    history = inspect(interview).attrs.content_enc.history
    if not history.has_changes():
        return
    codes = codes_of(_content(interview.id, interview.content_enc))
    if history.deleted:
        # The content before this flush is known: compare the codes. Most saves (each autosave,
        # each phone's push) leave the reasons as they were: the rows then stay, with no DELETE
        # and INSERT for every save; and content that was empty had no rows to delete.
        before = codes_of(_content(interview.id, history.deleted[0]))
        if codes == before:
            return
        if not before:
            _insert(connection, interview.id, codes)
            return
    _write(connection, interview.id, codes)


def _insert(connection, interview_id: str, codes: list[str]) -> None:
    if codes:
        connection.execute(
            insert(InterviewFactor.__table__),
            [{"interview_id": interview_id, "code": code} for code in codes],
        )


def _follow_new(mapper, connection, interview: Interview) -> None:
    # A new interview has no rows to replace.
    if interview.content_enc is not None:
        _insert(connection, interview.id, codes_of(_content(interview.id, interview.content_enc)))


def init_app(app: Flask) -> None:
    # On the mapper, once per process (every app shares the models), like carers.hooks.
    for name, fn in (("after_insert", _follow_new), ("after_update", _follow_content)):
        if not event.contains(Interview, name, fn):
            event.listen(Interview, name, fn)


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
        connection = db.session.connection()
        for interview_id, content_enc in rows:
            _write(connection, interview_id, codes_of(_content(interview_id, content_enc)))
        db.session.commit()
        done += len(rows)
        last = rows[-1][0]
