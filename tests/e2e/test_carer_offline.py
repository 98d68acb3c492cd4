"""A carer's phone with no signal, end to end, in Debian's Chromium at 390x844.

The foster carer sets up field mode while online, then loses signal: the child is not back, and
the carer reports it, sees the plan's next step with the time left counted on the phone, keeps
the standing profile with a new photo (a refused file keeps what was typed), opens the police
handover; signal returns and everything is sent once. Then the child comes back (again with no
signal) and reporting back, with where they were found, starts the 72-hour clock on the server.
Every screen is axe-clean, and neither the canary typed nor the child's name is readable in
anything the browser keeps.

Its own server (demo data plus a risk plan for the demo carer's child): what it reports must not
change the children the other end-to-end tests follow.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    PHONE,
    axe_violations,
    demo_instance,
    instance_app,
    local_input,
    sign_in,
    start_server,
    stop_server,
)
from tests.e2e.netcut import NetCut, offline, online
from tests.e2e.storage import readable

PASSPHRASE = "green gate by the river"
CHILD = "Mia Cole"  # demo data: looked after, placed with carer@demo.test, 16
CANARY = "Canary-Heron-3307"
PHOTO_CANARY = "Canary-Photo-9902"


def _mia(db):
    from sqlalchemy import select

    from webapp.children.models import Child

    return db.session.scalars(select(Child).where(Child.first_name == "Mia")).one()


@pytest.fixture(scope="module")
def carer_server(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "e2e-carer")
    # The plan agreed with the social worker: report to police 6 hours after due back.
    from webapp.carers.models import RiskPlan
    from webapp.extensions import db

    with instance_app(env).app_context():
        mia = _mia(db)
        plan = RiskPlan(
            id=mia.id,
            report_after_hours=6,
            content={
                "contacts": [{"name": "Aunt Jo", "relationship": "Aunt", "phone": "07700 900456"}],
                "addresses": [
                    {
                        "address": "12 Mill Lane",
                        "risk": "high",
                        "action": "Call police",
                        "max_wait_hours": 1,
                    }
                ],
            },
        )
        db.session.merge(plan)  # the demo's own plan for Mia, if it has one, made this one
        db.session.commit()
    proc, base = start_server(instance, env)
    yield {"url": base, "instance": instance, "env": env}
    stop_server(proc)


@pytest.fixture
def net(carer_server):
    relay = NetCut(int(carer_server["url"].rsplit(":", 1)[1]))
    yield relay
    relay.close()


def jpeg_with_exif(path):
    from PIL import Image

    image = Image.new("RGB", (1600, 1200), (40, 90, 160))
    exif = Image.Exif()
    exif[0x010E] = PHOTO_CANARY
    image.save(path, "JPEG", exif=exif)
    return path


def clean(page):
    assert axe_violations(page) == []


def test_a_carer_reports_missing_and_back_with_no_signal(chromium, carer_server, net, tmp_path):
    context = chromium.new_context(base_url=net.url, **PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    status = page.locator("#hw-field-status")

    sign_in(page, "carer@demo.test")
    page.goto("/app/")
    page.get_by_label("Offline passphrase").fill(PASSPHRASE)
    page.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    page.get_by_role("button", name="Set passphrase").click()
    expect(page.get_by_role("heading", name="My children")).to_be_visible()
    expect(status).to_contain_text("Last synced")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    clean(page)

    # No signal from here.
    offline(context, net)
    page.get_by_role("link", name=CHILD).click()
    expect(page.get_by_role("heading", name=CHILD)).to_be_visible()
    expect(page.get_by_text("No report is open for this child.")).to_be_visible()
    clean(page)
    page.get_by_role("button", name="Report missing").click()
    expect(page.get_by_role("heading", name="Report missing")).to_be_visible()
    # 16, and a plan with 6 hours: not "report to police now" from the first screen.
    expect(page.get_by_text("Report to police now")).to_have_count(0)
    now = datetime.now(UTC)
    page.get_by_label("Not back when expected").check()
    page.get_by_label("When were they last seen?").fill(local_input(now - timedelta(hours=4)))
    page.get_by_label("When were they due back?").fill(local_input(now - timedelta(hours=1)))
    page.get_by_label("What they were wearing").fill(f"Green parka {CANARY}")
    clean(page)
    # Called away mid-report: what was typed is kept on the phone (not sent) and comes back.
    page.get_by_role("link", name="Back").click()
    page.get_by_role("button", name="Carry on with the report you started").click()
    expect(page.get_by_label("What they were wearing")).to_have_value(f"Green parka {CANARY}")
    expect(page.get_by_label("Not back when expected")).to_be_checked()
    expect(status).not_to_contain_text("not yet sent")
    page.get_by_role("button", name="Report missing").click()

    # The child's screen: the plan's next step, the time left counted here.
    expect(page.get_by_role("heading", name=CHILD)).to_be_visible()
    expect(page.get_by_text("Not back when expected")).to_be_visible()
    expect(page.get_by_text("Report to police by")).to_contain_text("left")
    expect(status).to_contain_text("1 not yet sent")
    clean(page)

    # The police handover, from what the phone holds.
    page.get_by_role("link", name="Police handover").click()
    expect(page.get_by_role("heading", name="Police handover")).to_be_visible()
    expect(page.get_by_text(f"Green parka {CANARY}")).to_be_visible()
    expect(page.get_by_text("Aunt Jo")).to_be_visible()
    expect(page.get_by_text("12 Mill Lane")).to_be_visible()
    clean(page)
    page.go_back()

    # The standing profile: a file that is not a photo is refused, what was typed stays.
    page.get_by_role("link", name="Standing profile and photo").click()
    expect(page.get_by_role("heading", name="Standing profile")).to_be_visible()
    page.get_by_label("Description").fill(f"Slim, long brown hair {CANARY}")
    not_a_photo = tmp_path / "notes.txt"
    not_a_photo.write_text("not a photo")
    page.get_by_label("Choose a new photo").set_input_files(str(not_a_photo))
    expect(page.locator("#photo-file-error")).to_contain_text("not a photo Homeward can use")
    expect(page.get_by_label("Description")).to_have_value(f"Slim, long brown hair {CANARY}")
    page.get_by_label("Choose a new photo").set_input_files(str(jpeg_with_exif(tmp_path / "m.jpg")))
    expect(page.get_by_alt_text(f"New photo of {CHILD}")).to_be_visible()
    clean(page)
    page.get_by_role("button", name="Save the profile").click()
    expect(page.get_by_role("heading", name=CHILD)).to_be_visible()
    expect(status).to_contain_text("2 not yet sent")

    # Nothing readable on the phone: not the report, not the profile, not the photo's caption.
    for phrase in (CANARY, PHOTO_CANARY, CHILD, "Mill Lane"):
        assert readable(page, phrase) == [], phrase

    # Signal again: both are sent, once.
    online(context, net)
    expect(status).not_to_contain_text("not yet sent", timeout=30_000)
    expect(status).to_contain_text("Last synced")

    # The child comes back, again out of signal.
    offline(context, net)
    page.get_by_role("button", name="Report back").click()
    expect(page.get_by_role("heading", name="Report back")).to_be_visible()
    page.get_by_label("When did they come back, or when were they found?").fill(
        local_input(datetime.now(UTC) - timedelta(minutes=5))
    )
    page.get_by_label("Came back of their own accord").check()
    # Where, in the server's words (the field schema brings them): counted by the figures.
    where = page.get_by_role(
        "group", name="Where were they found, or where did they come back from?"
    )
    where.get_by_label("A friend's home").check()
    page.get_by_label("First welfare observations (injuries, intoxication, how they seem)").fill(
        f"Cold and tired {CANARY}"
    )
    clean(page)
    page.locator("#hw-field-form").get_by_role("button", name="Report back").click()
    expect(page.get_by_role("heading", name=CHILD)).to_be_visible()
    expect(page.get_by_text("No report is open for this child.")).to_be_visible()
    online(context, net)
    expect(status).not_to_contain_text("not yet sent", timeout=30_000)
    assert errors == []
    context.close()

    # The server has each once, sealed, and the return started the 72-hour clock.
    from sqlalchemy import select, text

    from webapp.carers.models import ChildProfile
    from webapp.episodes.models import Episode
    from webapp.extensions import db
    from webapp.interviews import workflow
    from webapp.interviews.models import Interview
    from webapp.reminders.models import Reminder

    with instance_app(carer_server["env"]).app_context():
        mia = _mia(db)
        reported = db.session.scalars(
            select(Episode).where(Episode.child_id == mia.id, Episode.reported_type == "not_back")
        ).all()
        assert len(reported) == 1
        episode = reported[0]
        assert episode.report["clothing"] == f"Green parka {CANARY}"
        assert episode.status == "returned" and episode.how_returned == "own_accord"
        assert episode.found_place == "friend"
        interview = db.session.scalars(
            select(Interview).where(
                Interview.child_id == mia.id, Interview.status.in_(workflow.OPEN_STATUSES)
            )
        ).one()
        assert episode in interview.episodes
        profile = db.session.get(ChildProfile, mia.id)
        assert profile.content["description"].startswith("Slim")
        import base64

        from PIL import Image

        photo = base64.b64decode(profile.photo)
        assert PHOTO_CANARY.encode() not in photo
        assert Image.open(io.BytesIO(photo)).size[0] <= 1024
        for table in ("episodes", "child_profiles", "sync_mutations", "audit_events"):
            rows = " ".join(str(r) for r in db.session.execute(text(f"SELECT * FROM {table}")))
            assert CANARY not in rows and PHOTO_CANARY not in rows, table
        for reminder in db.session.scalars(select(Reminder)):
            assert CANARY not in reminder.title + reminder.body
            assert "Mia" not in reminder.title + reminder.body


def test_a_carers_pages_online_are_axe_clean_on_a_phone(phone):
    """The web pages a carer uses online, at 390x844: the child's page, reporting missing, the
    standing profile, the risk plan, the police handover and an episode (what they noticed)."""
    sign_in(phone, "carer@demo.test")
    phone.get_by_role("link", name=CHILD).first.click()
    expect(phone.get_by_role("heading", name=CHILD)).to_be_visible()
    clean(phone)
    child_page = phone.url
    for link, heading in (
        ("Report missing", "Report missing"),
        ("Standing profile", "Profile for the police"),
        ("Risk assessment and action plan", "Risk assessment and action plan"),
        ("Police handover", "Police handover"),
    ):
        phone.goto(child_page)
        phone.locator("a", has_text=link).first.click()  # a link, or a link styled as a button
        expect(phone.get_by_role("heading", level=1)).to_contain_text(heading)
        clean(phone)
        # Nothing wider than the phone: no sideways scrolling.
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), link
    phone.goto(child_page)
    phone.locator(".hw-card-list").get_by_role("link").first.click()
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    clean(phone)
    assert phone.console_errors == []
