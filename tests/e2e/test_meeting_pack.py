"""The monthly missing meeting pack and the police copy end to end in Debian's Chromium, on a
manager's desktop: the pack reached from the manager's page for this month, axe-clean, an action
refused without an owner (what was typed kept), then recorded with its owner; printed (print
media) without its forms and navigation. The police copy of the demo's authorised interview,
axe-clean, holding no more than the intelligence section.

Adds one meeting action to the shared demo server, which no other test reads.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, clean, open_page, sign_in, success_banner
from webapp.db_types import utcnow
from webapp.deadlines import to_local

NOAH = "Noah Hughes"  # demo: an authorised interview, already forwarded to the police


def test_a_manager_prepares_and_prints_the_monthly_meeting_pack(chromium, server):
    page = open_page(chromium, server["url"], DESKTOP)
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto("/manage/")
    page.get_by_role("link", name="Monthly missing meeting pack").click()
    this_month = to_local(utcnow()).strftime("%Y-%m")
    page.get_by_role("combobox", name="Month").select_option(this_month)
    page.get_by_role("button", name="Show the pack").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"Missing meeting pack: {to_local(utcnow()):%B %Y}"
    )
    for heading in (
        "1. Cases of concern",
        "2. Frequent missing",
        "3. Return interviews",
        "4. The dashboard",
        "5. High risk",
        "6. Out of area",
        "7. Episodes not reported to the police",
        "8. Declined interviews: a dip sample",
        "9. Actions",
    ):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    clean(page)

    action = "Ask the police for this month's hotspot map"
    page.get_by_label("Action agreed").fill(action)
    page.get_by_role("button", name="Record the action").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Choose who owns the action from the list"
    )
    expect(page.get_by_label("Action agreed")).to_have_value(action)
    clean(page)
    page.get_by_label("Owner").select_option(label="Morgan Reed (Manager)")
    page.get_by_role("button", name="Record the action").click()
    assert "Action recorded." in success_banner(page)
    expect(page.get_by_role("table", name="Agreed at this meeting")).to_contain_text(action)

    # On paper: the sections and the action, not the forms or the navigation.
    page.emulate_media(media="print")
    expect(page.get_by_role("heading", name="9. Actions")).to_be_visible()
    expect(page.get_by_role("table", name="Agreed at this meeting")).to_be_visible()
    expect(page.get_by_role("button", name="Record the action")).to_be_hidden()
    expect(page.get_by_role("button", name="Show the pack")).to_be_hidden()
    expect(page.locator("header.hw-header")).to_be_hidden()
    page.emulate_media(media="screen")
    assert page.errors == []


def test_the_police_copy_of_an_authorised_interview(chromium, server):
    page = open_page(chromium, server["url"], DESKTOP)
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto("/children/")
    page.get_by_role("link", name=NOAH).click()
    page.get_by_role("link", name="Return interview: Authorised").click()
    page.get_by_role("link", name="Open the police copy to print again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Return interview: information for the police"
    )
    body = page.locator("main").inner_text()
    assert "Demo: his school's safeguarding lead" in body  # shared with whom
    assert "Family home" not in body  # where it was held: the interview, not the intelligence
    expect(page.get_by_text("Recorded as forwarded to the police")).to_be_visible()
    clean(page)
    assert page.errors == []
