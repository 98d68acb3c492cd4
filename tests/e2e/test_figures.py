"""The figures page end to end in Debian's Chromium, on a manager's desktop: reached from the
manager's page, axe-clean with its three charts (each an image named by its title, its numbers
in a table below), the period changed to two dates that hold the demo's episodes, a number
followed to the children behind it (no child's id in the address), and on to a child's page.

Reads only (and audits): the shared demo server is enough.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, clean, open_page, sign_in
from webapp.db_types import utcnow
from webapp.deadlines import to_local

LEAH = "Leah Marsh"  # demo: missing now for 30 hours


def test_a_manager_reads_the_figures_and_the_children_behind_a_number(chromium, server):
    page = open_page(chromium, server["url"], DESKTOP)
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto("/manage/")
    page.get_by_role("link", name="Figures:").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Figures for")
    for name in (
        "Episodes and children per month",
        "Return interviews held within 72 hours",
        "Push and pull factors children gave",
    ):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    clean(page)

    # Two dates around the demo's episodes (all within the last weeks).
    today = to_local(utcnow()).date()
    page.get_by_label("Period", exact=True).select_option("range")
    page.get_by_label("From (for between two dates)").fill((today - timedelta(days=60)).isoformat())
    page.get_by_label("To (for between two dates)").fill(today.isoformat())
    page.get_by_role("button", name="Show figures").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{today:%-d %B %Y}")
    # The charts' tables open below them.
    page.get_by_text("Episodes and children per month as a table").click()
    expect(page.get_by_role("table", name="Episodes and children per month")).to_be_visible()
    clean(page)

    # Leah is still missing: the open episodes over 24 hours include her.
    page.get_by_role("link", name="Missing over 24 hours: list the children").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Missing over 24 hours")
    query = parse_qs(urlparse(page.url).query)
    assert set(query) <= {"figure", "key", "period", "team", "placement", "age"}, page.url
    clean(page)
    page.get_by_role("link", name=LEAH).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(LEAH)
    assert page.errors == []
