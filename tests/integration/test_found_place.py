"""Where a child was found (issue 13), as a code from a fixed list kept in clear beside how they
came back: asked, optional, wherever a return is recorded (the manager's episode page, the
carer's "Report back" page, the carer's phone through the sync API, the correction page), refused
in words when it is not one of the list, shown on the episode page and in the police handover,
and sent to phones in the field schema so the phone asks in the same words."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests import factories
from tests.integration.helpers import fresh, interview_of
from tests.integration.test_carer_sync import report, results, upsert
from tests.integration.test_sync_api import Device
from webapp import deadlines
from webapp.episodes.models import FOUND_PLACE_HINTS, FOUND_PLACE_LABELS, Episode, EpisodeChange
from webapp.extensions import db

H = timedelta(hours=1)
CANARY = "Canary-Found-4417"


def now():
    return datetime.now(UTC)


def local(dt) -> str:
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def world(app):
    authority = factories.local_authority()
    manager = factories.manager(authority)
    carer = factories.carer(authority)
    child = factories.placed_child(carer)
    db.session.commit()
    return {"authority": authority, "manager": manager, "carer": carer, "child": child}


def _open(child) -> Episode:
    episode = factories.episode(child, last_seen_hours_ago=5, missing_hours=None)
    db.session.commit()
    return episode


def _return_form(**over) -> dict:
    return {
        "returned_at": local(now() - H),
        "how_returned": "found_by_police",
        "where_found": f"Flat above the chip shop {CANARY}",
        "who_with": "",
        "welfare": "",
    } | over


def test_the_labels_are_a_short_fixed_list_of_codes():
    assert "not_known" in FOUND_PLACE_LABELS and "address_of_concern" in FOUND_PLACE_LABELS
    # The column is String(20); a hint only explains a choice that exists.
    assert all(len(code) <= 20 for code in FOUND_PLACE_LABELS)
    assert set(FOUND_PLACE_HINTS) <= set(FOUND_PLACE_LABELS)


@pytest.mark.both_databases
def test_a_manager_records_where_found_on_the_episode_page(world, as_user):
    manager = as_user(world["manager"])
    episode = _open(world["child"])
    page = manager.get(f"/episodes/{episode.id}").get_data(as_text=True)
    # Asked beside how they came back, with every choice and its hint.
    assert page.index('name="how_returned"') < page.index('name="found_place"')
    for label in FOUND_PLACE_LABELS.values():
        assert label.replace("'", "&#39;") in page
    assert "a street, park or shopping centre" in page

    r = manager.post(
        f"/episodes/{episode.id}/return", _return_form(found_place="address_of_concern")
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    episode = fresh(episode)
    assert (episode.status, episode.how_returned, episode.found_place) == (
        "returned",
        "found_by_police",
        "address_of_concern",
    )
    # The address stays sealed; the code is all that is in clear.
    assert episode.return_details["where_found"].startswith("Flat above")
    dump = " ".join(str(row) for row in db.session.execute(text("SELECT * FROM episodes")))
    assert CANARY not in dump and "address_of_concern" in dump
    shown = manager.get(f"/episodes/{episode.id}").get_data(as_text=True)
    assert "Where they were found" in shown and "An address of concern" in shown
    assert "How they came back" in shown and "Found by police" in shown


def test_where_found_is_optional_and_a_code_not_in_the_list_is_refused(world, as_user):
    manager = as_user(world["manager"])
    episode = _open(world["child"])
    refused = manager.post(
        f"/episodes/{episode.id}/return", _return_form(found_place="the bus station")
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Choose where the child was found from the list" in page
    assert 'href="#found_place"' in page  # the error summary leads to the question
    assert fresh(episode).status == "missing" and fresh(episode).found_place is None

    # Nobody knows yet: left out, the return is recorded all the same.
    r = manager.post(f"/episodes/{episode.id}/return", _return_form())
    assert r.status_code == 302
    episode = fresh(episode)
    assert episode.status == "returned" and episode.found_place is None
    assert "Not recorded" in manager.get(f"/episodes/{episode.id}").get_data(as_text=True)


def test_a_carer_reports_back_with_where_found_and_the_police_handover_shows_it(world, as_user):
    carer = as_user(world["carer"])
    episode = _open(world["child"])
    form = carer.get(f"/episodes/{episode.id}/return").get_data(as_text=True)
    assert form.index('name="how_returned"') < form.index('name="found_place"')
    assert form.index('name="found_place"') < form.index('name="where_found"')
    r = carer.post(
        f"/episodes/{episode.id}/return",
        _return_form(how_returned="own_accord", found_place="friend"),
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/episodes/{episode.id}")
    assert fresh(episode).found_place == "friend"
    handover = carer.get(f"/children/{world['child'].id}/handover").get_data(as_text=True)
    rows = re.findall(
        r'<dt class="govuk-summary-list__key">([^<]+)</dt>\s*<dd[^>]*>([^<]*)', handover
    )
    assert ("How returned", "Returned of their own accord") in rows
    assert ("Where found", "A friend&#39;s home") in rows
    assert ("More about where they were", f"Flat above the chip shop {CANARY}") in rows


@pytest.fixture
def phone(as_user, world):
    return Device(as_user(world["carer"]))


def _pushed_back(phone, child, returned: dict) -> tuple[str, dict, dict]:
    """A report made on the phone, then its return: (episode id, the return's result, the
    payload sent)."""
    episode_id = str(uuid.uuid4())
    (made,) = results(phone.push([upsert("episode", episode_id, None, report(child))]))
    assert made["status"] == "applied", made
    back = report(child) | {
        "returned": {"returned_at": (now() - 10 * timedelta(minutes=1)).isoformat()} | returned
    }
    (result,) = results(phone.push([upsert("episode", episode_id, made["version"], back)]))
    return episode_id, result, back


@pytest.mark.both_databases
def test_a_carers_phone_sends_where_found_and_gets_it_back(phone, world):
    episode_id, result, _ = _pushed_back(
        phone, world["child"], {"how_returned": "own_accord", "found_place": "public_place"}
    )
    assert result["status"] == "applied", result
    episode = db.session.get(Episode, episode_id)
    assert (episode.status, episode.found_place) == ("returned", "public_place")
    assert interview_of(world["child"].id) is not None  # the clock started as without it
    pulled = {
        c["record_id"]: c["payload"]
        for c in phone.pull().json["changes"]
        if c["record_type"] == "episode"
    }
    assert pulled[episode_id]["returned"]["found_place"] == "public_place"
    assert pulled[episode_id]["returned"]["how_returned"] == "own_accord"


def test_a_phone_that_does_not_send_where_found_still_reports_back(phone, world):
    # A phone still on the app before this question: no found_place key at all.
    episode_id, result, _ = _pushed_back(phone, world["child"], {"how_returned": "own_accord"})
    assert result["status"] == "applied", result
    episode = db.session.get(Episode, episode_id)
    assert (episode.status, episode.found_place) == ("returned", None)
    # And one that sends it empty (asked, left out).
    other = factories.placed_child(world["carer"])
    db.session.commit()
    second_id, second, _ = _pushed_back(
        phone, other, {"how_returned": "own_accord", "found_place": None}
    )
    assert second["status"] == "applied", second
    assert db.session.get(Episode, second_id).found_place is None


@pytest.mark.parametrize("bad", ["the bus station", ["friend"], {"code": "friend"}, 3])
def test_a_bad_code_from_a_phone_is_refused_naming_the_field(phone, world, bad):
    episode_id, result, _ = _pushed_back(
        phone, world["child"], {"how_returned": "own_accord", "found_place": bad}
    )
    assert result["status"] == "rejected" and result["http_status"] == 422, result
    assert result["error"]["field"] == "found_place"
    episode = db.session.get(Episode, episode_id)
    db.session.refresh(episode)
    assert (episode.status, episode.returned_at, episode.found_place) == ("missing", None, None)


def test_how_returned_that_is_not_a_string_is_refused_as_a_choice(phone, world):
    _, result, _ = _pushed_back(phone, world["child"], {"how_returned": ["own_accord"]})
    assert result["status"] == "rejected" and result["http_status"] == 422, result
    assert result["error"]["field"] == "how_returned"


def test_the_field_schema_carries_the_choices_in_the_servers_words(browser):
    schema = browser.get("/api/v1/schema/interview").json
    choices = schema["episode"]["found_place"]
    assert [c["value"] for c in choices] == list(FOUND_PLACE_LABELS)
    assert {c["value"]: c["label"] for c in choices} == FOUND_PLACE_LABELS
    assert {c["value"]: c["hint"] for c in choices if "hint" in c} == FOUND_PLACE_HINTS


@pytest.mark.both_databases
def test_a_manager_corrects_where_found_with_a_reason_kept_in_the_history(world, as_user):
    manager = as_user(world["manager"])
    episode = factories.episode(world["child"], found_place="friend")
    db.session.commit()
    page = manager.get(f"/episodes/{episode.id}/correct").get_data(as_text=True)
    assert re.search(r'value="friend"\s+checked|checked[^>]*value="friend"', page), page
    seen = re.search(r'name="seen"[^>]*value="([^"]+)"', page).group(1)
    base = {
        "reported_type": episode.reported_type,
        "last_seen_at": local(episode.last_seen_at),
        "returned_at": local(episode.returned_at),
        "reason": "The police log says she was at her aunt's",
        "seen": seen,
    }
    bad = manager.post(f"/episodes/{episode.id}/correct", base | {"found_place": "aunt"})
    assert bad.status_code == 422
    assert "Choose where the child was found from the list" in bad.get_data(as_text=True)
    assert fresh(episode).found_place == "friend"

    r = manager.post(f"/episodes/{episode.id}/correct", base | {"found_place": "relative"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert fresh(episode).found_place == "relative"
    change = db.session.query(EpisodeChange).filter_by(episode_id=episode.id).one()
    assert change.fields == "found_place"
    assert change.values["before"] == {"found_place": "A friend's home"}
    assert change.values["after"] == {"found_place": "A relative's or family friend's home"}
    history = manager.get(f"/episodes/{episode.id}").get_data(as_text=True)
    assert "Where they were found" in history
