"""A batch the server cannot read as a whole never blocks the phone's queue.

The server answers a whole-request 4xx when it cannot even read one mutation out of a batch (a
body nested deeper than its JSON parser goes). The field client then sends that batch's mutations
one at a time: the unreadable one is shown as needing attention and stays on the phone, and the
others reach the server. The unreadable answer is played by Playwright's router, standing in for
the server for that one mutation only; everything else goes to the real server.
"""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.e2e.test_offline_journey import (
    go_offline,
    go_online,
    net,  # noqa: F401  (fixture)
    new_phone,
    server_copy,
    set_up_field_mode,
    status,
)

REFUSAL = {"error": "invalid_payload", "message": "The body is nested too deeply", "details": []}


def test_one_unreadable_change_is_set_aside_and_the_rest_are_sent(chromium, server, net):  # noqa: F811
    context, page = new_phone(chromium, net)
    set_up_field_mode(page)
    mia_id, _, mia_before = server_copy(server, "Mia Cole")
    kai_id, _, _ = server_copy(server, "Kai Turner")
    sizes: list[int] = []
    signal = {"on": True}

    def push(route):
        if not signal["on"]:
            # The router answers before the network is consulted: be as offline as the phone.
            route.abort("internetdisconnected")
            return
        mutations = json.loads(route.request.post_data or "{}").get("mutations", [])
        sizes.append(len(mutations))
        if any(m["record_id"] == kai_id for m in mutations):
            # The server cannot read any batch holding Kai's change.
            route.fulfill(status=400, content_type="application/json", body=json.dumps(REFUSAL))
        else:
            route.continue_()

    page.route("**/api/v1/sync/push", push)

    go_offline(context, net)
    signal["on"] = False
    for child, words in (("Kai Turner", "Kai was calm"), ("Mia Cole", "Unblocked-Canary-4410")):
        page.get_by_role("link", name=child).click()
        page.get_by_label("How do they feel now?").fill(words)
        page.get_by_role("link", name="Back").first.click()
    expect(status(page)).to_contain_text("2 not yet sent to the server")

    signal["on"] = True
    go_online(context, net)
    expect(status(page)).to_contain_text("1 needs attention", timeout=20_000)
    item = page.locator("li", has=page.get_by_role("link", name="Kai Turner"))
    expect(item.get_by_text("Needs attention")).to_be_visible()
    assert sizes[0] == 2 and sizes.count(1) >= 2  # the batch, then one at a time

    _, content, answers = server_copy(server, "Mia Cole")
    assert content["feel_now"] == "Unblocked-Canary-4410"
    assert answers.count("applied") == mia_before.count("applied") + 1  # exactly once
    _, kai_content, _ = server_copy(server, "Kai Turner")
    assert kai_content.get("feel_now") != "Kai was calm"
    assert mia_id != kai_id
    context.close()
