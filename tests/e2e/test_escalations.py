"""Escalations that close, end to end in Debian's Chromium, on the manager's desktop and a social
worker's phone (390x844).

The manager's page leads with "Escalations to act on": an overdue meeting is recorded from its
card (an empty outcome refused beside its field, keeping what was typed), the card goes and the
count drops by one, and the episode and child pages say it is done and what was done. The
looked-after child's social worker records the visit after a return from the episode page on a
phone, and it leaves the manager's page. A Need to Know notification, needed only while the
child is missing, closes itself when the manager records the child's return, saying why. The
manager's page also fits a phone. Every page axe-clean. A second record of the same task, sent
from a page opened before the first, is refused saying why, with what was typed kept.

Its own server (demo data plus a child missing for 30 hours): what is recorded here must not
change the escalations the other end-to-end tests follow.
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

# Demo data (webapp/demo.py): Leah Marsh has been missing for 30 hours (an intervention meeting
# overdue: missing for more than 24 hours); Mia Cole, looked after with the demo social worker,
# came back 60 hours ago (the visit was due within 24 hours of the return).
LEAH = "Leah Marsh"
MIA = "Mia Cole"
NOAH = "Noah Hughes"  # back a week ago after 30 hours missing: an intervention meeting overdue
# Added here: missing for 30 hours, not looked after.
NEW_FIRST, NEW_LAST = "Orla", "Fenwick"
NEW_CHILD = f"{NEW_FIRST} {NEW_LAST}"


@pytest.fixture(scope="module")
def esc_server(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "e2e-escalations")
    from sqlalchemy import select

    from webapp.accounts.models import Organisation, OrgKind, User
    from webapp.children.models import Child, LegalStatus
    from webapp.db_types import utcnow
    from webapp.episodes.models import Episode, EpisodeStatus
    from webapp.extensions import db

    ids = {}
    with instance_app(env).app_context():
        manager = db.session.scalars(select(User).where(User.email == "manager@demo.test")).one()
        sw = db.session.scalars(select(User).where(User.email == "sw@demo.test")).one()
        la = db.session.scalars(
            select(Organisation).where(
                Organisation.kind == OrgKind.LOCAL_AUTHORITY,
                Organisation.name == "Northbridge Council",
            )
        ).one()
        mia = db.session.scalars(select(Child).where(Child.first_name == "Mia")).one()
        # The demo's looked-after child has the demo social worker: step 4 signs in as them.
        assert mia.looked_after and mia.social_worker_id == sw.id
        ids["mia"] = mia.id
        ids["mia_latest"] = db.session.scalars(
            select(Episode.id)
            .where(Episode.child_id == mia.id)
            .order_by(Episode.last_seen_at.desc())
            .limit(1)
        ).one()
        now = utcnow()
        child = Child(
            first_name=NEW_FIRST,
            last_name=NEW_LAST,
            date_of_birth=now.date().replace(year=now.year - 14, day=1),
            sex="female",
            legal_status=LegalStatus.CHILD_IN_NEED,
            looked_after=False,
            responsible_authority_id=la.id,
        )
        db.session.add(child)
        db.session.flush()
        seen = now - timedelta(hours=30)
        episode = Episode(
            child_id=child.id,
            reported_type="missing",
            missing_from="home",
            last_seen_at=seen,
            reported_to_police_at=seen + timedelta(hours=2),
            police_category="missing",
            police_log_number="NB-2611-0999",
            status=EpisodeStatus.MISSING,
            reported_by_id=manager.id,
        )
        db.session.add(episode)
        db.session.commit()
        ids["new_child"] = child.id
        ids["new_episode"] = episode.id
    proc, base = start_server(instance, env)
    yield {"url": base, "env": env, "ids": ids}
    stop_server(proc)


@pytest.fixture
def desktop(chromium, esc_server):
    page = open_page(chromium, esc_server["url"], DESKTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone(chromium, esc_server):
    page = open_page(chromium, esc_server["url"], PHONE)
    yield page
    page.context.close()


def escalations_count(page) -> int:
    heading = page.locator("h2#escalations")
    text = heading.inner_text()
    found = re.fullmatch(r"Escalations to act on \((\d+)\)", text.strip())
    assert found, text
    return int(found.group(1))


def worklist(page):
    """The cards under "Escalations to act on" (the list that follows its heading)."""
    return page.locator("h2#escalations + ul.hw-card-list")


def card(page, child: str, title: str):
    return (
        worklist(page)
        .locator("> li.hw-card")
        .filter(has=page.get_by_role("link", name=f"{child}: {title}", exact=True))
    )


def cards_of(page, child: str) -> list[str]:
    """The titles of a child's cards under "Escalations to act on", in the page's order."""
    titles = worklist(page).locator("> li h3").all_inner_texts()
    prefix = f"{child}: "
    return [t.strip()[len(prefix) :] for t in titles if t.strip().startswith(prefix)]


def task_row(page, title: str):
    return page.locator("li.hw-escalation").filter(
        has=page.locator("strong", has_text=re.compile(rf"^{re.escape(title)}$"))
    )


def test_the_manager_records_an_overdue_meeting_from_the_managers_page(desktop, esc_server):
    page = desktop
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto("/manage/")
    # The page leads with the escalations: the first section heading after the h1.
    first_h2 = page.locator("main h2").first
    expect(first_h2).to_have_id("escalations")
    before = escalations_count(page)
    assert before == worklist(page).locator("> li").count()
    meeting = card(page, LEAH, "Intervention meeting")
    expect(meeting).to_have_count(1)
    expect(meeting).to_have_class(re.compile(r"\bhw-card--overdue\b"))
    expect(meeting).to_contain_text("Overdue")
    expect(meeting).to_contain_text("Owner: Manager")
    # Overdue first: no due-soon or upcoming card before any overdue one.
    classes = (
        worklist(page)
        .locator("> li")
        .evaluate_all("els => els.map(e => e.classList.contains('hw-card--overdue'))")
    )
    assert classes == sorted(classes, reverse=True), classes
    clean(page)

    meeting.get_by_role("link", name=re.compile(r"^Record action")).click()
    expect(page.get_by_role("heading", level=1, name="Intervention meeting")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Record action: Intervention meeting"))
    # A single kind: already chosen.
    expect(page.get_by_label("Meeting held")).to_be_checked()
    clean(page)

    # An empty outcome for a meeting is refused beside its field; what was typed is kept.
    held = datetime.now(UTC) - timedelta(hours=1)
    attendees = "DS Hale (police), Alex Brennan (social worker), Grace Adeyemi (IRO)"
    page.get_by_label("When was it held?").fill(local_input(held))
    page.get_by_label("Who attended").fill(attendees)
    page.get_by_role("button", name="Record action").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: Record action"))
    note_group = page.locator(".govuk-form-group").filter(has=page.locator("textarea#note"))
    expect(note_group).to_have_class(re.compile(r"govuk-form-group--error"))
    expect(note_group.locator(".govuk-error-message")).to_contain_text(
        "Enter outcome and actions agreed"
    )
    summary_link = page.locator(".govuk-error-summary a", has_text="Enter outcome and actions")
    expect(summary_link).to_have_attribute("href", "#note")
    expect(page.get_by_label("When was it held?")).to_have_value(local_input(held))
    expect(page.get_by_label("Who attended")).to_have_value(attendees)
    expect(page.get_by_label("Meeting held")).to_be_checked()
    clean(page)

    page.get_by_label("Outcome and actions agreed").fill("Safety plan agreed; daily check-ins.")
    page.get_by_role("button", name="Record action").click()
    page.wait_for_url(re.compile(r"/manage/$"))
    assert "Intervention meeting: recorded. The task is closed." in success_banner(page)
    expect(card(page, LEAH, "Intervention meeting")).to_have_count(0)
    assert escalations_count(page) == before - 1
    # Leah's other open task is still listed: only the one recorded went.
    expect(card(page, LEAH, "Need to Know notification")).to_have_count(1)
    clean(page)

    # The episode page: done, with what was done and when.
    page.get_by_role("link", name=f"{LEAH}: Need to Know notification", exact=True).click()
    row = task_row(page, "Intervention meeting")
    expect(row).to_have_count(1)
    expect(row.locator(".govuk-tag")).to_have_text("Done")
    expect(row).to_contain_text(f"Meeting held, {_shown(held)}")
    expect(row.get_by_role("link", name=re.compile("Record action"))).to_have_count(0)
    expect(task_row(page, "Need to Know notification").locator(".govuk-tag")).to_have_text(
        "Overdue"
    )
    clean(page)

    # The child's page too.
    page.get_by_role("link", name=LEAH, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(LEAH)
    row = task_row(page, "Intervention meeting")
    expect(row).to_have_count(1)
    expect(row.locator(".govuk-tag")).to_have_text("Done")
    expect(row).to_contain_text(f"Meeting held, {_shown(held)}")
    clean(page)

    # Recorded once: the Record action page now says it is done, with no form.
    page.goto("/manage/")
    page.get_by_role("link", name=f"{LEAH}: Need to Know notification", exact=True).click()
    episode_url = page.url
    page.goto(episode_url.rstrip("/") + "/escalations/intervention_meeting")
    expect(page.locator("form textarea")).to_have_count(0)
    expect(page.locator("main")).to_contain_text(f"Meeting held, {_shown(held)}")
    assert page.errors == []


def test_the_managers_page_on_a_phone(phone, esc_server):
    """390x844: the escalations lead, each card's Record action button within the screen."""
    page = phone
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto("/manage/")
    count = escalations_count(page)
    assert count >= 1
    buttons = worklist(page).get_by_role("link", name=re.compile(r"^Record action"))
    expect(buttons).to_have_count(count)
    for i in range(count):
        box = buttons.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert box["height"] >= 24, box
    clean(page)
    assert page.errors == []


