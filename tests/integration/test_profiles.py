"""The standing profile, its photo and the police handover, through the real HTTP stack.

Who may read and change it (the child's carer, social worker, a manager; everyone else 404),
what reaches the database (sealed, no EXIF), what the photo endpoint answers (no-store,
audited), what a refused photo does to the words typed beside it (kept), and what the police
handover shows.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import date, timedelta

import pillow_heif
import pytest
from PIL import ExifTags, Image
from sqlalchemy import select, text

from tests import factories
from tests.integration.helpers import fresh
from webapp import sealed
from webapp.accounts.models import OrgKind, Role
from webapp.audit import AuditEvent
from webapp.carers import photos, profiles
from webapp.carers.models import ChildProfile, RiskPlan
from webapp.carers.views import UPLOAD_LIMIT
from webapp.errors import NotAllowed
from webapp.extensions import db

CANARY = "Canary-3e9d-profile"
PHOTO_CANARY = "Canary-51b0-exif"


def _jpeg(size=(320, 240), *, exif_canary: str | None = None) -> bytes:
    out = io.BytesIO()
    save = {}
    if exif_canary:
        exif = Image.Exif()
        exif[ExifTags.Base.ImageDescription] = exif_canary
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (53.0, 32.0, 44.1),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (2.0, 37.0, 55.2),
        }
        save["exif"] = exif.tobytes()
    Image.new("RGB", size, (180, 40, 40)).save(out, format="JPEG", **save)
    data = out.getvalue()
    if exif_canary:
        assert exif_canary.encode() in data  # the check below can fail
    return data


def _file(data: bytes, name: str = "photo.jpg", mimetype: str = "image/jpeg"):
    return (io.BytesIO(data), name, mimetype)


def _form(**over) -> dict:
    data = {name: "" for name in profiles.PROFILE_FIELDS}
    data["review_due"] = ["", "", ""]  # day, month, year: three boxes of one name
    data.update(over)
    return data


@pytest.fixture
def world():
    """A child placed with a carer, allocated to a social worker, at a school, with a return
    interview allocated to a worker; and the people around who must not see the profile."""
    la = factories.local_authority()
    school = factories.organisation(OrgKind.SCHOOL, la)
    people = {
        "carer": factories.user(Role.CARER, authority=la),
        "social_worker": factories.user(Role.SOCIAL_WORKER, authority=la),
        "manager": factories.manager(la),
        "other_carer": factories.user(Role.CARER, authority=la),
        "other_social_worker": factories.user(Role.SOCIAL_WORKER, authority=la),
        "worker": factories.worker(la),
        "dsl": factories.user(Role.DSL, organisation_=school),
        "other_manager": factories.manager(),
        "admin": factories.user(Role.ADMIN, authority=la),
    }
    child = factories.child(
        la,
        carer_id=people["carer"].id,
        social_worker_id=people["social_worker"].id,
        school_id=school.id,
        first_name="Mirela",
        last_name="Okonkwo-Testfield",
    )
    factories.interview(worker_=people["worker"], child_=child)
    # Another child of the other carer: that carer does see a child, just not this one.
    factories.child(la, carer_id=people["other_carer"].id)
    db.session.commit()
    return child, people


def _profile(child) -> ChildProfile:
    db.session.expire_all()
    return db.session.get(ChildProfile, child.id)


@pytest.mark.parametrize("who", ["carer", "social_worker", "manager"])
def test_the_carer_social_worker_and_manager_read_and_save(as_user, world, who):
    child, people = world
    person = as_user(people[who])
    page = person.get(f"/children/{child.id}/profile")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<title>Profile for the police" in body
    assert "Okonkwo" not in body.split("</title>")[0]

    saved = person.post(
        f"/children/{child.id}/profile",
        data=_form(description=f"Tall, red coat ({who})", medication="Inhaler twice a day"),
    )
    assert saved.status_code == 302
    profile = _profile(child)
    assert profile.content["description"] == f"Tall, red coat ({who})"
    assert profile.content["medication"] == "Inhaler twice a day"
    assert profile.updated_by_id == people[who].id
    again = person.get(f"/children/{child.id}/profile").get_data(as_text=True)
    assert f"Tall, red coat ({who})" in html.unescape(again)
    assert person.get(f"/children/{child.id}/handover").status_code == 200


@pytest.mark.parametrize(
    "who", ["other_carer", "other_social_worker", "worker", "dsl", "other_manager", "admin"]
)
def test_everyone_else_gets_not_found(as_user, world, who):
    child, people = world
    profile = _profile(child)
    profile.content = {"description": CANARY}
    profile.photo = base64.b64encode(photos.process(_jpeg())).decode()
    db.session.commit()
    version = profile.version

    person = as_user(people[who])
    for url in ("profile", "profile/photo", "handover"):
        got = person.get(f"/children/{child.id}/{url}")
        assert got.status_code == 404, (who, url)
        assert CANARY not in got.get_data(as_text=True)
    refused = person.post(
        f"/children/{child.id}/profile",
        data=_form(description="Overwritten"),
    )
    assert refused.status_code == 404
    assert _profile(child).content["description"] == CANARY
    assert _profile(child).version == version


def test_the_dsl_and_worker_do_see_the_child_itself(as_user, world):
    # The 404s above are the profile's own rule, not the child being invisible to them.
    child, people = world
    for who in ("dsl", "worker"):
        assert as_user(people[who]).get(f"/children/{child.id}").status_code == 200, who


@pytest.mark.both_databases
def test_canaries_are_sealed_at_rest_and_gone_from_the_photo(as_user, world):
    child, people = world
    carer = as_user(people["carer"])
    saved = carer.post(
        f"/children/{child.id}/profile",
        data=_form(
            description=f"Description {CANARY}",
            associates=f"Associates {CANARY}",
            transport=f"Transport {CANARY}",
            photo=_file(_jpeg(exif_canary=PHOTO_CANARY), "IMG_0042.jpg"),
        ),
    )
    assert saved.status_code == 302

    # Nothing typed, and nothing from the photo's EXIF, is readable in any column.
    rows = db.session.execute(text("SELECT * FROM child_profiles")).mappings().all()
    assert rows
    for row in rows:
        for column, value in row.items():
            as_text = str(value)
            assert CANARY not in as_text, column
            assert PHOTO_CANARY not in as_text, column
    row = next(r for r in rows if r["id"] == child.id)
    assert row["content_enc"] and row["photo_enc"]
    # ... nor in the audit trail (ids and field names only).
    for event in db.session.scalars(select(AuditEvent).where(AuditEvent.child_id == child.id)):
        assert CANARY not in (event.detail or "")

    # The sealed photo opens only for its own row: it is the cleaned JPEG, no EXIF, no GPS.
    stored = base64.b64decode(sealed.unseal(row["photo_enc"], "child_profile", child.id, "photo"))
    assert PHOTO_CANARY.encode() not in stored
    assert dict(Image.open(io.BytesIO(stored)).getexif()) == {}

    served = carer.get(f"/children/{child.id}/profile/photo")
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert PHOTO_CANARY.encode() not in served.data
    assert b"Exif\x00\x00" not in served.data
    image = Image.open(io.BytesIO(served.data))
    assert image.format == "JPEG" and image.size == (320, 240)
    assert dict(image.getexif()) == {}

    # And the words are really there for the people allowed to read them.
    page = html.unescape(carer.get(f"/children/{child.id}/handover").get_data(as_text=True))
    assert f"Description {CANARY}" in page


def test_the_photo_is_no_store_private_and_audited(as_user, world):
    child, people = world
    carer = as_user(people["carer"])
    assert carer.get(f"/children/{child.id}/profile/photo").status_code == 404  # none yet
    carer.post(f"/children/{child.id}/profile", data=_form(photo=_file(_jpeg())))
    before = db.session.scalar(
        select(db.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.object_type == "child_photo", AuditEvent.child_id == child.id)
    )
    served = carer.get(f"/children/{child.id}/profile/photo")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    cache = [part.strip() for part in served.headers["Cache-Control"].split(",")]
    assert "no-store" in cache and "private" in cache
    assert "max-age" not in served.headers["Cache-Control"]
    assert "Okonkwo" not in served.headers.get("Content-Disposition", "")
    after = db.session.scalar(
        select(db.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.object_type == "child_photo", AuditEvent.child_id == child.id)
    )
    assert after == before + 1
    changed = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "child_profile",
            AuditEvent.action == "update",
            AuditEvent.child_id == child.id,
        )
    ).all()
    assert [e.detail for e in changed] == ["photo"]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (_file(b"\xff\xd8\xff" + b"\0" * photos.MAX_BYTES, "big.jpg"), photos.TOO_LARGE),
        # A GIF that says it is a JPEG: the content decides.
        ("gif", photos.NOT_A_PHOTO),
        (_file(b"%PDF-1.7\n...", "scan.pdf", "application/pdf"), photos.NOT_A_PHOTO),
    ],
)
def test_a_refused_photo_keeps_what_was_typed(as_user, world, upload, message):
    child, people = world
    if upload == "gif":
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, format="GIF")
        upload = _file(out.getvalue(), "photo.jpg", "image/jpeg")
    carer = as_user(people["carer"])
    typed = 'Black puffer jacket & "Nike" trainers <size 5>\nScar on left hand'
    answer = carer.post(
        f"/children/{child.id}/profile",
        data=_form(
            description=typed,
            phones="07700 900123",
            review_due=["1", "6", "2099"],
            photo=upload,
        ),
    )
    assert answer.status_code == 422
    body = answer.get_data(as_text=True)
    assert "<title>Error: Profile for the police" in body
    assert "govuk-error-summary" in body
    assert html.escape(message, quote=False) in body or message in html.unescape(body)
    assert 'href="#photo"' in body  # the summary takes the person to the file chooser
    page = html.unescape(body)
    assert typed in page
    assert "07700 900123" in page
    assert 'value="2099"' in body
    # Nothing was saved: the words wait for the person to choose another photo.
    profile = _profile(child)
    assert profile.content == {} and profile.photo_enc is None and profile.review_due is None


def test_a_body_beyond_the_upload_limit_is_refused_whole(as_user, world):
    child, people = world
    answer = as_user(people["carer"]).post(
        f"/children/{child.id}/profile",
        data=_form(photo=_file(b"\xff\xd8\xff" + b"\0" * UPLOAD_LIMIT, "huge.jpg")),
    )
    assert answer.status_code == 413


def test_a_photo_between_the_app_limit_and_8_mb_is_read(as_user, world, app):
    # The app's own limit (5 MiB, for sync) must not stop a phone's 6 MB photo here.
    assert app.config["MAX_CONTENT_LENGTH"] < 6 * 1024 * 1024 < photos.MAX_BYTES
    child, people = world
    padded = _jpeg() + b"\0" * (6 * 1024 * 1024)
    answer = as_user(people["carer"]).post(
        f"/children/{child.id}/profile", data=_form(photo=_file(padded))
    )
    assert answer.status_code == 302
    assert _profile(child).photo_enc is not None


def test_a_heic_from_an_iphone_is_taken_and_remove_takes_it_away(as_user, world):
    child, people = world
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (2000, 1500), (30, 60, 200)).save(out, format="HEIF", quality=60)
    carer = as_user(people["carer"])
    answer = carer.post(
        f"/children/{child.id}/profile",
        # Some browsers send HEIC as application/octet-stream: the content decides.
        data=_form(photo=_file(out.getvalue(), "IMG_0001.HEIC", "application/octet-stream")),
    )
    assert answer.status_code == 302
    served = carer.get(f"/children/{child.id}/profile/photo")
    assert Image.open(io.BytesIO(served.data)).size == (photos.MAX_SIDE, 768)
    page = carer.get(f"/children/{child.id}/profile").get_data(as_text=True)
    assert f'src="/children/{child.id}/profile/photo"' in page
    assert 'name="remove_photo"' in page

    removed = carer.post(f"/children/{child.id}/profile", data=_form(remove_photo="y"))
    assert removed.status_code == 302
    assert _profile(child).photo_enc is None
    assert carer.get(f"/children/{child.id}/profile/photo").status_code == 404


def test_too_long_text_and_a_past_review_date_are_refused_and_kept(as_user, world):
    child, people = world
    carer = as_user(people["carer"])
    answer = carer.post(
        f"/children/{child.id}/profile",
        data=_form(places="x" * (profiles.MAX_TEXT + 1), description="Kept words"),
    )
    assert answer.status_code == 422
    assert "Places the child goes must be 2000 characters or fewer" in answer.get_data(as_text=True)
    assert "Kept words" in answer.get_data(as_text=True)

    past = date.today() - timedelta(days=10)
    answer = carer.post(
        f"/children/{child.id}/profile",
        data=_form(
            description="Kept again",
            review_due=[str(past.day), str(past.month), str(past.year)],
        ),
    )
    assert answer.status_code == 422
    body = answer.get_data(as_text=True)
    assert "The review date must be today or in the future" in body
    assert "Kept again" in body
    assert _profile(child).content == {}

    future = date.today() + timedelta(days=180)
    answer = carer.post(
        f"/children/{child.id}/profile",
        data=_form(
            review_due=[str(future.day), str(future.month), str(future.year)],
        ),
    )
    assert answer.status_code == 302
    assert _profile(child).review_due == future


def test_the_handover_shows_the_child_profile_episode_and_plan(as_user, world):
    child, people = world
    profile = _profile(child)
    profile.content = {
        "description": "Slim, 5ft 4, shaved head",
        "phones": "07700 900456 (iPhone 12)",
        "medication": "Sertraline 50 mg each morning",
    }
    profile.photo = base64.b64encode(photos.process(_jpeg())).decode()
    episode = factories.episode(child, missing_hours=None, last_seen_hours_ago=3)
    episode.police_log_number = "LOG-2211-77"
    episode.report = {
        "where_last_seen": "Bus station, stand 4",
        "with_whom": "Two older boys",
        "clothing": "Grey hoodie, white trainers",
    }
    episode.circumstances_enc = sealed.seal(
        "Argued about phone time", "episode", episode.id, "circumstances"
    )
    # An earlier, closed episode: the open one is the one handed over.
    factories.episode(child, last_seen_hours_ago=300, missing_hours=5)
    plan = RiskPlan(id=child.id, report_after_hours=2)
    db.session.add(plan)
    plan.content = {
        "vulnerabilities": "Known to older males in the town centre",
        "contacts": [{"name": "Aunt Bea", "relationship": "Aunt", "phone": "07700 900789"}],
        "addresses": [
            {
                "address": "12 Mill Lane",
                "risk": "high",
                "action": "Call police",
                "max_wait_hours": 0,
            }
        ],
    }
    db.session.commit()

    carer = as_user(people["carer"])
    answer = carer.get(f"/children/{child.id}/handover")
    assert answer.status_code == 200
    assert "no-store" in answer.headers["Cache-Control"]
    body = answer.get_data(as_text=True)
    assert "<title>Police handover – Homeward</title>" in body
    page = html.unescape(body)
    for expected in (
        "Mirela Okonkwo-Testfield",
        "1 January 2010",
        "Slim, 5ft 4, shaved head",
        "07700 900456 (iPhone 12)",
        "Sertraline 50 mg each morning",
        "LOG-2211-77",
        "Bus station, stand 4",
        "Two older boys",
        "Grey hoodie, white trainers",
        "Argued about phone time",
        "Not back yet",
        "Known to older males in the town centre",
        "Aunt Bea",
        "07700 900789",
        "12 Mill Lane",
        "High",
        "If not back 2 hours after due back",
        'data-module="hw-print"',
        "data:image/jpeg;base64,",
    ):
        assert expected in page, expected
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "police_handover", AuditEvent.child_id == child.id
        )
    ).all()
    assert [e.detail for e in events] == ["profile,photo,episode,plan"]
    assert events[0].user_id == people["carer"].id


def test_the_handover_without_an_episode_or_plan_still_prints(as_user, world):
    _, people = world
    sw = people["social_worker"]
    child = factories.child(sw.organisation, social_worker_id=sw.id)
    db.session.commit()
    page = as_user(sw).get(f"/children/{child.id}/handover")
    assert page.status_code == 200
    body = html.unescape(page.get_data(as_text=True))
    assert "No episode recorded" in body
    assert "No photo recorded" in body
    assert "From the risk assessment" not in body


def test_a_plan_with_an_unexpected_shape_does_not_break_the_handover(as_user, world):
    child, people = world
    plan = RiskPlan(id=child.id, report_after_hours=0)
    db.session.add(plan)
    plan.content = {"contacts": "not a list", "addresses": [None, {"risk": "high"}, "x"]}
    db.session.commit()
    page = as_user(people["manager"]).get(f"/children/{child.id}/handover")
    assert page.status_code == 200
    assert "At once" in page.get_data(as_text=True)


def test_reading_the_profile_is_audited(as_user, world):
    child, people = world
    as_user(people["social_worker"]).get(f"/children/{child.id}/profile")
    views = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "child_profile",
            AuditEvent.action == "view",
            AuditEvent.child_id == child.id,
        )
    ).all()
    assert [e.user_id for e in views] == [people["social_worker"].id]


def test_the_service_refuses_a_carer_of_another_child(app, world):
    child, people = world
    with pytest.raises(NotAllowed):
        profiles.read_profile(people["other_carer"], child)
    with pytest.raises(NotAllowed):
        profiles.save_profile(people["other_carer"], child, {"description": "x"})
    with pytest.raises(NotAllowed):
        profiles.handover(people["worker"], child)
    assert fresh(_profile(child)).content == {}
