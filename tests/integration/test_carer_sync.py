"""A carer's phone: the children placed with them and their reports, through the sync API.

A report typed with no signal carries the phone's own id and is sent exactly once; reporting
back starts the 72-hour clock as the web form does (the same service); the profile's photo
arrives clean; another carer's child can be neither read nor reported; a change made elsewhere
meanwhile is a conflict that keeps both copies.
"""

import base64
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select, text

from tests import factories
from tests.integration.helpers import fresh, interview_of
from tests.integration.test_sync_api import Device
from webapp.carers.models import ChildProfile, RiskPlan
from webapp.children.models import LegalStatus
from webapp.episodes.models import Episode
from webapp.extensions import db
from webapp.fieldsync.models import SyncConflict

pytestmark = pytest.mark.both_databases
H = timedelta(hours=1)
CANARY = "Canary-Carer-7731"


def now():
    return datetime.now(UTC)


def upsert(record_type, record_id, base_version, payload, mid=None):
    return {
        "mutation_id": mid or str(uuid.uuid4()),
        "record_type": record_type,
        "record_id": record_id,
        "op": "upsert",
        "base_version": base_version,
        "payload": payload,
    }


def report(child, **over):
    payload = {
        "child_id": child.id,
        "reported_type": "not_back",
        "last_seen_at": (now() - 5 * H).isoformat(),
        "due_back_at": (now() - 2 * H).isoformat(),
        "reported_to_police_at": None,
        "police_log_number": None,
        "circumstances": f"Argued about phone time {CANARY}",
        "report": {"clothing": f"Red hoodie {CANARY}", "with_whom": "Alone"},
        "returned": None,
        "carer_notes": None,
    }
    return payload | over


def results(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["results"]


@pytest.fixture
def carer(app):
    person = factories.carer()
    db.session.commit()
    return person


@pytest.fixture
def placed(carer):
    child = factories.placed_child(carer)
    db.session.commit()
    return child


@pytest.fixture
def phone(as_user, carer):
    return Device(as_user(carer))


def test_a_fresh_phone_gets_only_the_children_placed_with_this_carer(phone, carer, placed):
    other_carer = factories.carer(carer.organisation.parent)
    factories.placed_child(other_carer)
    db.session.add(
        RiskPlan(id=placed.id, report_after_hours=2, content={"contacts": [{"name": "Aunt"}]})
    )
    db.session.commit()
    changes = phone.pull().json["changes"]
    children = [c for c in changes if c["record_type"] == "child"]
    assert [c["record_id"] for c in children] == [placed.id]
    payload = children[0]["payload"]
    assert payload["child"]["first_name"] == placed.first_name
    assert payload["plan"]["report_after_hours"] == 2
    assert payload["plan"]["contacts"] == [{"name": "Aunt"}]
    assert payload["editable"] is True


def test_a_report_made_offline_is_applied_once_then_back_starts_the_clock(phone, placed, as_user):
    episode_id = str(uuid.uuid4())
    m = upsert("episode", episode_id, None, report(placed))
    (first,) = results(phone.push([m]))
    assert first["status"] == "applied", first
    (again,) = results(phone.push([m]))  # the phone never heard the answer: sent again
    assert again["status"] == "replayed"
    episodes = db.session.scalars(select(Episode).where(Episode.child_id == placed.id)).all()
    assert [e.id for e in episodes] == [episode_id]
    episode = episodes[0]
    assert episode.reported_type == "not_back" and episode.report["clothing"].startswith("Red")
    assert episode.reported_by_id is not None

    # The pull gives it back.
    pulled = {(c["record_type"], c["record_id"]): c for c in phone.pull().json["changes"]}
    assert pulled[("episode", episode_id)]["payload"]["status"] == "missing"

    # The police were called, then the child came back.
    version = first["version"]
    called = report(
        placed, reported_to_police_at=(now() - H).isoformat(), police_log_number="LOG-1"
    )
    (updated,) = results(phone.push([upsert("episode", episode_id, version, called)]))
    assert updated["status"] == "applied", updated
    back = called | {
        "returned": {
            "returned_at": (now() - 10 * timedelta(minutes=1)).isoformat(),
            "how_returned": "own_accord",
            "where_found": "Came home",
            "welfare": f"Tired and hungry {CANARY}",
        }
    }
    (returned,) = results(phone.push([upsert("episode", episode_id, updated["version"], back)]))
    assert returned["status"] == "applied", returned
    episode = fresh(episode)
    assert episode.status == "returned" and episode.police_log_number == "LOG-1"
    assert episode.return_details["welfare"].startswith("Tired")
    interview = interview_of(placed.id)
    assert interview.due_at - episode.returned_at == timedelta(hours=72)

    # What the carer noticed, later.
    noticed = back | {"carer_notes": "Quiet, would not say where they had been"}
    (notes,) = results(phone.push([upsert("episode", episode_id, returned["version"], noticed)]))
    assert notes["status"] == "applied", notes
    assert fresh(episode).carer_notes.startswith("Quiet")

    # Nothing the carer typed is in a column in clear.
    for table in ("episodes", "sync_mutations", "change_log", "audit_events"):
        dump = " ".join(str(row) for row in db.session.execute(text(f"SELECT * FROM {table}")))
        assert CANARY not in dump, table


def test_a_carer_cannot_report_or_read_another_carers_child(phone, carer, placed):
    stranger = factories.placed_child(factories.carer(carer.organisation.parent))
    db.session.commit()
    episode_id = str(uuid.uuid4())
    (r,) = results(phone.push([upsert("episode", episode_id, None, report(stranger))]))
    assert r["status"] == "rejected" and r["http_status"] in (403, 404), r
    assert db.session.get(Episode, episode_id) is None
    # And never over an id that exists: a create with an existing episode's id is refused.
    theirs = factories.episode(stranger)
    db.session.commit()
    (r,) = results(phone.push([upsert("episode", theirs.id, None, report(placed))]))
    assert r["status"] != "applied"
    assert fresh(theirs).child_id == stranger.id


def test_away_is_only_for_a_looked_after_child(phone, carer):
    at_home = factories.placed_child(carer, legal_status=LegalStatus.CHILD_IN_NEED)
    db.session.commit()
    payload = report(at_home, reported_type="away", due_back_at=None)
    (r,) = results(phone.push([upsert("episode", str(uuid.uuid4()), None, payload)]))
    assert r["status"] == "rejected" and r["http_status"] == 422
    assert r["error"]["field"] == "reported_type"


def _jpeg_with_gps():
    image = Image.new("RGB", (2400, 1600), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010E] = CANARY  # ImageDescription
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=60)
    return out.getvalue()


