"""Every kind of escalation closed by its owner in Debian's Chromium (issue 12's "Done when").

tests/e2e/test_escalations.py closes an intervention meeting from the manager's page and the
social worker's visit on a phone; a Need to Know there closes itself on the return. Here each
other kind is recorded as a person would: the owner signs in (the manager, or the child's IRO),
finds the task where it is listed (the manager's "Escalations to act on", or the episode page),
presses "Record action", fills the form by its labels and sends it. The task then leaves the
open list and the episode page says what was done and when; the form page is axe-clean. A kind
whose note must say why (the team manager's agreed exception to the visit, a panel referral
considered and not made) is first sent without one: refused beside the field, what was typed
kept. The IRO records the care plan review on a phone. The Assistant Director (a senior
manager: told, not an owner) gets 404 on a Record action address.

Its own server: demo data plus three children made to measure (webapp/deadlines.py says why
each raises what), so what is recorded here changes no other test's escalations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
from webapp import deadlines
from webapp.episodes.tasks import FORMS

MANAGER, IRO, AD = "manager@demo.test", "iro@demo.test", "ad@demo.test"

# Made-up children of the demo authority, with the demo social worker and IRO:
# - "long": not looked after, missing for 8 days, once before 60 days ago: the Need to Know,
#   both strategy meetings and a repeat-episode referral are the manager's to record.
# - "kent": looked after, flagged as trafficked, missing for 31 days: Kent's missing-from-care
#   meeting, the Assistant Director and the Lead Member told, the first monthly meeting (the
#   second is upcoming), and the National Referral Mechanism referral.
# - "repeat": looked after, a tenth episode in 90 days, back 2 hours ago: the IRO's second-stage
#   meeting and care plan review, the manager's repeat-episode step and (the social worker
#   unable) the visit as an agreed exception.
CHILDREN = {
    "long": ("Ember", "Rushworth", False),
    "kent": ("Tamsin", "Greaveley", True),
    "repeat": ("Rory", "Penhallow", True),
}


@pytest.fixture(scope="module")
def kinds_server(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "e2e-escalation-kinds")
    from sqlalchemy import select

    from tests import factories
    from webapp.accounts.models import Organisation, OrgKind, User
    from webapp.children.models import LegalStatus
    from webapp.extensions import db

    ids: dict[str, str] = {}
    with instance_app(env).app_context():

        def demo_user(email):
            return db.session.scalars(select(User).where(User.email == email)).one()

        sw, iro = demo_user("sw@demo.test"), demo_user(IRO)
        la = db.session.scalars(
            select(Organisation).where(
                Organisation.kind == OrgKind.LOCAL_AUTHORITY,
                Organisation.name == "Northbridge Council",
            )
        ).one()
        children = {}
        for key, (first, last, looked_after) in CHILDREN.items():
            children[key] = factories.child(
                la,
                first_name=first,
                last_name=last,
                legal_status=LegalStatus.LOOKED_AFTER if looked_after else LegalStatus.NONE,
                social_worker_id=sw.id,
                iro_id=iro.id if looked_after else None,
                flag_trafficking=key == "kent",
            )
            ids[key] = children[key].id
        factories.episode(children["long"], last_seen_hours_ago=60 * 24, missing_hours=5)
        long_ = factories.episode(children["long"], last_seen_hours_ago=8 * 24, missing_hours=None)
        kent = factories.episode(children["kent"], last_seen_hours_ago=31 * 24, missing_hours=None)
        # Nine in the 90 days before the latest: the tenth is "more than 9".
        for days in range(81, 0, -9):
            factories.episode(children["repeat"], last_seen_hours_ago=days * 24, missing_hours=2)
        repeat = factories.episode(children["repeat"], last_seen_hours_ago=10, missing_hours=8)
        db.session.commit()
        ids.update(long_episode=long_.id, kent_episode=kent.id, repeat_episode=repeat.id)
    proc, base = start_server(instance, env)
    yield {"url": base, "ids": ids}
    stop_server(proc)


@dataclass(frozen=True)
class Case:
    code: str
    kind: str  # the label of the radio chosen
    owner: str
    child: str  # a key of CHILDREN
    who: str
    note: str | None  # None: left empty (telling someone needs no note)
    refused_first: bool = False  # the note must say why: sent without it first
    phone: bool = False

    @property
    def title(self) -> str:
        return deadlines.TITLES[deadlines.base_code(self.code)]


CASES = [
    Case(
        "need_to_know",
        "Need to Know notification sent",
        MANAGER,
        "long",
        "Rhiannon Voss (Assistant Director) and the service manager, by email",
        None,
    ),
    Case(
        "urgent_strategy_meeting",
        "Meeting held",
        MANAGER,
        "long",
        "DS Hale (police), Alex Brennan (social worker), the school's DSL",
        "Police to revisit known addresses; daily call between police and social care.",
    ),
    Case(
        "strategy_meeting",
        "Meeting held",
        MANAGER,
        "long",
        "Principal manager (chair), DI Moss (police), Alex Brennan (social worker)",
        "Section 47 enquiries started; publicity appeal agreed with the police.",
    ),
    Case(
        "repeat_episodes",
        "Referred to the SEARCH or exploitation panel",
        MANAGER,
        "long",
        "Northbridge exploitation panel",
        "Referred for the next panel; independent interview offered on return.",
    ),
    Case(
        "repeat_episodes",
        "Considered: no referral",
        MANAGER,
        "repeat",
        "Team manager",
        "Already known to the panel this month; no new information to refer.",
        refused_first=True,
    ),
    Case(
        "lac_second_stage_intervention",
        "Meeting held",
        IRO,
        "repeat",
        "Grace Adeyemi (IRO, chair), Alex Brennan (social worker), the foster carer",
        "Placement stability meeting within a week; the carer's evening plan revised.",
    ),
    Case(
        "lac_visit",
        "Team manager agreed an exception",
        MANAGER,
        "repeat",
        "Team manager",
        "The social worker is on leave; the carer's supervising worker sees the child alone.",
        refused_first=True,
    ),
    Case(
        "lac_missing_meeting",
        "Meeting held",
        MANAGER,
        "kent",
        "Alex Brennan (social worker), the placement's manager, DS Hale (police)",
        "Daily contact with the police; the placement keeps her room.",
    ),
    Case(
        "lac_ad_told",
        "Assistant Director told",
        MANAGER,
        "kent",
        "The team manager, by phone",
        None,
    ),
    Case(
        "lac_lead_member_told",
        "Lead Member told",
        MANAGER,
        "kent",
        "The Assistant Director, at the weekly briefing",
        "The Lead Member asked to be told of any news the same day.",
    ),
    Case(
        "nrm_referral",
        "National Referral Mechanism referral made",
        MANAGER,
        "kent",
        "Northbridge Council (first responder)",
        "Reference NRM-0042; decision awaited.",
    ),
    Case(
        "lac_monthly_meeting:1",
        "Meeting held",
        MANAGER,
        "kent",
        "Alex Brennan (social worker), DS Hale (police), Grace Adeyemi (IRO)",
        "Search continues; the next review in a month if she is still missing.",
    ),
    Case(
        "care_plan_review",
        "Considered: the plan stands",
        IRO,
        "repeat",
        "Grace Adeyemi (IRO), Alex Brennan (social worker), the child",
        "The placement is settled; the episodes follow one friendship, now in the plan.",
        refused_first=True,
        phone=True,
    ),
]


def worklist(page):
    """The cards under the manager's "Escalations to act on"."""
    return page.locator("h2#escalations + ul.hw-card-list > li.hw-card")


