"""A retention report as it was made: what the information governance officer signs off, and
what `homeward retention apply` may then delete (nothing else)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db_types import UTCDateTime, utcnow
from webapp.extensions import db


class RetentionReport(db.Model):
    """One dry run. `body` holds pseudonymous ids, rules, dates and row counts only: no name,
    no content (the same as the audit trail may hold)."""

    __tablename__ = "retention_reports"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # SHA-256 of the canonical body: the report's name on the command line and in the sign-off.
    digest: Mapped[str] = mapped_column(String(64), index=True)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    as_of: Mapped[date] = mapped_column()  # the local date the rules were applied on
    body: Mapped[dict] = mapped_column(JSON)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What apply did: {"deleted": [...ids], "skipped": {id: why}}.
    outcome: Mapped[dict | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<RetentionReport {self.id} {self.digest[:16]}>"
