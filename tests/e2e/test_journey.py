"""A manager and a worker do the whole online flow on phones, in Chromium, through real HTTP."""

import re
from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import PHONE, axe_violations, local_input, sign_in


def banner(page) -> str:
    return page.locator(".govuk-notification-banner").first.inner_text()


def record_return_and_allocate(manager, worker: str) -> datetime:
    """As the manager, on a missing child's page: the child came back an hour ago (found by
    police), then the return interview is allocated to `worker`. Returns the return time."""
    returned = datetime.now(UTC) - timedelta(hours=1)
    manager.get_by_label("When did the child return or was found?").fill(local_input(returned))
    manager.get_by_label("Found by police").check()
    manager.get_by_role("button", name="Record return").click()
    assert "The 72-hour return interview clock has started" in banner(manager)
    manager.get_by_label("Allocate to").select_option(label=worker)
    manager.get_by_role("button", name="Allocate").click()
    assert f"Allocated to {worker}" in banner(manager)
    return returned


def test_return_allocate_interview_authorise(chromium, server):
    from tests.e2e.conftest import PHONE

    manager_ctx = chromium.new_context(base_url=server["url"], **PHONE)
    worker_ctx = chromium.new_context(base_url=server["url"], **PHONE)
    manager, worker = manager_ctx.new_page(), worker_ctx.new_page()
    errors = []
    for page in (manager, worker):
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # The manager finds Leah, who is still missing, and records her return.
        sign_in(manager, "manager@demo.test")
        assert manager.get_by_role("heading", name="Returns and escalations").is_visible()
        manager.get_by_role("link", name="Leah Marsh").first.click()
        assert manager.get_by_text("Need to Know notification").first.is_visible()
        returned = record_return_and_allocate(manager, "Sam Okafor")
        interview_url = manager.url

        # The worker sees it in My returns with the time left.
        sign_in(worker, "worker@demo.test")
        card = worker.locator(".hw-card", has_text="Leah Marsh")
        assert card.is_visible()
        assert re.search(r"(\d+ days? )?\d+ h( \d+ min)? left", card.inner_text())
        card.get_by_role("link", name="Leah Marsh").click()

        # A wrong date keeps everything else that was typed (htmx swaps the form in place).
        worker.get_by_role("link", name="The offer and the interview").click()
        worker.get_by_label("Yes").first.check()  # offered
        worker.get_by_label("Accepted").check()
        worker.locator("#independent").check()
        held = returned + timedelta(minutes=30)
        worker.get_by_label("Where was it held?").fill("Youth centre")
        worker.get_by_label("Who was present?").fill("Leah and the worker")
        worker.get_by_label("When was the interview held?").fill(
            local_input(held - timedelta(hours=5))
        )
        worker.get_by_role("button", name="Save and continue").click()
        summary = worker.locator(".govuk-error-summary")
        summary.wait_for()
        assert "cannot be before the child returned" in summary.inner_text()
        assert worker.get_by_label("Where was it held?").input_value() == "Youth centre"
        worker.get_by_label("When was the interview held?").fill(local_input(held))
        worker.get_by_role("button", name="Save and continue").click()
        worker.wait_for_url(re.compile(r"/sections/why$"))

        # Autosave: typing is saved without pressing a button, and survives a reload.
        worker.get_by_label("In the child's words").fill("Went to see her brother")
        worker.get_by_text(re.compile(r"Saved at \d\d:\d\d")).wait_for()
        worker.reload()
        assert worker.get_by_label("In the child's words").input_value() == (
            "Went to see her brother"
        )

        worker.goto(interview_url)
        worker.get_by_role("link", name="Concerns, intelligence and sharing").click()
        worker.locator("#cp_referral-2").check()  # No
        worker.locator("#consent_to_share-2").check()  # No
        worker.get_by_role("button", name="Save and continue").click()
        worker.wait_for_url(re.compile(r"/sections/carers$"))
        worker.goto(interview_url)
        worker.get_by_role("button", name="Send for authorisation").click()
        assert "sent to your manager for authorisation" in banner(worker)

        # The manager authorises and records forwarding to the police.
        manager.goto(interview_url)
        assert manager.get_by_text("Went to see her brother").is_visible()
        manager.get_by_role("button", name="Authorise").click()
        assert "Interview authorised" in banner(manager)
        manager.get_by_label("When was it forwarded to the police?").fill(
            local_input(datetime.now(UTC))
        )
        manager.get_by_role("button", name="Record as forwarded").click()
        assert "Recorded as forwarded to the police" in banner(manager)
        assert errors == []
    finally:
        manager_ctx.close()
        worker_ctx.close()


