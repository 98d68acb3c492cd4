"""Corrections, end to end in Debian's Chromium, as the demo manager on a desktop (and one page on
a 390x844 phone).

An episode's return time corrected five hours earlier: the episode page shows the new time and
the correction with its reason; the return interview covering it is due 72 hours after the new
return, on its own page (with its clock's words) and on the manager's page. A return before the
time last seen is refused (422) beside its field, the reason typed kept. A duplicate episode
recorded through the pages is withdrawn with a reason: gone from the manager's page (missing now
and escalations), marked "Withdrawn: recorded by mistake" on the child's page, the reason on the
episode page. A child's record corrected (the authority's identifier and legal status): the child's
page shows them and lists the change with the manager's name; a second window opened before that
save is refused, keeping what it typed. Every page axe-clean and no wider than the screen.

Its own server and demo data: what is corrected here must not change what the other end-to-end
tests follow.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    clean,
    demo_instance,
    instance_app,
    local_input,
    open_page,
    sign_in,
    start_server,
    stop_server,
    success_banner,
)

MANAGER = "Morgan Reed"  # manager@demo.test
# Demo data (webapp/demo.py): Mia Cole came back 60 hours ago, her return interview allocated to
# the demo worker and due soon; Tyler Grant came back 10 hours ago, his interview awaiting
# allocation; Noah Hughes is back (last week); Ella Price has no legal status and no identifier.
MIA = "Mia Cole"
TYLER = "Tyler Grant"
NOAH = "Noah Hughes"
ELLA = "Ella Price"


@pytest.fixture(scope="module")
def corr_server(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "e2e-corrections")
    from sqlalchemy import select

    from webapp.children.models import Child
    from webapp.episodes.models import Episode
    from webapp.extensions import db
    from webapp.interviews.models import Interview

    ids = {}
    with instance_app(env).app_context():

        def child(first):
            return db.session.scalars(select(Child).where(Child.first_name == first)).one()

        def latest(c):
            return db.session.scalars(
                select(Episode)
                .where(Episode.child_id == c.id)
                .order_by(Episode.last_seen_at.desc())
                .limit(1)
            ).one()

        mia, tyler, noah, ella = child("Mia"), child("Tyler"), child("Noah"), child("Ella")
        m_ep = latest(mia)
        interview = db.session.scalars(
            select(Interview).where(Interview.episodes.any(Episode.id == m_ep.id))
        ).one()
        assert interview.status == "allocated" and m_ep.returned_at is not None
        ids.update(
            mia=mia.id,
            mia_episode=m_ep.id,
            mia_interview=interview.id,
            tyler_episode=latest(tyler).id,
            noah=noah.id,
            ella=ella.id,
        )
        # The demo gives every child the authority's identifier (for the SSDA903 return).
        assert ella.authority_child_id and ella.legal_status == "none"
        ids.update(ella_ident=ella.authority_child_id)
    proc, base = start_server(instance, env)
    yield {"url": base, "env": env, "ids": ids}
    stop_server(proc)


@pytest.fixture
def desktop(chromium, corr_server):
    page = open_page(chromium, corr_server["url"], DESKTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone(chromium, corr_server):
    page = open_page(chromium, corr_server["url"], PHONE)
    yield page
    page.context.close()


def _shown(dt: datetime) -> str:
    """An instant as the pages show it (the local_time filter)."""
    from webapp.templating import local_time

    return local_time(dt)


def _typed(value: str) -> datetime:
    """What a datetime-local input holds (UK wall clock) as the instant it means."""
    from webapp.deadlines import local_to_utc

    return local_to_utc(datetime.strptime(value, "%Y-%m-%dT%H:%M"))


def summary_value(page, key: str):
    row = page.locator(".govuk-summary-list__row").filter(
        has=page.locator(".govuk-summary-list__key", has_text=re.compile(rf"^\s*{key}\s*$"))
    )
    expect(row).to_have_count(1)
    return row.locator(".govuk-summary-list__value")


def field_group(page, control_id: str):
    """The GOV.UK form group holding the control with this id (its label, hint and error)."""
    return page.locator(".govuk-form-group").filter(has=page.locator(f"#{control_id}")).last


def clock_minutes(label: str) -> int:
    """The minutes a clock's words say are left ("2 days 3 h left", "6 h 59 min left")."""
    found = re.fullmatch(r"(?:(\d+) days?)?\s*(?:(\d+) h)?\s*(?:(\d+) min)?\s*left", label.strip())
    assert found and any(found.groups()), label
    days, hours, mins = (int(g or 0) for g in found.groups())
    return (days * 24 + hours) * 60 + mins


