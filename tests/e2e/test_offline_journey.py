"""The field worker's day with no signal, end to end, in Debian's Chromium with a profile on disk.

Sign in and sync online; go offline (proved by the server's own access log, which must not move);
reload; unlock; complete an interview with autosave; close the browser and open it again on the
same profile, still offline, and find the draft there and locked; go online; it syncs; the server
has it exactly once and a manager can read it. At every step a canary phrase typed into the
interview, and the child's name, are absent from everything the browser keeps for the origin, and
at the end from every file of the profile on disk.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, axe_violations, sign_in
from tests.e2e.netcut import NetCut
from tests.e2e.storage import DUMP, found

PASSPHRASE = "blue kettle on the stairs"
CANARY = "Canary-Wombat-5521 said the flat was above the chip shop"
CHILD = "Kai Turner"  # demo data: allocated to worker@demo.test, overdue


def requests_served(server) -> int:
    """The server's own count of HTTP requests (gunicorn's access log, one line each)."""
    log = Path(server["instance"], "server.log").read_text()
    return len(re.findall(r'^\S+ "[A-Z]+ /', log, flags=re.M))


def launch(browser_type, profile: Path, net: NetCut):
    context = browser_type.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        base_url=net.url,
        **PHONE,
    )
    context.set_default_timeout(15_000)
    return context


def dump(page) -> dict:
    return page.evaluate(f"async () => {{ {DUMP}\n return await dumpAll(); }}")


def assert_nothing_readable(page):
    stored = dump(page)
    assert found(stored, CANARY.split()[0]) == []
    assert found(stored, CHILD) == []
    assert found(stored, CHILD.split()[1]) == []
    return stored


def go_offline(context, net: NetCut):
    """No signal: the browser reports itself offline and the network to the server is cut."""
    context.set_offline(True)
    net.cut()


def go_online(context, net: NetCut):
    net.restore()
    context.set_offline(False)


def status(page):
    return page.locator("#hw-field-status")


def unlock(page, passphrase=PASSPHRASE):
    expect(page.get_by_role("heading", name="Unlock field mode")).to_be_visible()
    page.get_by_label("Offline passphrase").fill(passphrase)
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("heading", name="My returns")).to_be_visible()


def server_copy(server, child_name: str):
    """What the server holds, read the way the app reads it (decrypted with its keys)."""
    from sqlalchemy import select

    from webapp import create_app, sealed
    from webapp.children.models import Child
    from webapp.extensions import db
    from webapp.fieldsync.models import SyncMutation
    from webapp.interviews.models import Interview

    app = create_app(environ=server["env"])
    with app.app_context():
        first, last = child_name.split()
        child = db.session.scalars(
            select(Child).where(Child.first_name == first, Child.last_name == last)
        ).one()
        interviews = db.session.scalars(select(Interview).where(Interview.child_id == child.id))
        [interview] = list(interviews)
        content = sealed.unseal(interview.content_enc, "interview", interview.id, "content", {})
        answers = [
            m.result["status"]
            for m in db.session.scalars(select(SyncMutation))
            if m.result.get("record_id") == interview.id
        ]
        return interview.id, content, answers


@pytest.fixture
def net(server):
    relay = NetCut(int(server["url"].rsplit(":", 1)[1]))
    yield relay
    relay.close()


def test_offline_journey(browser_type, server, net, tmp_path, chromium):
    profile = tmp_path / "profile"
    context = launch(browser_type, profile, net)
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Online: sign in, open field mode, choose a passphrase; the returns arrive.
    sign_in(page, "worker@demo.test")
    page.goto("/app/")
    expect(page.get_by_role("heading", name="Set up field mode")).to_be_visible()
    page.get_by_label("Offline passphrase").fill("short")
    page.get_by_label("Type the passphrase again").fill("short")
    page.get_by_role("button", name="Set passphrase").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("8 characters or more")
    assert axe_violations(page) == []  # the set-up screen, in its error state
    page.get_by_label("Offline passphrase").fill(PASSPHRASE)
    page.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    page.get_by_role("button", name="Set passphrase").click()
    expect(page.get_by_role("heading", name="My returns")).to_be_visible()
    expect(page.get_by_role("link", name=CHILD)).to_be_visible()
    expect(status(page)).to_contain_text("Last synced")
    # An interview already sent for authorisation shows where it is, not a running clock.
    sent = page.locator(".hw-card", has_text="Ruby Ellis")
    expect(sent).to_contain_text("Awaiting authorisation")
    expect(sent).not_to_contain_text("left")
    page.wait_for_function(
        "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null"
    )
    assert_nothing_readable(page)

    # Offline from here: the server must see nothing until we come back.
    go_offline(context, net)
    served = requests_served(server)
    page.reload()
    unlock(page)
    expect(status(page)).to_contain_text("Offline")
    page.get_by_role("link", name=CHILD).click()
    expect(page.get_by_role("heading", name="Return home interview")).to_be_visible()
    page.get_by_label("Where was it held?").fill("Library on Station Road")
    page.get_by_label("In the child's words").fill(CANARY)
    expect(page.locator("#hw-field-saved")).to_contain_text("Saved on this device")
    expect(status(page)).to_contain_text("1 not yet sent to the server")
    expect(status(page)).to_contain_text(re.compile(r"[\d.]+ MB used on this device"))
    assert_nothing_readable(page)
    page.get_by_role("link", name="Back to my returns").click()
    card = page.locator(".hw-card", has_text=CHILD)
    expect(card).to_contain_text("Not yet sent")
    assert requests_served(server) == served
    assert errors == []
    context.close()

    # The phone is put away; later the browser is opened again, still with no signal.
    context = launch(browser_type, profile, net)
    context.set_offline(True)
    page = context.pages[0] if context.pages else context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/app/")
    expect(page.get_by_role("heading", name="Unlock field mode")).to_be_visible()
    expect(page.locator("#hw-unsent")).to_contain_text("1 not yet sent to the server")
    assert axe_violations(page) == []
    assert_nothing_readable(page)
    page.get_by_label("Offline passphrase").fill("not my passphrase")
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("passphrase")
    unlock(page)
    page.get_by_role("link", name=CHILD).click()
    expect(page.get_by_label("In the child's words")).to_have_value(CANARY)
    expect(page.get_by_label("Where was it held?")).to_have_value("Library on Station Road")
    assert axe_violations(page) == []
    assert requests_served(server) == served

    # Signal again: the outbox goes up by itself and is acknowledged.
    go_online(context, net)
    expect(status(page)).to_contain_text("Online")
    expect(status(page)).not_to_contain_text("not yet sent", timeout=20_000)
    expect(status(page)).to_contain_text("Last synced")
    assert requests_served(server) > served
    stored = assert_nothing_readable(page)
    assert {c["name"].startswith("homeward-shell-") for c in stored["caches"]} == {True}
    assert errors == []
    context.close()

    # The server has it once, and decrypts it for an authorised manager.
    interview_id, content, answers = server_copy(server, CHILD)
    assert content["why_details"] == CANARY
    assert content["location"] == "Library on Station Road"
    assert answers == ["applied"]  # one mutation, applied once
    manager = chromium.new_context(base_url=server["url"], **PHONE)
    mpage = manager.new_page()
    sign_in(mpage, "manager@demo.test", reuse=True)
    mpage.goto(f"/interviews/{interview_id}")
    assert mpage.content().count(CANARY) == 1
    manager.close()

    # Nothing the browser wrote to disk holds the phrase or the child's name in clear: not the
    # HTTP cache, not history (page titles), not session restore.
    leaks = [
        str(path.relative_to(profile))
        for path in profile.rglob("*")
        if path.is_file()
        and any(needle.encode() in path.read_bytes() for needle in ("Canary-Wombat", "Turner"))
    ]
    assert leaks == []


def new_phone(chromium, relay: NetCut):
    """A fresh phone (browser profile) reaching the server through `relay`."""
    context = chromium.new_context(base_url=relay.url, **PHONE)
    context.set_default_timeout(15_000)
    return context, context.new_page()


def set_up_field_mode(page, email="worker@demo.test"):
    sign_in(page, email)
    page.goto("/app/")
    page.get_by_label("Offline passphrase").fill(PASSPHRASE)
    page.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    page.get_by_role("button", name="Set passphrase").click()
    expect(page.get_by_role("heading", name="My returns")).to_be_visible()
    expect(status(page)).to_contain_text("Last synced")
    page.wait_for_function(
        "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null"
    )


def test_remote_wipe_uploads_unsent_work_then_deletes_everything(chromium, server, net):
    context, page = new_phone(chromium, net)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    set_up_field_mode(page)
    assert axe_violations(page) == []  # the list of returns, rendered from the device store
    [device_id] = [c["value"] for c in context.cookies() if c["name"] == "hw_device"]

    # The phone goes out of signal with unsent work on it...
    go_offline(context, net)
    page.get_by_role("link", name="Mia Cole").click()
    page.get_by_label("How do they feel now?").fill("Wipe-Canary-7730 relieved to be home")
    expect(status(page)).to_contain_text("1 not yet sent to the server")

    # ...and is reported lost. The manager revokes it.
    manager = chromium.new_context(base_url=server["url"], **PHONE)
    mpage = manager.new_page()
    sign_in(mpage, "manager@demo.test", reuse=True)
    mpage.goto("/devices/")
    mpage.once("dialog", lambda dialog: dialog.accept())
    mpage.locator(f"form[action*='{device_id}'] button").click()
    expect(mpage.locator(".hw-card", has=mpage.locator("text=Revoked"))).not_to_have_count(0)

    # At its next contact the device first sends what it has, then deletes everything.
    go_online(context, net)
    expect(
        page.get_by_role("heading", name="Homeward has been removed from this device")
    ).to_be_visible(timeout=20_000)
    stored = dump(page)
    assert [d["name"] for d in stored["indexedDB"] if d["name"].startswith("homeward")] == []
    assert stored["caches"] == []
    assert errors == []
    context.close()

    _, content, answers = server_copy(server, "Mia Cole")
    assert content["feel_now"] == "Wipe-Canary-7730 relieved to be home"
    assert "applied" in answers
    mpage.goto("/devices/")
    expect(mpage.locator(f"form[action*='{device_id}']")).to_have_count(0)
    expect(mpage.get_by_text("Wiped")).not_to_have_count(0)
    manager.close()


def test_conflict_between_two_devices_keeps_both_and_lets_the_worker_choose(chromium, server, net):
    # Each phone has its own network, so one can come back into signal while the other cannot.
    net_b = NetCut(net.upstream[1])
    phones = []
    for relay in (net, net_b):
        context, page = new_phone(chromium, relay)
        page.errors = []
        page.on("pageerror", lambda e, page=page: page.errors.append(str(e)))
        set_up_field_mode(page)
        phones.append((context, page))
    (ctx_a, a), (ctx_b, b) = phones

    # Both phones lose signal and change the same answer.
    go_offline(ctx_a, net)
    go_offline(ctx_b, net_b)
    for page, words in ((a, "Phone A: the worker and Kai"), (b, "Phone B: Kai and his aunt")):
        page.get_by_role("link", name=CHILD).click()
        page.get_by_label("Who was present?").fill(words)
        expect(status(page)).to_contain_text("1 not yet sent to the server")

    # Phone A reaches the server first and wins; phone B's change clashes with it.
    go_online(ctx_a, net)
    expect(status(a)).not_to_contain_text("not yet sent", timeout=20_000)
    go_online(ctx_b, net_b)
    expect(status(b)).not_to_contain_text("not yet sent", timeout=20_000)
    b.get_by_role("link", name="Back to my returns").click()
    expect(b.locator(".govuk-warning-text")).to_contain_text("1 change clashed with a newer copy")
    assert server_copy(server, CHILD)[1]["present"] == "Phone A: the worker and Kai"

    # Both versions are shown side by side; the worker keeps phone B's.
    b.get_by_role("button", name="Choose which to keep").click()
    expect(b.get_by_role("heading", name="Choose which version to keep")).to_be_visible()
    table = b.locator("table")
    expect(table).to_contain_text("Phone A: the worker and Kai")
    expect(table).to_contain_text("Phone B: Kai and his aunt")
    assert axe_violations(b) == []
    b.get_by_role("button", name="Keep this device's version").click()
    expect(b.get_by_role("heading", name="My returns")).to_be_visible()
    expect(b.locator(".govuk-warning-text")).to_have_count(0)
    expect(status(b)).not_to_contain_text("not yet sent", timeout=20_000)
    assert server_copy(server, CHILD)[1]["present"] == "Phone B: Kai and his aunt"

    # Phone A hears about it at its next sync.
    a.reload()
    unlock(a)
    a.get_by_role("link", name=CHILD).click()
    expect(a.get_by_label("Who was present?")).to_have_value("Phone B: Kai and his aunt")
    for context, page in phones:
        assert page.errors == []
        context.close()
    net_b.close()


def test_editing_on_after_a_save_was_accepted_never_clashes_with_itself(chromium, server, net):
    context, page = new_phone(chromium, net)
    set_up_field_mode(page)
    page.get_by_role("link", name="Mia Cole").click()
    field = page.get_by_label("What does the child want to happen next?")
    for words in ("To see her sister", "To see her sister at weekends"):
        field.fill(words)
        expect(page.locator("#hw-field-saved")).to_contain_text("Saved on this device")
        expect(status(page)).not_to_contain_text("not yet sent", timeout=20_000)
        page.locator("#hw-field-saved").evaluate("(el) => { el.textContent = ''; }")
    page.get_by_role("link", name="Back to my returns").click()
    expect(status(page)).not_to_contain_text("not yet sent", timeout=20_000)
    expect(page.locator(".govuk-warning-text")).to_have_count(0)
    assert server_copy(server, "Mia Cole")[1]["wants_next"] == "To see her sister at weekends"
    context.close()


def test_a_new_release_is_offered_as_update_ready_and_keeps_the_draft(chromium, server, net):
    from tests.e2e.conftest import start_server, stop_server

    context, page = new_phone(chromium, net)
    set_up_field_mode(page)
    version = page.locator("#hw-field").get_attribute("data-shell-version")
    page.get_by_role("link", name="Mia Cole").click()

    # A new release goes live behind the same address.
    env = dict(server["env"], HOMEWARD_RELEASE="e2e-next")
    proc, url = start_server(server["instance"], env, "server-next.log")
    try:
        net.cut()
        net.upstream = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
        net.restore()
        page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
        update = page.get_by_role("button", name="Update ready: reload")
        expect(update).to_be_visible()
        # Nothing reloads by itself: a half-typed answer is still on screen...
        field = page.get_by_label("How have they been treated since coming back?")
        field.press_sequentially("Kindly, she says")
        # ...and is saved before the page reloads on the person's tap.
        update.click()
        unlock(page)
        assert page.locator("#hw-field").get_attribute("data-shell-version") != version
        page.get_by_role("link", name="Mia Cole").click()
        expect(field).to_have_value("Kindly, she says")
        names = page.evaluate("caches.keys()")
        assert names == [
            f"homeward-shell-{page.locator('#hw-field').get_attribute('data-shell-version')}"
        ]
    finally:
        stop_server(proc)
        context.close()


def test_field_mode_locks_itself_after_five_minutes_idle(chromium, server, net):
    context, page = new_phone(chromium, net)
    page.clock.install()  # the page's timers, fast-forwarded below; time otherwise flows
    set_up_field_mode(page)
    page.get_by_role("link", name="Mia Cole").click()
    expect(page.get_by_role("heading", name="Return home interview")).to_be_visible()
    page.wait_for_timeout(500)
    page.clock.fast_forward("04:30")
    expect(page.get_by_role("heading", name="Return home interview")).to_be_visible()
    page.get_by_label("Who was present?").press("End")  # activity restarts the idle clock
    page.wait_for_timeout(500)  # let the events it caused (focus, scroll) land first
    page.clock.fast_forward("04:30")
    expect(page.get_by_role("heading", name="Return home interview")).to_be_visible()
    page.clock.fast_forward("01:00")
    expect(page.get_by_role("heading", name="Unlock field mode")).to_be_visible()
    assert page.locator("#hw-field-view").inner_text().count("Mia") == 0
    unlock(page)
    context.close()


def test_a_forgotten_passphrase_is_reset_online_and_unsent_work_survives(chromium, server, net):
    context, page = new_phone(chromium, net)
    set_up_field_mode(page)
    go_offline(context, net)
    page.get_by_role("link", name="Mia Cole").click()
    page.get_by_label("What do they need?").fill("A bus pass, she says")
    expect(status(page)).to_contain_text("1 not yet sent to the server")
    page.reload()
    expect(page.locator("#hw-unsent")).to_contain_text("1 not yet sent")
    page.get_by_text("Forgotten your passphrase?").click()
    expect(page.get_by_text("You need a connection to do this.")).to_be_visible()
    expect(page.get_by_role("button", name="Choose a new passphrase")).to_be_hidden()

    # Back in signal, still locked: the passphrase is gone from the worker's memory.
    go_online(context, net)
    expect(page.get_by_text("You need a connection to do this.")).to_be_hidden()
    page.get_by_role("button", name="Choose a new passphrase").click()
    expect(page.get_by_role("heading", name="Set up field mode")).to_be_visible()
    page.get_by_label("Offline passphrase").fill("a brand new passphrase")
    page.get_by_label("Type the passphrase again").fill("a brand new passphrase")
    page.get_by_role("button", name="Set passphrase").click()
    expect(page.get_by_role("heading", name="My returns")).to_be_visible()
    expect(status(page)).not_to_contain_text("not yet sent", timeout=20_000)
    assert server_copy(server, "Mia Cole")[1]["needs"] == "A bus pass, she says"

    # The new passphrase unlocks; the old one no longer does.
    page.reload()
    page.get_by_label("Offline passphrase").fill(PASSPHRASE)
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    unlock(page, "a brand new passphrase")
    context.close()


def _set_visibility(page, state: str) -> None:
    # Headless Chromium is always "visible": stand in for the phone's app switcher.
    page.evaluate(
        """(state) => {
          Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def test_field_mode_locks_when_the_app_was_away_for_long(chromium, server, net):
    context, page = new_phone(chromium, net)
    page.clock.install()
    set_up_field_mode(page)
    page.get_by_role("link", name="Mia Cole").click()
    _set_visibility(page, "hidden")  # a quick look at a text message...
    page.clock.fast_forward("00:30")
    _set_visibility(page, "visible")
    expect(page.get_by_role("heading", name="Return home interview")).to_be_visible()
    _set_visibility(page, "hidden")  # ...then the phone goes back in a pocket
    page.clock.fast_forward("02:30")
    _set_visibility(page, "visible")
    expect(page.get_by_role("heading", name="Unlock field mode")).to_be_visible()
    context.close()


def test_signed_out_while_away_the_phone_says_to_sign_in_and_then_sends(chromium, server, net):
    context, page = new_phone(chromium, net)
    set_up_field_mode(page)
    go_offline(context, net)
    page.get_by_role("link", name="Mia Cole").click()
    page.get_by_label("How did they get food, money and clothes?").fill("A friend's mum fed her")
    expect(status(page)).to_contain_text("1 not yet sent to the server")
    context.clear_cookies()  # the session ran out while the phone was in a pocket
    go_online(context, net)
    sign_in_link = page.get_by_role("link", name="Sign in to send your work")
    expect(sign_in_link).to_be_visible(timeout=20_000)
    expect(status(page)).to_contain_text("1 not yet sent to the server")  # kept meanwhile
    sign_in_link.click()
    page.get_by_label("Email address").fill("worker@demo.test")
    page.locator("#password").fill("homeward-demo")
    page.get_by_role("button", name="Sign in").click()
    unlock(page)
    expect(status(page)).not_to_contain_text("not yet sent", timeout=20_000)
    assert server_copy(server, "Mia Cole")[1]["basics"] == "A friend's mum fed her"
    context.close()


def test_the_back_button_moves_between_screens_and_keeps_what_was_typed(chromium, server, net):
    context, page = new_phone(chromium, net)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    set_up_field_mode(page)
    go_offline(context, net)

    page.get_by_role("link", name=CHILD).click()
    expect(page.get_by_role("heading", name="Return home interview")).to_be_visible()
    # Back at once, before autosave's pause is over: leaving the screen saves it.
    page.get_by_label("Overview of the episode").fill("Back-Canary-4411 came home by bus")
    page.go_back()
    expect(page.get_by_role("heading", name="My returns")).to_be_visible()
    assert page.url.split("#")[0].endswith("/app/")
    expect(page.locator(".hw-card", has_text=CHILD)).to_contain_text("Not yet sent")

    # Forward reopens the interview with the answer, as does opening it again after Back.
    page.go_forward()
    expect(page.get_by_label("Overview of the episode")).to_have_value(
        "Back-Canary-4411 came home by bus"
    )
    page.get_by_role("link", name="Back to my returns").click()
    expect(page.get_by_role("heading", name="My returns")).to_be_visible()
    page.get_by_role("link", name=CHILD).click()
    expect(page.get_by_label("Overview of the episode")).to_have_value(
        "Back-Canary-4411 came home by bus"
    )
    assert errors == []
    context.close()


# The IRO and the Assistant Director keep nothing on a phone (a social worker now may: the
# looked-after interviews they hold themselves, tests/e2e/test_sw_holds_interview.py).
@pytest.mark.parametrize("email", ["iro@demo.test", "ad@demo.test"])
def test_a_role_with_nothing_to_keep_is_not_invited_to_set_up_a_phone(chromium, server, email):
    context = chromium.new_context(base_url=server["url"], **PHONE)
    page = context.new_page()
    sign_in(page, email)
    page.goto("/app/")
    expect(page.get_by_text("nothing for your role to keep on this device")).to_be_visible()
    expect(page.get_by_role("heading", name="Set up field mode")).to_have_count(0)
    expect(page.get_by_label("Offline passphrase")).to_have_count(0)
    context.close()


def test_the_problem_summary_links_to_the_field_and_stays_on_the_interview(chromium, server, net):
    """Sending an incomplete interview is stopped on the phone with the server's own words
    (before, it was queued, refused by the server and set aside as "needs attention"); and the
    summary's links move focus to the field instead of being taken for a route (field mode keeps
    its screens in the URL's hash, so "#field" used to drop the worker on the list)."""
    context, page = new_phone(chromium, net)
    set_up_field_mode(page)
    page.get_by_role("link", name="Mia Cole").click()
    page.get_by_role("button", name="Send for authorisation").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Say whether an independent interview was offered")
    expect(status(page)).not_to_contain_text("not yet sent")
    screen = page.url
    summary.get_by_role("link").first.click()
    expect(page.locator("#hw-field-form")).to_be_visible()
    assert page.url == screen
    focused = page.evaluate("document.activeElement && document.activeElement.closest('form')?.id")
    assert focused == "hw-field-form"
    context.close()
