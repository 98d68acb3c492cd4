"""The statutory returns (issue 13): the SSDA903 Missing table and the SSD missing extract, from
the command line and from the managers' screen.

One authority's looked-after children with hand-made episodes in the 2025-26 collection year (a
clock-change start on 1 April, an away period, a period open at 31 March, a withdrawn one, one
before care began, legacy overlapping periods, a child with no identifier), a child who is not
looked after, and another authority's child placed in ours: the files are compared line by
line with what was worked out by hand, the screen lists every failure with its link to fix it,
only managers see it, another authority's children never appear, and every file made is
audited without its content.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests import factories
from webapp.audit import AuditEvent
from webapp.children.models import LegalStatus
from webapp.episodes.models import Episode, EpisodeStatus
from webapp.extensions import db
from webapp.interviews.models import InterviewStatus

pytestmark = pytest.mark.both_databases

YEAR = "2025"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _episode(child, start, end=None, **kw) -> Episode:
    status = kw.pop("status", EpisodeStatus.RETURNED if end else EpisodeStatus.MISSING)
    e = Episode(
        child_id=child.id,
        reported_type=kw.pop("reported_type", "missing"),
        missing_from=kw.pop("missing_from", "placement"),
        last_seen_at=start,
        returned_at=end,
        how_returned="own_accord" if end else None,
        status=status,
        **kw,
    )
    db.session.add(e)
    db.session.flush()
    return e


@pytest.fixture
def world(app):
    ours = factories.local_authority("Exportshire Council")
    other = factories.local_authority("Elsewhere Council")
    lac = {"legal_status": LegalStatus.LOOKED_AFTER}
    w = {"ours": ours, "other": other, "manager": factories.manager(ours)}
    w["other_manager"] = factories.manager(other)
    w["worker"] = factories.worker(ours)
    w["senior"] = factories.user("senior_manager", authority=ours)
    # A looked-after child with every kind of period the year holds.
    amy = factories.child(
        ours,
        first_name="Amyexport",
        authority_child_id="EX-001",
        date_of_birth=date(2010, 1, 1),
        looked_after_since=date(2020, 1, 1),
        **lac,
    )
    w["amy_april"] = _episode(amy, utc(2025, 3, 31, 23, 30), utc(2025, 4, 1, 10))  # 00:30 BST
    w["amy_away"] = _episode(amy, utc(2025, 6, 1, 8), utc(2025, 6, 2, 9), reported_type="away")
    _episode(amy, utc(2025, 7, 1), utc(2025, 7, 2), status=EpisodeStatus.WITHDRAWN)
    _episode(amy, utc(2025, 3, 1), utc(2025, 3, 2))  # the year before
    w["amy_march"] = _episode(amy, utc(2026, 3, 30, 12), utc(2026, 4, 2))  # open at 31 March
    # No identifier, and no date care began: a failure and a warning.
    w["bea"] = factories.child(ours, first_name="Beaexport", **lac)
    w["bea_ep"] = _episode(w["bea"], utc(2025, 9, 1, 12), utc(2025, 9, 1, 18))
    # Care began after this period started (rule 581); the identifier starts like a formula.
    w["cal"] = factories.child(
        ours,
        first_name="Calexport",
        authority_child_id="=2+3",
        looked_after_since=date(2025, 10, 1),
        **lac,
    )
    w["cal_ep"] = _episode(w["cal"], utc(2025, 9, 20, 9), utc(2025, 10, 2, 9))
    # Before care began: no 903 period (it is in the SSD extract, which is every child's).
    w["cal_may"] = _episode(w["cal"], utc(2025, 5, 1), utc(2025, 5, 2))
    # Legacy records from before the entry rules: overlapping periods (rule 574).
    w["dan"] = factories.child(
        ours,
        first_name="Danexport",
        authority_child_id="EX-004",
        looked_after_since=date(2019, 5, 5),
        **lac,
    )
    w["dan_first"] = _episode(w["dan"], utc(2025, 8, 1, 9), utc(2025, 8, 10, 9))
    w["dan_second"] = _episode(w["dan"], utc(2025, 8, 5, 9), utc(2025, 8, 6, 9))
    # Not looked after: in the SSD extract only.
    w["eve"] = factories.child(ours, first_name="Eveexport", authority_child_id="EX-005")
    w["eve_ep"] = _episode(
        w["eve"], utc(2025, 11, 3, 16), utc(2025, 11, 4, 10), missing_from="home"
    )
    w["eve_open"] = _episode(w["eve"], utc(2026, 1, 10, 16))
    # Another authority's looked-after child, placed in ours: never in our files or screen.
    w["finn"] = factories.child(
        other,
        first_name="Finnexport",
        authority_child_id="EL-001",
        host_authority_id=ours.id,
        looked_after_since=date(2020, 1, 1),
        **lac,
    )
    w["finn_ep"] = _episode(w["finn"], utc(2025, 12, 1, 9), utc(2025, 12, 1, 20))
    # Return interviews: Amy's April one accepted, Eve's declined; Amy's away one has none.
    factories.interview(
        child_=amy,
        episodes=[w["amy_april"]],
        status=InterviewStatus.AUTHORISED,
        manager_=w["manager"],
        offered="Y",
        outcome="accepted",
    )
    factories.interview(
        child_=w["eve"],
        episodes=[w["eve_ep"]],
        status=InterviewStatus.SUBMITTED,
        manager_=w["manager"],
        offered="Y",
        outcome="declined",
    )
    w["amy"] = amy
    db.session.commit()
    return w


SSDA903_EXPECTED = [
    "CHILD,DOB,MISSING,MIS_START,MIS_END",
    ",01/01/2010,M,01/09/2025,01/09/2025",
    "'=2+3,01/01/2010,M,20/09/2025,02/10/2025",
    "EX-001,01/01/2010,M,01/04/2025,01/04/2025",
    "EX-001,01/01/2010,A,01/06/2025,02/06/2025",
    "EX-001,01/01/2010,M,30/03/2026,",
    "EX-004,01/01/2010,M,01/08/2025,10/08/2025",
    "EX-004,01/01/2010,M,05/08/2025,06/08/2025",
]


def ssd_expected(w) -> list[str]:
    return [
        "miss_table_id,miss_la_person_id,miss_mis_epi_start,miss_mis_epi_type,"
        "miss_mis_epi_end,miss_mis_epi_rhi_offered,miss_mis_epi_rhi_accepted",
        f"{w['amy_april'].id},EX-001,2025-04-01 00:30,M,2025-04-01 11:00,Y,Y",
        f"{w['cal_may'].id},'=2+3,2025-05-01 01:00,M,2025-05-02 01:00,N,NA",
        f"{w['amy_away'].id},EX-001,2025-06-01 09:00,A,2025-06-02 10:00,N,NA",
        f"{w['dan_first'].id},EX-004,2025-08-01 10:00,M,2025-08-10 10:00,N,NA",
        f"{w['dan_second'].id},EX-004,2025-08-05 10:00,M,2025-08-06 10:00,N,NA",
        f"{w['bea_ep'].id},,2025-09-01 13:00,M,2025-09-01 19:00,N,NA",
        f"{w['cal_ep'].id},'=2+3,2025-09-20 10:00,M,2025-10-02 10:00,N,NA",
        f"{w['eve_ep'].id},EX-005,2025-11-03 16:00,M,2025-11-04 10:00,Y,N",
        f"{w['eve_open'].id},EX-005,2026-01-10 16:00,M,,NA,NA",
        f"{w['amy_march'].id},EX-001,2026-03-30 13:00,M,2026-04-02 01:00,N,NA",
    ]


def lines(text: str) -> list[str]:
    assert text.endswith("\r\n")
    return text.removesuffix("\r\n").split("\r\n")


def exports(db_url: str, instance, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    env.update({"HOMEWARD_INSTANCE_PATH": str(instance), "DATABASE_URL": db_url})
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", "export", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def export_audits(what: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "export", AuditEvent.object_type == what)
        )
    )


# ---------------------------------------------------------------- the command line


def test_the_cli_writes_the_ssda903_table_and_counts_its_failures(
    world, database, instance_dir, tmp_path
):
    out = tmp_path / "returns"
    r = exports(
        database[0],
        instance_dir,
        "ssda903",
        "--year",
        YEAR,
        "--out",
        str(out),
        "--authority",
        "Exportshire Council",
    )
    assert r.returncode == 0, r.stderr
    text = (out / "ssda903_missing.csv").read_bytes().decode("utf-8")
    assert lines(text) == SSDA903_EXPECTED
    assert "7 rows" in r.stdout and "2025-26" in r.stdout
    # Counted by rule on stderr, never a child's details.
    assert "rule 574: 1 row(s)" in r.stderr and "rule CHILD: 1 row(s)" in r.stderr
    assert "rule 581: 1 row(s)" in r.stderr and "DfE's tool would reject" in r.stderr
    assert "581 not checked for 1 child" in r.stderr
    assert "Beaexport" not in r.stderr + r.stdout and "EX-00" not in r.stderr + r.stdout
    (event,) = export_audits("ssda903_missing")
    assert event.detail == "collection year 2025-26, 7 rows" and event.child_id is None


def test_the_cli_writes_the_ssd_extract_with_rhi_offered_and_accepted(
    world, database, instance_dir, tmp_path
):
    r = exports(
        database[0],
        instance_dir,
        "ssd-missing",
        "--year",
        YEAR,
        "--out",
        str(tmp_path),
        "--authority",
        world["ours"].id,
    )
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "ssd_missing.csv").read_bytes().decode("utf-8")
    assert lines(text) == ssd_expected(world)
    assert export_audits("ssd_missing")[0].detail == "collection year 2025-26, 10 rows"


def test_the_cli_needs_the_authority_when_there_are_several(
    world, database, instance_dir, tmp_path
):
    r = exports(database[0], instance_dir, "ssda903", "--year", YEAR, "--out", str(tmp_path))
    assert r.returncode != 0 and "--authority" in r.stderr
    r = exports(
        database[0],
        instance_dir,
        "ssda903",
        "--year",
        YEAR,
        "--out",
        str(tmp_path),
        "--authority",
        "Nowhere",
    )
    assert r.returncode != 0 and "No local authority" in r.stderr
    assert not (tmp_path / "ssda903_missing.csv").exists()


# ---------------------------------------------------------------- the screen


def test_the_screen_lists_each_failure_with_its_link_before_the_download(as_user, world):
    manager = as_user(world["manager"])
    r = manager.get(f"/manage/exports/?year={YEAR}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "<strong>7 rows</strong>" in page
    assert "3 records would fail DfE&#39;s validation rules" in page
    assert "DfE&#39;s tool would reject a file with these failures" in page
    # Each failure names the rule and links to the record that corrects it.
    assert f'href="/children/{world["bea"].id}/edit"' in page  # no identifier (and 581 unknown)
    assert f'href="/episodes/{world["cal_ep"].id}/correct"' in page  # 581: before care
    assert f'href="/episodes/{world["dan_second"].id}/correct"' in page  # 574
    assert f'href="/episodes/{world["dan_first"].id}/correct"' not in page
    assert "before the child&#39;s period that started on 01/08/2025 ended on 10/08/2025" in page
    assert "Rules that cannot be checked (1)" in page
    # Another authority's child, though placed here, is nowhere.
    assert "Finnexport" not in page and "EL-001" not in page
    # The failures come before the download button.
    assert page.index('id="failures"') < page.index("Download the SSDA903 Missing table")
    (event,) = [
        e
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view"))
        if e.object_type == "ssda903_check"
    ]
    assert event.user_id == world["manager"].id and event.detail == "collection year 2025-26"


def test_a_clean_year_says_so(as_user, world):
    manager = as_user(world["manager"])
    page = manager.get("/manage/exports/?year=2022").get_data(as_text=True)
    assert "No record fails DfE's rules" in page and "<strong>0 rows</strong>" in page


def test_downloads_are_posted_audited_and_neutralised(as_user, world):
    manager = as_user(world["manager"])
    manager.get(f"/manage/exports/?year={YEAR}")
    r = manager.post("/manage/exports/ssda903", {"year": YEAR})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert 'filename="ssda903_missing_2025-26.csv"' in r.headers["Content-Disposition"]
    assert "no-store" in r.headers["Cache-Control"]
    assert lines(r.get_data(as_text=True)) == SSDA903_EXPECTED
    r = manager.post("/manage/exports/ssd-missing", {"year": YEAR})
    assert lines(r.get_data(as_text=True)) == ssd_expected(world)
    for what, rows in (("ssda903_missing", 7), ("ssd_missing", 10)):
        (event,) = export_audits(what)
        assert event.user_id == world["manager"].id
        assert event.detail == f"collection year 2025-26, {rows} rows"
    # Without the form's token, nothing is made.
    assert manager.raw_post("/manage/exports/ssda903", data={"year": YEAR}).status_code in (
        400,
        403,
    )
    assert len(export_audits("ssda903_missing")) == 1


def test_another_authoritys_manager_sees_only_their_own_children(as_user, world):
    theirs = as_user(world["other_manager"])
    page = theirs.get(f"/manage/exports/?year={YEAR}").get_data(as_text=True)
    assert "<strong>1 row</strong>" in page and "Amyexport" not in page
    text = theirs.post("/manage/exports/ssda903", {"year": YEAR}).get_data(as_text=True)
    assert lines(text) == [
        "CHILD,DOB,MISSING,MIS_START,MIS_END",
        "EL-001,01/01/2010,M,01/12/2025,01/12/2025",
    ]
    ssd = theirs.post("/manage/exports/ssd-missing", {"year": YEAR}).get_data(as_text=True)
    assert "EX-00" not in ssd and world["finn_ep"].id in ssd


@pytest.mark.parametrize("who", ["worker", "senior"])
def test_only_managers_reach_the_screen_or_the_files(as_user, world, who):
    person = as_user(world[who])
    assert person.get(f"/manage/exports/?year={YEAR}").status_code == 404
    assert person.post("/manage/exports/ssda903", {"year": YEAR}).status_code == 404
    assert person.post("/manage/exports/ssd-missing", {"year": YEAR}).status_code == 404
    assert export_audits("ssda903_missing") == [] and export_audits("ssd_missing") == []


def test_signed_out_the_screen_asks_to_sign_in(browser, world):
    r = browser.get(f"/manage/exports/?year={YEAR}")
    assert r.status_code in (302, 401)


def test_a_year_outside_the_choices_is_not_found(as_user, world):
    manager = as_user(world["manager"])
    assert manager.get("/manage/exports/?year=1999").status_code == 404
    assert manager.get("/manage/exports/?year=abc").status_code == 404
    assert manager.post("/manage/exports/ssda903", {"year": "1999"}).status_code == 404


def test_the_managers_page_links_to_the_returns(as_user, world):
    manager = as_user(world["manager"])
    assert 'href="/manage/exports/"' in manager.get("/manage/").get_data(as_text=True)