def test_the_profile_and_its_photo_arrive_clean_and_sealed(phone, placed):
    profile = db.session.get(ChildProfile, placed.id)
    photo = _jpeg_with_gps()
    assert CANARY.encode() in photo
    payload = {
        "profile": {"description": f"Tall, short dark hair {CANARY}", "phones": "07700 900123"},
        "review_due": None,
        "photo": {"jpeg": base64.b64encode(photo).decode()},
    }
    (r,) = results(phone.push([upsert("child", placed.id, profile.version, payload)]))
    assert r["status"] == "applied", r
    profile = fresh(profile)
    stored = base64.b64decode(profile.photo)
    assert CANARY.encode() not in stored and b"Exif" not in stored[:200]
    assert max(Image.open(io.BytesIO(stored)).size) <= 1024
    row = db.session.execute(text("SELECT * FROM child_profiles")).all()
    assert CANARY not in str(row)
    pulled = next(c for c in phone.pull().json["changes"] if c["record_id"] == placed.id)
    assert pulled["payload"]["profile"]["description"].startswith("Tall")
    assert CANARY.encode() not in base64.b64decode(pulled["payload"]["photo"])

    # An unsupported file is refused with the photo's own words; the profile is unchanged.
    bad = payload | {"photo": {"jpeg": base64.b64encode(b"%PDF-1.4 not a photo").decode()}}
    (r,) = results(phone.push([upsert("child", placed.id, profile.version, bad)]))
    assert r["status"] == "rejected" and r["error"]["field"] == "photo"
    assert "JPEG, PNG or HEIC" in r["error"]["message"]
    assert fresh(profile).version == profile.version


def test_a_change_made_elsewhere_meanwhile_is_a_conflict_that_keeps_both(phone, placed, as_user):
    episode_id = str(uuid.uuid4())
    (created,) = results(phone.push([upsert("episode", episode_id, None, report(placed))]))
    manager = factories.manager(placed.responsible_authority)
    db.session.commit()
    web = as_user(manager)
    page = web.get(f"/episodes/{episode_id}")
    assert page.status_code == 200
    episode = db.session.get(Episode, episode_id)
    from webapp.episodes import service as episodes

    episodes.update_police(manager, episode, {"police_log_number": "MGR-9"})
    db.session.commit()
    stale = report(placed, police_log_number="PHONE-1")
    (r,) = results(phone.push([upsert("episode", episode_id, created["version"], stale)]))
    assert r["status"] == "conflict" and r["client_action"] == "keep_and_show"
    assert fresh(episode).police_log_number == "MGR-9"
    assert db.session.scalar(select(SyncConflict.record_id)) == episode_id


def test_a_workers_phone_keeps_no_carers_records(as_user, me, placed):
    factories.interview(worker_=me, child_=placed)
    db.session.commit()
    changes = Device(as_user(me)).pull().json["changes"]
    assert {c["record_type"] for c in changes} == {"interview"}


