"""The statutory returns screen end to end in Debian's Chromium, on a manager's desktop: reached
from the manager's page, axe-clean; a looked-after child with no authority identifier is listed
as failing before any file is made, with a link that opens the child's record; once corrected
the failure is gone and the SSDA903 file downloads with the child's row (only the year in the
address, the file POSTed).

Its own server (demo data plus that child): what is corrected here must not change the other
end-to-end tests' children.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    DESKTOP,
    clean,
    demo_instance,
    instance_app,
    open_page,
    sign_in,
    start_server,
    stop_server,
    success_banner,
)

FIRST, LAST = "Quinn", "Ashdown"
IDENT = "NB-Q-7001"


@pytest.fixture(scope="module")
def exports_server(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "e2e-exports")
    from sqlalchemy import select

    from webapp.accounts.models import Organisation, OrgKind
    from webapp.children.models import Child, LegalStatus
    from webapp.db_types import utcnow
    from webapp.episodes.models import Episode, EpisodeStatus
    from webapp.extensions import db

    with instance_app(env).app_context():
        la = db.session.scalars(
            select(Organisation).where(
                Organisation.kind == OrgKind.LOCAL_AUTHORITY,
                Organisation.name == "Northbridge Council",
            )
        ).one()
        now = utcnow()
        child = Child(
            first_name=FIRST,
            last_name=LAST,
            date_of_birth=now.date().replace(year=now.year - 15, day=1),
            sex="male",
            legal_status=LegalStatus.LOOKED_AFTER,
            looked_after=True,
            looked_after_since=(now - timedelta(days=400)).date(),
            responsible_authority_id=la.id,
        )
        child.sealed_flags = {}
        db.session.add(child)
        db.session.flush()
        seen = now - timedelta(days=2)
        db.session.add(
            Episode(
                child_id=child.id,
                reported_type="missing",
                missing_from="placement",
                last_seen_at=seen,
                reported_to_police_at=seen + timedelta(hours=1),
                police_category="missing",
                returned_at=seen + timedelta(hours=20),
                how_returned="own_accord",
                status=EpisodeStatus.RETURNED,
            )
        )
        db.session.commit()
    proc, base = start_server(instance, env)
    yield {"url": base}
    stop_server(proc)


def test_a_failing_record_is_listed_corrected_and_the_file_downloaded(chromium, exports_server):
    page = open_page(chromium, exports_server["url"], DESKTOP)
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto("/manage/")
    page.get_by_role("link", name="Statutory returns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Statutory returns")
    assert all(q.startswith("year=") for q in urlparse(page.url).query.split("&") if q)
    failures = page.get_by_role("table", name="Records that would fail a rule")
    row = failures.locator("tr", has_text=f"{FIRST} {LAST}")
    expect(row).to_have_count(1)
    clean(page)

    row.get_by_role("link", name="Correct the child's record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Correct the record")
    expect(page.get_by_label("First name")).to_have_value(FIRST)
    page.get_by_label("Authority's child identifier").fill(IDENT)
    page.get_by_role("button", name="Save changes").click()
    assert "Changes saved." in success_banner(page)

    page.goto("/manage/exports/")
    expect(
        page.get_by_role("table", name="Records that would fail a rule").locator(
            "tr", has_text=f"{FIRST} {LAST}"
        )
    ).to_have_count(0)
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("^Download the SSDA903 Missing table")).click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert rows[0] == ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"]
    mine = [r for r in rows[1:] if r[0] == IDENT]
    assert len(mine) == 1 and mine[0][2] == "M"
    # Nothing about a child reached the address bar.
    assert FIRST not in page.url and IDENT not in page.url
    assert page.errors == []