def _shown(dt: datetime) -> str:
    """An instant as the pages show it (the local_time filter)."""
    from webapp.templating import local_time

    return local_time(dt.replace(second=0, microsecond=0))


def test_the_social_worker_records_the_visit_on_a_phone(phone, desktop, esc_server):
    page, manager = phone, desktop
    ids = esc_server["ids"]
    # The manager's page lists Mia's visits still to do (the latest return's at least, overdue),
    # owned by her social worker by name.
    sign_in(manager, "manager@demo.test", reuse=True)
    manager.goto("/manage/")
    visits = card(manager, MIA, "Social worker visit")
    visits_before = visits.count()
    assert visits_before >= 1
    expect(visits.first).to_contain_text("Owner: Social worker: Alex Brennan")
    before = escalations_count(manager)

    sign_in(page, "sw@demo.test")
    page.goto(f"/children/{ids['mia']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(MIA)
    page.locator(f"a[href$='/episodes/{ids['mia_latest']}']").first.click()
    page.wait_for_url(re.compile(rf"/episodes/{ids['mia_latest']}$"))
    visit = task_row(page, "Social worker visit")
    expect(visit).to_have_count(1)
    expect(visit.locator(".govuk-tag")).to_have_text("Overdue")
    # The social worker records the visit only: no Record action on the manager's tasks.
    expect(page.get_by_role("link", name=re.compile(r"^Record action"))).to_have_count(1)
    clean(page)
    # Nor by typing the address of one.
    response = page.goto(page.url + "/escalations/intervention_meeting")
    assert response is not None and response.status == 404
    page.go_back()

    visit = task_row(page, "Social worker visit")
    visit.get_by_role("link", name=re.compile(r"^Record action")).click()
    expect(page.get_by_role("heading", level=1, name="Social worker visit")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Alex Brennan")  # the owner, by name
    clean(page)
    seen = datetime.now(UTC) - timedelta(hours=2)
    page.get_by_label("Seen alone by the social worker").check()
    page.get_by_label("When?").fill(local_input(seen))
    page.get_by_label("Seen by, or agreed by").fill("Alex Brennan")
    page.get_by_label("What happened, or the reason for the exception").fill(
        "Seen alone at the placement; talked about the friend's flat."
    )
    page.get_by_role("button", name="Record action").click()
    page.wait_for_url(re.compile(rf"/episodes/{ids['mia_latest']}$"))
    assert "Social worker visit: recorded. The task is closed." in success_banner(page)
    visit = task_row(page, "Social worker visit")
    expect(visit.locator(".govuk-tag")).to_have_text("Done")
    expect(visit).to_contain_text(f"Seen alone by the social worker, {_shown(seen)}")
    expect(page.get_by_role("link", name=re.compile(r"^Record action"))).to_have_count(0)
    clean(page)
    assert page.errors == []

    # Gone from the manager's page: that visit only.
    manager.goto("/manage/")
    expect(card(manager, MIA, "Social worker visit")).to_have_count(visits_before - 1)
    assert escalations_count(manager) == before - 1
    assert manager.errors == []


def test_a_need_to_know_closes_itself_when_the_child_comes_back(desktop, esc_server):
    page = desktop
    episode_id = esc_server["ids"]["new_episode"]
    sign_in(page, "manager@demo.test", reuse=True)
    page.goto("/manage/")
    before = escalations_count(page)
    # Missing for 30 hours: the Need to Know and the intervention meeting are overdue; the
    # urgent strategy meeting (72 hours) and the strategy meeting (7 days) are coming.
    assert cards_of(page, NEW_CHILD) == [
        "Need to Know notification",
        "Intervention meeting",
        "Urgent strategy meeting",
        "Strategy meeting",
    ]
    ntk = card(page, NEW_CHILD, "Need to Know notification")
    expect(ntk).to_contain_text("Overdue")
    clean(page)

    ntk.get_by_role("link", name=f"{NEW_CHILD}: Need to Know notification").click()
    page.wait_for_url(re.compile(rf"/episodes/{episode_id}$"))
    expect(task_row(page, "Need to Know notification").locator(".govuk-tag")).to_have_text(
        "Overdue"
    )
    returned = datetime.now(UTC) - timedelta(minutes=30)
    page.get_by_label("When did the child return or was found?").fill(local_input(returned))
    page.get_by_label("Returned of their own accord").check()
    page.get_by_role("button", name="Record return").click()
    assert "The 72-hour return interview clock has started" in success_banner(page)

    page.goto("/manage/")
    expect(card(page, NEW_CHILD, "Need to Know notification")).to_have_count(0)
    # Missing for more than 24 hours: the intervention meeting is still to hold after the
    # return. Back before 72 hours: the two strategy meetings are no longer raised at all.
    assert cards_of(page, NEW_CHILD) == ["Intervention meeting"]
    assert escalations_count(page) == before - 3
    clean(page)

    page.goto(f"/episodes/{episode_id}")
    row = task_row(page, "Need to Know notification")
    expect(row.locator(".govuk-tag")).to_have_text("Closed")
    expect(row).to_contain_text(f"No longer needed: the child came back on {_shown(returned)}.")
    expect(task_row(page, "Intervention meeting").locator(".govuk-tag")).to_have_text("Overdue")
    clean(page)
    assert page.errors == []


def test_a_second_record_from_a_page_opened_earlier_says_it_was_already_recorded(
    desktop, chromium, esc_server
):
    # Two managers (here one manager in two windows) open Noah's overdue intervention meeting
    # (demo: missing for 30 hours last week); the first records it, then the second sends theirs.
    first, second = desktop, open_page(chromium, esc_server["url"], DESKTOP)
    try:
        for page in (first, second):
            sign_in(page, "manager@demo.test", reuse=True)
            page.goto("/manage/")
            card(page, NOAH, "Intervention meeting").get_by_role(
                "link", name=re.compile(r"^Record action")
            ).click()
            expect(
                page.get_by_role("heading", level=1, name="Intervention meeting")
            ).to_be_visible()
        held = datetime.now(UTC) - timedelta(hours=3)
        for page, who in ((first, "First manager's list"), (second, "Second manager's list")):
            page.get_by_label("When was it held?").fill(local_input(held))
            page.get_by_label("Who attended").fill(who)
            page.get_by_label("Outcome and actions agreed").fill(f"Outcome from the {who}")
        first.get_by_role("button", name="Record action").click()
        first.wait_for_url(re.compile(r"/manage/$"))
        assert "Intervention meeting: recorded" in success_banner(first)

        with second.expect_response(lambda r: r.request.method == "POST") as sent:
            second.get_by_role("button", name="Record action").click()
        assert sent.value.status == 422  # refused, as it should be ...
        # ... saying why.
        expect(second.locator(".govuk-error-summary")).to_contain_text(
            "What was done is already recorded", timeout=3_000
        )
        # What the second manager typed is kept, and what the first recorded is shown.
        expect(second.get_by_label("Who attended")).to_have_value("Second manager's list")
        expect(second.get_by_text("First manager's list", exact=True)).to_be_visible()
    finally:
        second.context.close()