def record_link(page, episode_id: str, code: str):
    """A task's Record action link, wherever it is listed (its address names the task)."""
    return page.locator(f"a[href^='/episodes/{episode_id}/escalations/{code}']").filter(
        has_text=re.compile(r"^Record action")
    )


def task_row(page, case: Case):
    """The task's row on the episode page (a monthly meeting's by its month)."""
    rows = page.locator("li.hw-escalation").filter(
        has=page.locator("strong", has_text=re.compile(rf"^{re.escape(case.title)}$"))
    )
    if ":" in case.code:
        days = 30 * int(case.code.split(":")[1])
        rows = rows.filter(has_text=f"still missing after {days} days")
    return rows


def shown(dt: datetime) -> str:
    """An instant as the pages show it (the local_time filter), to the minute typed."""
    from webapp.templating import local_time

    return local_time(dt.replace(second=0, microsecond=0))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}-{c.child}" for c in CASES])
def test_each_kind_is_closed_by_its_owner_where_it_is_listed(chromium, kinds_server, case):
    ids = kinds_server["ids"]
    episode_id = ids[f"{case.child}_episode"]
    page = open_page(chromium, kinds_server["url"], PHONE if case.phone else DESKTOP)
    try:
        _record(page, ids, episode_id, case)
    finally:
        page.context.close()