def test_main_pages_have_no_axe_violations(phone):
    page = phone
    page.goto("/sign-in")
    found = {"sign-in": axe_violations(page)}
    page.get_by_role("button", name="Sign in").click()  # empty: the error state
    page.get_by_text("There is a problem").wait_for()
    found["sign-in errors"] = axe_violations(page)

    sign_in(page, "worker@demo.test")
    found["my returns"] = axe_violations(page)
    page.get_by_role("link", name="Kai Turner").click()
    found["interview"] = axe_violations(page)
    page.get_by_role("link", name="The offer and the interview").click()
    found["section"] = axe_violations(page)
    page.get_by_label("When was the interview held?").fill("2020-01-01T10:00")
    page.get_by_role("button", name="Save and continue").click()
    page.locator(".govuk-error-summary").wait_for()
    found["section errors"] = axe_violations(page)
    page.get_by_role("link", name="Children").click()
    found["children"] = axe_violations(page)
    page.get_by_role("link", name="Kai Turner").click()
    found["child"] = axe_violations(page)

    page.context.clear_cookies()
    sign_in(page, "manager@demo.test")
    found["dashboard"] = axe_violations(page)
    page.goto("/children/new")
    found["add child"] = axe_violations(page)
    page.get_by_role("link", name="Children").click()
    page.get_by_role("link", name="Leah Marsh").click()
    found["child (manager)"] = axe_violations(page)
    page.get_by_role("link", name=re.compile("last seen")).first.click()
    found["episode"] = axe_violations(page)
    for name, url in (
        ("devices", "/devices/"),
        ("install guide", "/install"),
        ("offline page", "/offline"),
        ("account", "/account"),
        ("notifications", "/notifications/"),
        ("reminder settings", "/notifications/settings"),
    ):
        page.goto(url)
        found[name] = axe_violations(page)
    assert {k: v for k, v in found.items() if v} == {}
    assert page.console_errors == []


def test_pages_fit_a_small_phone(chromium, server):
    """No sideways scrolling at 320 CSS pixels (WCAG 1.4.10 reflow)."""
    context = chromium.new_context(
        base_url=server["url"], viewport={"width": 320, "height": 640}, is_mobile=True
    )
    page = context.new_page()
    try:
        sign_in(page, "manager@demo.test", reuse=True)
        for url in ("/manage/", "/children/"):
            page.goto(url)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, (url, width)
    finally:
        context.close()


def test_save_pressed_while_autosave_is_on_its_way_never_clashes_with_itself(chromium, server):
    """Pressing "Save and continue" blurs the field just typed, whose change event starts an
    autosave: both requests carry the version the form was read at. They go one at a time
    (hx-sync), the save taking the version the autosave moved on to; before, whichever came
    second was refused as someone else's change about one time in two."""
    context = chromium.new_context(base_url=server["url"], **PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "worker@demo.test")
        page.get_by_role("link", name="Kai Turner").first.click()
        why = page.url.split("#")[0].rstrip("/") + "/sections/why"
        for attempt in range(4):
            page.goto(why)
            page.get_by_label("In the child's words").fill(f"Draft {attempt} of what Kai said")
            page.get_by_role("button", name="Save and continue").click()
            page.wait_for_url(re.compile(r"/sections/(?!why$)[a-z_]+$"))
            assert "Someone else changed" not in page.content()
    finally:
        context.close()
