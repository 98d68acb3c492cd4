"""The statutory returns from the database: the SSDA903 Missing table and the SSD missing extract.

The rules are in webapp/oversight/ssda903.py; this module reads what they need in one query
each (episodes joined to their children, and for the extract to the interview covering each
episode), never a query per row: a large authority has about 20,000 episodes a year. Only the
children the authority is responsible for are returned (the return is the responsible
authority's, not a host's), and a withdrawn episode is never in either file.

Every file made is audited: one entry saying which file and year, never its content.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, or_, select

from webapp import audit, uow
from webapp.accounts.models import Organisation, OrgKind, User
from webapp.children.models import Child
from webapp.episodes.models import Episode, EpisodeStatus
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.interviews.models import Interview, interview_episodes
from webapp.oversight import csvsafe, ssda903

SSDA903_FILE = "ssda903_missing.csv"
SSD_FILE = "ssd_missing.csv"


def find_authority(ref: str | None) -> Organisation:
    """A local authority by id, name or ONS code; with no reference, the only one there is."""
    query = select(Organisation).where(Organisation.kind == OrgKind.LOCAL_AUTHORITY)
    if ref:
        query = query.where(
            or_(Organisation.id == ref, Organisation.name == ref, Organisation.ons_code == ref)
        )
    found = db.session.scalars(query.limit(2)).all()
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f"No local authority {ref!r}" if ref else "No local authority")
    raise NotFound("More than one local authority: say which one with --authority")


def _in_year(year: ssda903.CollectionYear):
    """Episodes begun before the year ended and not ended before it began (UTC bounds of the
    UK dates; the pure rules decide the edges again on the UK dates)."""
    return (
        Episode.status != EpisodeStatus.WITHDRAWN,
        Episode.last_seen_at < year.ends_utc,
        or_(Episode.returned_at.is_(None), Episode.returned_at >= year.starts_utc),
    )


def ssda903_query(authority_id: str, year: ssda903.CollectionYear) -> Select:
    """The year's episodes of the authority's looked-after children with what the table needs
    of each child: one join, on the indexes of children.responsible_authority_id and
    episodes.child_id / last_seen_at (bench/export_ssda903.py prints the plan)."""
    return (
        select(
            Episode.id,
            Episode.child_id,
            Child.authority_child_id,
            Child.date_of_birth,
            Child.looked_after_since,
            Episode.reported_type,
            Episode.last_seen_at,
            Episode.returned_at,
        )
        .join(Child, Episode.child_id == Child.id)
        .where(
            Child.responsible_authority_id == authority_id,
            Child.looked_after.is_(True),
            *_in_year(year),
        )
    )


def ssda903_records(authority_id: str, year: ssda903.CollectionYear) -> list:
    rows = db.session.execute(ssda903_query(authority_id, year))
    return [ssda903.EpisodeRecord(*row) for row in rows]


def ssda903_return(authority_id: str, year: ssda903.CollectionYear) -> ssda903.Return903:
    """The year's table and what DfE's rules would find in it (nothing audited: the caller
    audits what it shows or writes)."""
    return ssda903.build(ssda903_records(authority_id, year), year)


def ssd_records(authority_id: str, year: ssda903.CollectionYear) -> list[ssda903.SsdRecord]:
    rows = db.session.execute(
        select(
            Episode.id,
            Child.authority_child_id,
            Episode.reported_type,
            Episode.last_seen_at,
            Episode.returned_at,
            Interview.offered,
            Interview.outcome,
        )
        .join(Child, Episode.child_id == Child.id)
        # At most one interview covers an episode (interview_episodes.episode_id is unique).
        .outerjoin(interview_episodes, interview_episodes.c.episode_id == Episode.id)
        .outerjoin(Interview, Interview.id == interview_episodes.c.interview_id)
        .where(Child.responsible_authority_id == authority_id, *_in_year(year))
    )
    return [ssda903.SsdRecord(*row) for row in rows]


@dataclass(frozen=True)
class ExportFile:
    name: str
    text: str
    rows: int
    # The SSDA903 table's check; None for the SSD extract (it has no DfE rules).
    checked: ssda903.Return903 | None = None


def _audited(user: User | None, what: str, year, rows: int) -> None:
    # What was made, for which year, how many rows: never a row.
    audit.record(
        "export",
        what,
        None,
        detail=f"collection year {year.label}, {rows} rows",
        user_id=user.id if user is not None else None,
    )
    uow.commit()


def ssda903_file(
    authority_id: str, year: ssda903.CollectionYear, user: User | None = None
) -> ExportFile:
    result = ssda903_return(authority_id, year)
    text = csvsafe.rows_to_csv(ssda903.HEADER, result.csv_rows())
    _audited(user, "ssda903_missing", year, len(result.rows))
    return ExportFile(SSDA903_FILE, text, len(result.rows), result)


def ssd_file(
    authority_id: str, year: ssda903.CollectionYear, user: User | None = None
) -> ExportFile:
    rows = ssda903.ssd_rows(ssd_records(authority_id, year), year)
    text = csvsafe.rows_to_csv(ssda903.SSD_HEADER, rows)
    _audited(user, "ssd_missing", year, len(rows))
    return ExportFile(SSD_FILE, text, len(rows))


def write(out_dir: Path, export: ExportFile) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / export.name
    # newline="": the csv module already ended each line with CRLF.
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(export.text)
    return path


def children_named(child_ids: set[str], authority_id: str) -> dict[str, Child]:
    """The children a list of problems is about, in one query, for the screen to name them
    (only the authority's own: the problems come from its own children)."""
    if not child_ids:
        return {}
    return {
        c.id: c
        for c in db.session.scalars(
            select(Child).where(
                Child.id.in_(child_ids), Child.responsible_authority_id == authority_id
            )
        )
    }