def _record(page, ids, episode_id, case: Case):
    sign_in(page, case.owner, reuse=True)  # the manager's own browser, case after case
    form = FORMS[deadlines.base_code(case.code)]
    if case.owner == MANAGER:
        # Listed on the manager's page, where the manager acts on it.
        page.goto("/manage/")
        expect(record_link(worklist(page), episode_id, case.code)).to_have_count(1)
        before = worklist(page).count()
        record_link(worklist(page), episode_id, case.code).click()
        listed_at = re.compile(r"/manage/$")
    else:
        # The IRO has no manager's page: the child, then the episode, lists the task.
        page.goto(f"/children/{ids[case.child]}")
        page.locator(f"main a[href$='/episodes/{episode_id}']").first.click()
        page.wait_for_url(re.compile(rf"/episodes/{episode_id}$"))
        row = task_row(page, case)
        expect(row).to_have_count(1)
        expect(row.locator(".govuk-tag")).not_to_have_text("Done")
        clean(page)
        record_link(row, episode_id, case.code).click()
        listed_at = re.compile(rf"/episodes/{episode_id}$")

    expect(page.get_by_role("heading", level=1, name=case.title)).to_be_visible()
    expect(page).to_have_title(f"Record action: {case.title} \u2013 Homeward")
    clean(page)

    done = datetime.now(UTC) - timedelta(hours=1)
    page.get_by_label(case.kind, exact=True).check()
    page.get_by_label(form.when_label, exact=True).fill(local_input(done))
    page.get_by_label(form.who_label, exact=True).fill(case.who)
    if case.refused_first:
        # The reason is what this kind is about: refused without it, beside its field.
        page.get_by_role("button", name="Record action").click()
        expect(page).to_have_title(re.compile(r"^Error: Record action"))
        note_error = page.locator("#note-error")
        expect(note_error).to_contain_text(f"Enter {form.note_label.lower()}")
        expect(page.locator(".govuk-error-summary a[href='#note']")).to_be_visible()
        expect(page.get_by_label(case.kind, exact=True)).to_be_checked()
        expect(page.get_by_label(form.when_label, exact=True)).to_have_value(local_input(done))
        expect(page.get_by_label(form.who_label, exact=True)).to_have_value(case.who)
        clean(page)
    if case.note is not None:
        page.get_by_label(form.note_label, exact=True).fill(case.note)
    page.get_by_role("button", name="Record action").click()
    page.wait_for_url(listed_at)
    assert f"{case.title}: recorded. The task is closed." in success_banner(page)

    # Gone from the open list it was on.
    if case.owner == MANAGER:
        expect(record_link(worklist(page), episode_id, case.code)).to_have_count(0)
        assert worklist(page).count() == before - 1
        if case.code == "lac_monthly_meeting:1":
            # Each month's meeting is a task of its own: the next month's stays, to plan.
            following = worklist(page).filter(
                has=record_link(page, episode_id, "lac_monthly_meeting:2")
            )
            expect(following).to_contain_text("Upcoming")
            expect(following).to_contain_text("still missing after 60 days")
        page.goto(f"/episodes/{episode_id}")
    # The episode page: done, saying what was done and when, with nothing left to record.
    row = task_row(page, case)
    expect(row).to_have_count(1)
    expect(row.locator(".govuk-tag")).to_have_text("Done")
    expect(row).to_contain_text(f"{case.kind}, {shown(done)}.")
    expect(record_link(row, episode_id, case.code)).to_have_count(0)
    assert page.errors == []


def test_the_assistant_director_is_told_but_records_nothing(chromium, kinds_server):
    """A senior manager sees the child's episode but owns none of its tasks: no Record action,
    and its address answers 404, as if it were not there."""
    ids = kinds_server["ids"]
    page = open_page(chromium, kinds_server["url"], DESKTOP)
    try:
        sign_in(page, AD)
        for episode_id, code in (
            (ids["long_episode"], "need_to_know"),
            (ids["kent_episode"], "lac_ad_told"),
        ):
            response = page.goto(f"/episodes/{episode_id}")
            assert response is not None and response.status == 200
            expect(page.locator("li.hw-escalation").first).to_be_visible()
            expect(page.get_by_role("link", name=re.compile(r"^Record action"))).to_have_count(0)
            response = page.goto(f"/episodes/{episode_id}/escalations/{code}")
            assert response is not None and response.status == 404, code
        assert page.errors == []
    finally:
        page.context.close()
