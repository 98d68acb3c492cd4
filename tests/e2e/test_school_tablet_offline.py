"""A school's designated safeguarding lead on a tablet (820x1180) with no signal, end to end.

The DSL sets up field mode while online, then loses signal in the morning: takes the register
for two pupils (one with no reason yet, one N), sees their follow-ups open with the timeline
counted in the school's own calendar on the tablet, logs an enquiry, answers the always-refer
checklist (a looked-after pupil: referral due today) and records the referral, marks the
Education Welfare Service contacted, and reports the other pupil missing during the school day.
Nothing typed is readable in anything the browser keeps. Signal returns: everything is sent
once, the authority has the episode, and the pupil's screen shows the server's copy. Then a
follow-up ended on the web while the tablet had no signal: the tablet's entry for it is refused
in the server's words, shown on the pupil, and let go.

Its own server: what the DSL records must not change the demo school the other tests follow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    clean,
    demo_instance,
    instance_app,
    local_input,
    sign_in,
    start_server,
    stop_server,
)
from tests.e2e.netcut import NetCut, offline, online
from tests.e2e.storage import readable
from tests.e2e.test_school_tablet import TABLET

PASSPHRASE = "blue door by the hall"
CANARY = "Canary-Wren-4471"


def _end_followup_of(first_name):
    """What another DSL does on the web page: end the pupil's open follow-up."""
    from sqlalchemy import select

    from webapp.children.models import Child
    from webapp.db_types import utcnow
    from webapp.extensions import db
    from webapp.schools.absence_models import FollowUp, FollowUpStatus

    child = db.session.scalars(select(Child).where(Child.first_name == first_name)).one()
    followup = db.session.scalars(
        select(FollowUp).where(FollowUp.child_id == child.id, FollowUp.status == "open")
    ).one()
    followup.status = FollowUpStatus.CLOSED
    followup.closed_reason = "other"
    followup.closed_at = utcnow()
    db.session.commit()


@pytest.fixture(scope="module")
def school_server(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "e2e-school-offline")
    proc, base = start_server(instance, env)
    yield {"url": base, "env": env}
    stop_server(proc)


@pytest.fixture
def net(school_server):
    relay = NetCut(int(school_server["url"].rsplit(":", 1)[1]))
    yield relay
    relay.close()


