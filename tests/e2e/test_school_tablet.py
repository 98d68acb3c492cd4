"""A school's designated safeguarding lead on a tablet (820x1180), online, end to end: the morning
register follow-up for several pupils, a pupil's timeline counted in school days, an enquiry that
finds the pupil safe, the always-refer checklist with its referral, and every school page the
DSL uses (pupils, adding and importing them, the calendar) axe clean with nothing wider than the
screen; then the authority's children-missing-education officer's worklist.

Its own server: what the DSL records must not change the demo school the other tests follow.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    clean,
    demo_instance,
    sign_in,
    start_server,
    stop_server,
)

TABLET = {
    "viewport": {"width": 820, "height": 1180},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
    "timezone_id": "Europe/London",
}
CANARY = "Canary-Kestrel-6610"


@pytest.fixture(scope="module")
def school_server(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "e2e-school")
    proc, base = start_server(instance, env)
    yield {"url": base, "env": env}
    stop_server(proc)


@pytest.fixture
def tablet(chromium, school_server):
    context = chromium.new_context(base_url=school_server["url"], **TABLET)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    context.close()


def local_now() -> str:
    from datetime import UTC, datetime, timedelta

    from webapp.deadlines import to_local

    return to_local(datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")


def test_a_dsl_follows_up_the_morning_register_on_a_tablet(tablet, school_server):
    page = tablet
    sign_in(page, "dsl@demo.test")
    page.get_by_role("link", name="Register follow-up").click()
    expect(page.get_by_role("heading", name="Morning register follow-up")).to_be_visible()
    clean(page)
    # Two pupils at once: Ruby with no reason yet, Mia with an authorised code.
    page.get_by_label("Attendance code for Ruby Ellis").select_option("N")
    page.get_by_label("Attendance code for Mia Cole").select_option("I")
    page.get_by_role("button", name="Save the register").click()
    expect(page.locator(".govuk-notification-banner, .govuk-panel").first).to_be_visible()
    clean(page)

    # Ruby's timeline: counted in school days, with the steps to take.
    page.get_by_role("link", name="Register follow-up").click()
    page.get_by_role("link", name="Ruby Ellis").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text("Education Welfare Service").first).to_be_visible()
    clean(page)

    # The always-refer checklist: a yes asks for the referral today.
    page.locator("a", has_text="Always-refer checklist").first.click()
    clean(page)
    radios = page.locator("fieldset")
    for i in range(radios.count()):
        group = radios.nth(i)
        no = group.get_by_label("No", exact=True)
        if no.count():
            no.first.check()
    page.locator("fieldset").first.get_by_label("Yes", exact=True).first.check()
    page.get_by_role("button", name="Save the checklist").click()
    expect(page.get_by_text("Refer today").first).to_be_visible()
    clean(page)

    # An enquiry finds her safe, which closes the follow-up.
    page.get_by_role("link", name="Register follow-up").click()
    page.get_by_role("link", name="Ruby Ellis").click()
    page.locator("a", has_text="Log an enquiry").first.click()
    clean(page)
    page.get_by_label("Call to parent or carer").check()
    page.get_by_label("When?").fill(local_now())
    page.get_by_label("What came of it?").fill(f"Mum answered: Ruby at her nan's {CANARY}")
    page.get_by_label("The pupil has been seen safe (this closes the follow-up)").check()
    page.get_by_role("button", name="Save the enquiry").click()
    # The school's own record of it, on the pupil's timeline; the follow-up is closed.
    expect(page.get_by_text(CANARY)).to_be_visible()
    expect(page.get_by_text("seen safe").first).to_be_visible()
    expect(page.locator("a", has_text="Log an enquiry")).to_have_count(0)
    clean(page)

    # The school's other pages.
    for nav, heading in (("Pupils", "Pupils"), ("School calendar", "calendar")):
        page.get_by_role("link", name=nav, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        clean(page)
    page.get_by_role("link", name="Pupils", exact=True).click()
    for button in ("Add a pupil", "Import from your MIS"):
        page.get_by_role("link", name="Pupils", exact=True).click()
        page.locator("a", has_text=button).first.click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        clean(page)
    assert page.errors == []


def test_the_cme_officers_worklist_on_a_tablet(tablet):
    sign_in(tablet, "cme@demo.test")
    expect(tablet.get_by_role("heading", level=1)).to_be_visible()
    clean(tablet)