def minutes_until(due: datetime) -> int:
    return int((due - datetime.now(UTC)).total_seconds() // 60)


def at_risk_card(page, child: str):
    return page.locator("h2#at-risk + ul.hw-card-list > li.hw-card").filter(
        has=page.get_by_role("link", name=child, exact=True)
    )


def test_a_correction_of_the_return_time_moves_the_interview_deadline(desktop, corr_server):
    page = desktop
    ids = corr_server["ids"]
    sign_in(page, "manager@demo.test", reuse=True)

    # Before: the interview page and the manager's page give the demo's deadline.
    page.goto(f"/interviews/{ids['mia_interview']}")
    clock_line = page.locator(".hw-clock-line")
    before_line = clock_line.inner_text()
    before_left = clock_minutes(clock_line.locator(".hw-clock__detail").inner_text())
    page.goto("/manage/")
    mia_card = at_risk_card(page, MIA)
    expect(mia_card).to_have_count(1)
    before_card = mia_card.inner_text()

    page.goto(f"/episodes/{ids['mia_episode']}")
    expect(page.locator("#corrections")).to_have_count(0)
    page.get_by_role("link", name="Correct or withdraw the episode").click()
    page.wait_for_url(re.compile(rf"/episodes/{ids['mia_episode']}/correct$"))
    expect(page.get_by_role("heading", level=1, name="Correct the episode")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Correct an episode"))
    clean(page)

    returned_box = page.get_by_label("When did they come back, or when were they found?")
    old_return = _typed(returned_box.input_value())
    # The demo's return: 60 hours ago, to the minute.
    assert abs(datetime.now(UTC) - timedelta(hours=60) - old_return) < timedelta(minutes=5)
    new_return = old_return - timedelta(hours=5)
    new_due = new_return + timedelta(hours=72)
    returned_box.fill(local_input(new_return))
    reason = "The police log NB-2611-0355 gives her return as five hours earlier."
    page.get_by_label("Why is it corrected?").fill(reason)
    page.get_by_role("button", name="Save the correction").click()
    page.wait_for_url(re.compile(rf"/episodes/{ids['mia_episode']}$"))
    assert "Correction saved." in success_banner(page)

    # The episode page: the new time, and the correction with its reason and author.
    expect(summary_value(page, "Returned or found")).to_have_text(_shown(new_return))
    corrections = page.locator("h2#corrections + ul > li")
    expect(corrections).to_have_count(1)
    expect(corrections.first).to_contain_text(f"{MANAGER}: {reason}")
    expect(corrections.first.locator("ul > li")).to_have_text(
        [f"Came back or found: {_shown(old_return)} \u2192 {_shown(new_return)}"]
    )
    clean(page)

    # The return interview: due 72 hours after the new return, five hours sooner than before.
    page.goto(f"/interviews/{ids['mia_interview']}")
    clock_line = page.locator(".hw-clock-line")
    expect(clock_line).to_contain_text(f"Due {_shown(new_due)}")
    assert clock_line.inner_text() != before_line
    assert f"Due {_shown(new_due + timedelta(hours=5))}" in before_line, before_line
    expect(clock_line.locator(".hw-clock")).to_have_text("Due soon")  # 7 hours left
    after_left = clock_minutes(clock_line.locator(".hw-clock__detail").inner_text())
    assert abs(after_left - minutes_until(new_due)) <= 2, (after_left, minutes_until(new_due))
    assert abs((before_left - after_left) - 5 * 60) <= 3, (before_left, after_left)
    clean(page)

    # The child's page lists the interview with its new due time too.
    page.get_by_role("link", name=MIA, exact=True).click()
    page.wait_for_url(re.compile(rf"/children/{ids['mia']}$"))
    interview_card = page.locator("li.hw-card").filter(
        has=page.locator(f"a[href$='/interviews/{ids['mia_interview']}']")
    )
    expect(interview_card).to_contain_text(f"Due {_shown(new_due)}")
    clean(page)

    # The manager's page lists the interview with its new due time.
    page.goto("/manage/")
    mia_card = at_risk_card(page, MIA)
    expect(mia_card).to_have_count(1)
    expect(mia_card).to_contain_text(f"Due {_shown(new_due)}")
    assert mia_card.inner_text() != before_card
    clean(page)
    assert page.errors == []


def test_a_refused_correction_keeps_what_was_typed_on_a_phone(phone, corr_server):
    """A return before the time last seen, on a 390x844 phone: 422, the reason beside the return
    time, what was typed kept, nothing changed."""
    page = phone
    episode_id = corr_server["ids"]["tyler_episode"]
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto(f"/episodes/{episode_id}")
    returned_before = summary_value(page, "Returned or found").inner_text()
    page.get_by_role("link", name="Correct or withdraw the episode").click()
    page.wait_for_url(re.compile(rf"/episodes/{episode_id}/correct$"))
    clean(page)

    last_seen = _typed(page.get_by_label("When was the child last seen?").input_value())
    too_early = local_input(last_seen - timedelta(hours=2))
    returned_box = page.get_by_label("When did they come back, or when were they found?")
    returned_box.fill(too_early)
    reason = "Typed by mistake: checking the refusal keeps this."
    page.get_by_label("Why is it corrected?").fill(reason)
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Save the correction").click()
    assert sent.value.status == 422
    page.wait_for_load_state()
    expect(page).to_have_title(re.compile(r"^Error: Correct an episode"))
    message = "The return must be after the time last seen"
    group = field_group(page, "returned_at")
    expect(group).to_have_class(re.compile(r"govuk-form-group--error"))
    expect(group.locator(".govuk-error-message")).to_contain_text(message)
    expect(page.locator(".govuk-error-summary a", has_text=message)).to_have_attribute(
        "href", "#returned_at"
    )
    expect(page.get_by_label("Why is it corrected?")).to_have_value(reason)
    expect(returned_box).to_have_value(too_early)
    expect(page.get_by_label("When was the child last seen?")).to_have_value(local_input(last_seen))
    clean(page)

    # Nothing changed.
    page.goto(f"/episodes/{episode_id}")
    expect(summary_value(page, "Returned or found")).to_have_text(returned_before)
    expect(page.locator("#corrections")).to_have_count(0)
    assert page.errors == []


def _episode_links(page, episode_id: str):
    return page.locator(f"main a[href$='/episodes/{episode_id}']")


def test_withdrawing_a_duplicate_episode(desktop, corr_server):
    page = desktop
    noah = corr_server["ids"]["noah"]
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto("/manage/")
    missing_before = page.locator("h2#missing-now").inner_text()
    escalations_before = page.locator("h2#escalations").inner_text()

    # Recorded through the pages: the manager's "Record a missing episode", the child, the form.
    # A GOV.UK button: a link drawn as a button.
    page.get_by_role("button", name="Record a missing episode").click()
    page.get_by_role("link", name=NOAH, exact=True).click()
    page.wait_for_url(re.compile(rf"/children/{noah}$"))
    page.get_by_role("button", name="Report missing").click()
    expect(page.get_by_role("heading", level=1, name="Record a missing episode")).to_be_visible()
    last_seen = datetime.now(UTC) - timedelta(hours=1)
    page.get_by_label("Missing", exact=True).check()
    page.get_by_label("Home", exact=True).check()
    page.get_by_label("When was the child last seen?").fill(local_input(last_seen))
    page.get_by_role("button", name="Record episode").click()
    page.wait_for_url(re.compile(r"/episodes/[^/]+$"))
    assert "Report saved." in success_banner(page)
    episode_id = page.url.rstrip("/").rsplit("/", 1)[1]
    assert episode_id != "new"

    # On the manager's page: missing now, with its escalations.
    page.goto("/manage/")
    missing = page.locator("h2#missing-now + ul.hw-card-list")
    expect(missing.locator(f"a[href$='/episodes/{episode_id}']")).to_have_count(1)
    worklist = page.locator("h2#escalations + ul.hw-card-list")
    assert worklist.locator(f"a[href$='/episodes/{episode_id}']").count() >= 1
    assert page.locator("h2#missing-now").inner_text() != missing_before

    # Withdrawn from its episode page, a reason required.
    page.goto(f"/episodes/{episode_id}")
    page.get_by_role("link", name="Correct or withdraw the episode").click()
    page.wait_for_url(re.compile(rf"/episodes/{episode_id}/correct$"))
    expect(page.get_by_role("heading", level=2, name=re.compile("^Withdraw"))).to_be_visible()
    clean(page)
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Withdraw the episode").click()
    assert sent.value.status == 422
    page.wait_for_load_state()
    group = field_group(page, "withdraw_reason")
    expect(group.locator(".govuk-error-message")).to_contain_text(
        "Enter why the episode is withdrawn"
    )
    clean(page)
    reason = "A duplicate: the carer's report of the same evening was recorded twice."
    page.get_by_label("Why is it withdrawn?").fill(reason)
    page.get_by_role("button", name="Withdraw the episode").click()
    page.wait_for_url(re.compile(rf"/episodes/{episode_id}$"))
    assert "Episode withdrawn." in success_banner(page)
    expect(summary_value(page, "Status")).to_have_text("Withdrawn: recorded by mistake")
    corrections = page.locator("h2#corrections + ul > li")
    expect(corrections).to_have_count(1)
    expect(corrections.first).to_contain_text(f"{MANAGER}: {reason}")
    expect(corrections.first.locator("ul > li")).to_have_text(["Status: Missing \u2192 Withdrawn"])
    clean(page)

    # Gone from the manager's page: as before it was recorded.
    page.goto("/manage/")
    expect(_episode_links(page, episode_id)).to_have_count(0)
    expect(page.locator("h2#missing-now")).to_have_text(missing_before)
    expect(page.locator("h2#escalations")).to_have_text(escalations_before)
    clean(page)

    # The child's page keeps it, marked withdrawn.
    page.goto(f"/children/{noah}")
    card = page.locator("li.hw-card").filter(has=page.locator(f"a[href$='/episodes/{episode_id}']"))
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Withdrawn: recorded by mistake")
    # Not missing any more: the child may be reported again.
    expect(page.get_by_role("button", name="Report missing")).to_be_visible()
    clean(page)
    assert page.errors == []


def test_correcting_a_childs_record_and_a_stale_window_refused(desktop, chromium, corr_server):
    first, second = desktop, open_page(chromium, corr_server["url"], DESKTOP)
    ella = corr_server["ids"]["ella"]
    before = corr_server["ids"]["ella_ident"]
    try:
        for page in (first, second):
            sign_in(page, "manager@demo.test", reuse=True)
            page.goto(f"/children/{ella}")
            expect(page.get_by_role("heading", level=1)).to_have_text(ELLA)
            expect(page.locator("#changes")).to_have_count(0)
        clean(first)
        # The second window opens its form before the first saves.
        second.get_by_role("link", name="Correct the record").click()
        expect(second.get_by_role("heading", level=1, name="Correct the record")).to_be_visible()

        first.get_by_role("link", name="Correct the record").click()
        expect(first).to_have_title(re.compile(r"^Correct a child's record"))
        clean(first)
        ident_label = "The authority's child identifier"
        first.get_by_label(ident_label).fill("NB-C-004512")
        first.get_by_label("Child in need", exact=True).check()
        first.get_by_role("button", name="Save changes").click()
        first.wait_for_url(re.compile(rf"/children/{ella}$"))
        assert "Changes saved." in success_banner(first)
        expect(summary_value(first, "Authority's child identifier")).to_have_text("NB-C-004512")
        expect(summary_value(first, "Legal status")).to_have_text("Child in need")
        changes = first.locator("h2#changes + ul > li")
        expect(changes).to_have_count(1)
        expect(changes.first.locator("> strong")).to_contain_text(MANAGER)
        expect(changes.first.locator("ul > li")).to_have_text(
            [
                "Legal status: None \u2192 Child in need",
                f"Authority's child identifier: {before} \u2192 NB-C-004512",
            ]
        )
        clean(first)

        # The second window, drawn before that save, is refused and keeps what it typed.
        second.get_by_label(ident_label).fill("NB-C-009999")
        second.get_by_label("Early help", exact=True).check()
        with second.expect_response(lambda r: r.request.method == "POST") as sent:
            second.get_by_role("button", name="Save changes").click()
        assert sent.value.status == 422
        second.wait_for_load_state()
        expect(second.locator(".govuk-error-summary")).to_contain_text(
            "Someone else changed this child's record"
        )
        expect(second).to_have_title(re.compile(r"^Error: Correct a child's record"))
        expect(second.get_by_label(ident_label)).to_have_value("NB-C-009999")
        expect(second.get_by_label("Early help", exact=True)).to_be_checked()
        clean(second)

        # The first correction stands.
        second.goto(f"/children/{ella}")
        expect(summary_value(second, "Authority's child identifier")).to_have_text("NB-C-004512")
        expect(summary_value(second, "Legal status")).to_have_text("Child in need")
        expect(second.locator("h2#changes + ul > li")).to_have_count(1)
        assert first.errors == [] and second.errors == []
    finally:
        second.context.close()
