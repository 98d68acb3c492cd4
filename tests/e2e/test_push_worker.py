"""The service worker's push and notificationclick handlers in Chromium. A push message is
delivered through the DevTools protocol (ServiceWorker.deliverPushMessage), as a push service
would; pushManager.subscribe() itself cannot run headless."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, sign_in


def registration_id(cdp, page) -> str:
    found = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: found.update({r["scopeURL"]: r["registrationId"] for r in e["registrations"]}),
    )
    cdp.send("ServiceWorker.enable")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    for _ in range(50):
        if found:
            break
        page.wait_for_timeout(100)
    [reg] = [rid for scope, rid in found.items() if scope.endswith("/")]
    return reg


def notifications(page) -> list[dict]:
    return page.evaluate(
        """async () => (await (await navigator.serviceWorker.ready).getNotifications())
             .map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }))"""
    )


def wait_for_notifications(page, count: int) -> list[dict]:
    # Up to 20 s: under the full suite's load on 2 cores, eight pushes took over 5 s to show.
    for _ in range(200):
        shown = notifications(page)
        if len(shown) >= count:
            return shown
        page.wait_for_timeout(100)
    raise AssertionError(f"{count} notifications expected, {len(shown)} shown")


def deliver(cdp, page, origin: str, reg: str, payload: dict) -> list[dict]:
    """Deliver a push and wait until its notification shows. Under the full suite's load on two
    cores, DevTools' delivery has dropped a message outright (run alone, every one shows), so a
    message not shown after 5 s is delivered again: the same tag replaces itself, so a second copy
    can never be counted twice, and the worker's handling is what these tests check."""
    tag = f"homeward-{payload['ref']}"
    for _ in range(4):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": reg, "data": json.dumps(payload)},
        )
        for _ in range(50):
            shown = notifications(page)
            if any(n["tag"] == tag for n in shown):
                return shown
            page.wait_for_timeout(100)
    raise AssertionError(f"the push {payload['ref']!r} never showed")


def test_push_shows_a_generic_notification_and_a_tap_opens_the_page(chromium, server):
    context = chromium.new_context(base_url=server["url"], **PHONE)
    context.grant_permissions(["notifications"], origin=server["url"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        sign_in(page, "worker@demo.test")
        page.goto("/app/")  # field mode installs the service worker
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        page.goto("/notifications/settings")
        cdp = context.new_cdp_session(page)
        reg = registration_id(cdp, page)

        payload = {
            "title": "Return interview due",
            "body": "A return interview is due in 6 hours.",
            "ref": "3f1c2a9e-7d7b-4a56-9a0e-1f5a0c9b8d11",
            "url": "/notifications/",
        }
        [shown] = deliver(cdp, page, server["url"], reg, payload)
        assert shown == {
            "title": "Return interview due",
            "body": "A return interview is due in 6 hours.",
            "tag": "homeward-3f1c2a9e-7d7b-4a56-9a0e-1f5a0c9b8d11",
            "data": {"url": "/notifications/"},
        }

        # The same reminder arriving twice replaces itself rather than stacking up.
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": server["url"], "registrationId": reg, "data": json.dumps(payload)},
        )
        page.wait_for_timeout(300)
        assert len(notifications(page)) == 1

        # A payload that tries to point elsewhere is kept inside the app.
        hostile = dict(payload, ref="other", url="https://evil.example/phish")
        urls = {n["tag"]: n["data"]["url"] for n in deliver(cdp, page, server["url"], reg, hostile)}
        assert urls["homeward-other"] == "/notifications/"

        # A tap takes the open window to the reminder's page.
        [worker] = context.service_workers
        worker.evaluate("self.openFromNotification('/notifications/')")
        expect(page).to_have_url(f"{server['url']}/notifications/")
        expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
        assert errors == []
    finally:
        context.close()


def test_reminder_settings_explain_first_and_offer_the_switch(phone):
    sign_in(phone, "worker@demo.test")
    phone.goto("/notifications/settings")
    expect(phone.get_by_text("never show a child's name")).to_be_visible()
    expect(phone.locator("#hw-push-status")).to_have_text("Reminders are off for this device.")
    expect(phone.get_by_role("button", name="Turn on reminders")).to_be_visible()
    expect(phone.get_by_role("button", name="Turn off reminders on this device")).to_be_hidden()
    assert phone.console_errors == []


def test_a_notification_link_to_another_site_opens_the_notification_centre(chromium, server):
    """Every spelling of another site a push payload (or a page calling the worker) could carry,
    "/\\host" above all, which a prefix check takes for a path and the browser for "//host"."""
    context = chromium.new_context(base_url=server["url"], **PHONE)
    context.grant_permissions(["notifications"], origin=server["url"])
    page = context.new_page()
    try:
        sign_in(page, "worker@demo.test")
        page.goto("/app/")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        page.goto("/notifications/settings")
        cdp = context.new_cdp_session(page)
        reg = registration_id(cdp, page)
        hostile = [
            "/\\evil.example/phish",
            "/\\/evil.example/phish",
            "\\\\evil.example/phish",
            "/\t/evil.example/phish",
            "/\n/evil.example/phish",
            "%2F%2Fevil.example/phish",
            "https:evil.example/phish",
            "javascript:alert(1)",
        ]
        for i, url in enumerate(hostile):
            payload = {"title": "Reminder", "body": "A reminder.", "ref": f"h{i}", "url": url}
            deliver(cdp, page, server["url"], reg, payload)
        shown = wait_for_notifications(page, len(hostile))
        assert {n["data"]["url"] for n in shown} == {"/notifications/"}

        # The tap handler checks again, whatever it is handed.
        [worker] = context.service_workers
        for url in hostile:
            page.goto("/notifications/settings")
            worker.evaluate("(url) => self.openFromNotification(url)", url)
            expect(page).to_have_url(f"{server['url']}/notifications/")
        worker.evaluate("self.openFromNotification('/notifications/settings?from=push')")
        expect(page).to_have_url(f"{server['url']}/notifications/settings?from=push")
    finally:
        context.close()