def test_a_dsl_follows_up_absences_with_no_signal(chromium, school_server, net):
    context = chromium.new_context(base_url=net.url, **TABLET)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    status = page.locator("#hw-field-status")

    sign_in(page, "dsl@demo.test")
    page.goto("/app/")
    page.get_by_label("Offline passphrase").fill(PASSPHRASE)
    page.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    page.get_by_role("button", name="Set passphrase").click()
    expect(page.get_by_role("heading", name="Your school")).to_be_visible()
    expect(status).to_contain_text("Last synced")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    # The demo's follow-up of Tyler is listed; the pupils with nothing open are not.
    followed = page.get_by_role("list", name="Pupils being followed up")
    expect(followed.get_by_role("link", name="Tyler Grant")).to_be_visible()
    expect(followed.get_by_role("link", name="Mia Cole")).to_have_count(0)
    clean(page)

    # No signal from here: the morning register follow-up.
    offline(context, net)
    page.get_by_role("button", name="Take the register").click()
    expect(page.get_by_role("heading", name="Morning register follow-up")).to_be_visible()
    page.get_by_label("Morning").check()
    page.get_by_label("Mia Cole").select_option("")  # no reason yet
    page.get_by_label("Ruby Ellis").select_option("N")
    clean(page)
    page.get_by_role("button", name="Save the register").click()
    expect(followed.get_by_role("link", name="Mia Cole")).to_be_visible()
    expect(followed.get_by_role("link", name="Ruby Ellis")).to_be_visible()
    expect(status).to_contain_text("2 not yet sent")

    # Mia's follow-up, opened on the tablet: the timeline counted here in school days.
    followed.get_by_role("link", name="Mia Cole").click()
    expect(page.get_by_role("heading", name="Mia Cole", level=1)).to_be_visible()
    expect(page.get_by_text("Open since")).to_contain_text("school day 1")
    expect(page.get_by_role("cell", name="Contact the parents or carers")).to_be_visible()
    clean(page)

    page.get_by_role("button", name="Log an enquiry").click()
    expect(page.get_by_role("heading", name="Log an enquiry")).to_be_visible()
    page.get_by_role("button", name="Save").click()  # nothing chosen: refused, on the tablet
    expect(page.locator(".govuk-error-summary")).to_contain_text("Choose the kind of contact")
    page.get_by_label("Call to parent or carer").check()
    page.get_by_label("When").fill(local_input(datetime.now(UTC) - timedelta(minutes=20)))
    page.get_by_label("What came of it").fill(f"No answer, left a message {CANARY}")
    clean(page)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"No answer, left a message {CANARY}")).to_be_visible()

    # The always-refer checklist: looked after is already yes, so a referral is due today.
    page.get_by_role("button", name="Always-refer checklist").click()
    expect(page.get_by_role("heading", name="Always-refer checklist")).to_be_visible()
    for group in page.locator("fieldset").all()[:7]:
        if not group.locator("input:checked").count():
            group.get_by_label("No").check()
    clean(page)
    page.get_by_role("button", name="Save the answers").click()
    expect(page.get_by_text("Refer today to children's social care or the police")).to_be_visible()
    page.get_by_role("button", name="Record the referral").click()
    page.get_by_label("Children's social care").check()
    page.get_by_label("Their reference (if given)").fill("CSC-4471")
    clean(page)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("reference CSC-4471")).to_be_visible()
    ews = page.get_by_role("button", name="Record: Education Welfare Service contacted")
    ews.click()
    expect(ews).to_have_count(0)
    expect(status).to_contain_text("6 not yet sent")
    clean(page)

    # Ruby goes missing during the school day.
    page.get_by_role("link", name="Back").click()
    followed.get_by_role("link", name="Ruby Ellis").click()
    page.get_by_role("button", name="Report missing during the school day").click()
    page.get_by_label("When were they last seen?").fill(
        local_input(datetime.now(UTC) - timedelta(minutes=40))
    )
    page.get_by_label("What they were wearing").fill(f"School uniform, black coat {CANARY}")
    clean(page)
    page.get_by_role("button", name="Report missing").click()
    expect(page.get_by_text("Reported missing from school")).to_be_visible()
    expect(status).to_contain_text("7 not yet sent")

    # A pupil new to the school: added here, and absent at once, with no signal.
    page.get_by_role("link", name="Back").click()
    page.get_by_role("button", name="Find a pupil").click()
    page.get_by_role("link", name="Add a pupil").click()
    expect(page.get_by_role("heading", name="Add a pupil")).to_be_visible()
    page.get_by_label("First name").fill("Wilhelmina")
    page.get_by_label("Last name").fill("Ashdown")
    page.get_by_label("Date of birth").fill("2014-03-27")
    page.get_by_label("Female").check()
    page.get_by_label("Unique pupil number (UPN)").fill("P555555555556")  # a typing slip
    page.get_by_label("Year group").select_option("7")
    clean(page)
    page.get_by_role("button", name="Add pupil").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("first letter does not match")
    expect(page.get_by_label("First name")).to_have_value("Wilhelmina")  # nothing lost
    page.get_by_label("Unique pupil number (UPN)").fill("P555555555555")
    page.get_by_role("button", name="Add pupil").click()
    expect(page.get_by_role("heading", name="Wilhelmina Ashdown", level=1)).to_be_visible()
    page.get_by_role("button", name="Record an absence").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Open since")).to_contain_text("school day 1")
    expect(status).to_contain_text("9 not yet sent")

    for phrase in (CANARY, "Mia Cole", "CSC-4471", "Ruby", "Wilhelmina"):
        assert readable(page, phrase) == [], phrase

    # Signal again: everything is sent, once, and the screens show the server's copy.
    online(context, net)
    expect(status).not_to_contain_text("not yet sent", timeout=30_000)
    expect(status).to_contain_text("Last synced")
    # The new pupil's screen is now the server's copy, under the same id.
    expect(page.get_by_role("heading", name="Wilhelmina Ashdown", level=1)).to_be_visible()
    expect(page.locator(".hw-waiting")).to_have_count(0)
    page.get_by_role("link", name="Back").click()
    followed.get_by_role("link", name="Ruby Ellis").click()
    expect(page.get_by_text("The authority has the report.")).to_be_visible()
    expect(page.locator(".hw-waiting")).to_have_count(0)

    # Meanwhile on the web Mia's follow-up is ended; the tablet, with no signal, does not know
    # and records her facts. The server refuses it in words, and the DSL lets it go.
    offline(context, net)
    with instance_app(school_server["env"]).app_context():
        _end_followup_of("Mia")
    page.get_by_role("link", name="Back").click()
    followed.get_by_role("link", name="Mia Cole").click()
    page.get_by_role("link", name="Illness and whereabouts").click()
    page.get_by_label("Illness expected to reach 15 school days").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Mia Cole", level=1)).to_be_visible()
    online(context, net)
    expect(status).to_contain_text("1 needs attention", timeout=30_000)
    problem = page.locator(".govuk-error-summary")
    expect(problem).to_contain_text("This follow-up is closed")
    clean(page)
    problem.get_by_role("button", name="Remove it from this tablet").click()
    expect(status).not_to_contain_text("attention")
    expect(page.get_by_text("Closed")).to_be_visible()
    assert errors == []
    context.close()

    from sqlalchemy import func, select

    from webapp.children.models import Child
    from webapp.episodes.models import Episode
    from webapp.extensions import db
    from webapp.schools.absence_models import (
        Absence,
        Enquiry,
        FollowUp,
        Referral,
        SchoolEntry,
        SchoolNotification,
    )

    with instance_app(school_server["env"]).app_context():
        mia = db.session.scalars(select(Child).where(Child.first_name == "Mia")).one()
        ruby = db.session.scalars(select(Child).where(Child.first_name == "Ruby")).one()
        assert db.session.scalar(select(func.count()).select_from(SchoolEntry)) == 9
        added = db.session.scalars(select(Child).where(Child.upn == "P555555555555")).one()
        assert added.first_name == "Wilhelmina"
        assert db.session.scalars(select(FollowUp).where(FollowUp.child_id == added.id)).one()
        followup = db.session.scalars(select(FollowUp).where(FollowUp.child_id == mia.id)).one()
        (enquiry,) = db.session.scalars(
            select(Enquiry).where(Enquiry.followup_id == followup.id)
        ).all()
        assert enquiry.outcome.endswith(CANARY)
        (referral,) = db.session.scalars(
            select(Referral).where(Referral.followup_id == followup.id)
        ).all()
        assert referral.referred_to == "social_care" and referral.reference == "CSC-4471"
        kinds = set(
            db.session.scalars(
                select(SchoolNotification.kind).where(SchoolNotification.child_id == mia.id)
            )
        )
        assert kinds == {"ews_day3", "referral"}
        codes = db.session.scalars(select(Absence.code).where(Absence.child_id == ruby.id)).all()
        assert codes == ["N"]
        (missing,) = db.session.scalars(
            select(Episode).where(Episode.child_id == ruby.id, Episode.status == "missing")
        ).all()
        assert missing.missing_from == "school"
        assert missing.report["clothing"].endswith(CANARY)