def test_an_arranged_interview_reaches_the_carers_phone_and_an_autosave_does_not(
    phone, placed, as_user
):
    from webapp.fieldsync.models import ChangeLog
    from webapp.interviews import service as interviews

    worker = factories.worker(placed.responsible_authority)
    interview = factories.interview(worker_=worker, child_=placed)
    db.session.commit()
    cursor = phone.pull().json["cursor"]

    # The worker types (an autosave changes the interview's answers): nothing for the carer.
    interviews.replace_answers(worker, interview, {"why_details": "A party"}, source="web")
    db.session.commit()
    logged = db.session.scalars(
        select(ChangeLog.record_type).order_by(ChangeLog.seq.desc())
    ).first()
    assert logged == "interview"
    assert phone.pull(cursor=cursor).json["changes"] == []

    # The worker arranges the interview: the carer's copy of the child says when and where.
    at = (now() + 26 * H).replace(microsecond=0)
    interviews.arrange(worker, fresh(interview), at, "The family centre")
    db.session.commit()
    changes = phone.pull(cursor=cursor).json["changes"]
    assert [(c["record_type"], c["record_id"]) for c in changes] == [("child", placed.id)]
    (appointment,) = changes[0]["payload"]["appointments"]
    assert appointment["place"] == "The family centre"
    assert datetime.fromisoformat(appointment["at"]) == at


def test_what_the_carer_noticed_reaches_the_workers_phone(phone, placed, as_user):
    worker = factories.worker(placed.responsible_authority)
    episode = factories.episode(placed, last_seen_hours_ago=20, missing_hours=8)
    factories.interview(worker_=worker, child_=placed, episodes=[episode])
    db.session.commit()
    workers_phone = Device(as_user(worker))
    cursor = workers_phone.pull().json["cursor"]
    # The carer adds what they noticed from their phone.
    mine = next(c for c in phone.pull().json["changes"] if c["record_type"] == "episode")
    noticed = dict(mine["payload"])
    for key in ("reported_type_label", "status", "missing_from", "police_category"):
        noticed.pop(key)
    noticed["carer_notes"] = "Quiet at tea, had a new phone"
    (r,) = results(phone.push([upsert("episode", episode.id, mine["version"], noticed)]))
    assert r["status"] == "applied", r
    (change,) = workers_phone.pull(cursor=cursor).json["changes"]
    assert change["record_type"] == "interview"
    assert change["payload"]["episodes"][0]["carer_notes"] == "Quiet at tea, had a new phone"


def test_the_phone_takes_the_services_limits_not_its_own(phone, placed):
    """A text the web form accepted (circumstances up to 10,000 characters) comes back from the
    phone with every later edit: the handler must not refuse it by a shorter limit of its own,
    and what is too long is refused by the service's rule, naming the field."""
    episode_id = str(uuid.uuid4())
    long = "Went after an argument. " * 300  # 7,200 characters
    (created,) = results(
        phone.push([upsert("episode", episode_id, None, report(placed, circumstances=long))])
    )
    assert created["status"] == "applied", created
    edited = report(placed, circumstances=long, police_log_number="LOG-77")
    (r,) = results(phone.push([upsert("episode", episode_id, created["version"], edited)]))
    assert r["status"] == "applied", r
    assert fresh(db.session.get(Episode, episode_id)).police_log_number == "LOG-77"
    too_long = report(placed, circumstances="x" * 10_001)
    (r,) = results(phone.push([upsert("episode", episode_id, r["version"], too_long)]))
    assert r["status"] == "rejected" and r["error"]["field"] == "circumstances", r
    log = report(placed, circumstances=long, police_log_number="L" * 41)
    (r,) = results(phone.push([upsert("episode", episode_id, created["version"] + 1, log)]))
    assert r["status"] == "rejected" and r["error"]["field"] == "police_log_number", r


def test_a_heic_the_phone_cannot_open_is_converted_and_nothing_else_is(as_user, carer, me):
    import pillow_heif

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x010E] = CANARY
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (20, 40, 220)).save(out, format="HEIF", exif=exif.tobytes())
    heic = out.getvalue()
    assert CANARY.encode() in heic
    phone = Device(as_user(carer))
    headers = {"Content-Type": "image/heic", "X-CSRFToken": phone.csrf}
    r = phone.b.raw_post("/api/v1/photos/convert", data=heic, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    jpeg = base64.b64decode(r.json["jpeg"])
    assert jpeg[:3] == b"\xff\xd8\xff" and CANARY.encode() not in jpeg
    assert max(Image.open(io.BytesIO(jpeg)).size) <= 1024
    # Not a photo: refused in words, naming what to choose.
    r = phone.b.raw_post("/api/v1/photos/convert", data=b"%PDF-1.4", headers=headers)
    assert r.status_code == 422 and "JPEG, PNG or HEIC" in r.json["message"]
    # Over 8 MB: refused too (the app's own limit is raised for this route only).
    r = phone.b.raw_post("/api/v1/photos/convert", data=heic + b"\0" * (8 * 2**20), headers=headers)
    assert r.status_code in (413, 422)
    # Only a carer's field mode converts photos.
    worker = Device(as_user(me))
    r = worker.b.raw_post(
        "/api/v1/photos/convert",
        data=heic,
        headers={"Content-Type": "image/heic", "X-CSRFToken": worker.csrf},
    )
    assert r.status_code in (403, 404)
    # Nothing about it is kept: no table gained the photo.
    for table in ("audit_events", "child_profiles"):
        dump = " ".join(str(row) for row in db.session.execute(text(f"SELECT * FROM {table}")))
        assert CANARY not in dump
