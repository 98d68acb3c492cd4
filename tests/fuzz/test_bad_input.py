"""The cases the attack on the app found answering 500, each now a clear answer that loses
nothing typed. The fuzzers next to this file look for the rest of each class."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.integration.helpers import fresh, interview_of
from tests.support.fake_push import FakePushService
from webapp import sealed
from webapp.children.models import Child
from webapp.extensions import db
from webapp.interviews import service as interviews
from webapp.interviews.models import InterviewStatus
from webapp.push.models import PushSubscription

CHILD = {
    "first_name": "Wren",
    "last_name": "Ashdown",
    "sex": "female",
    "legal_status": "none",
    "school_id": "",
    "social_worker_id": "",
    "carer_id": "",
}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("dob", "message"),
    [
        (None, "Enter the date of birth"),
        ([], "Enter the date of birth"),
        (["", "", ""], "Enter the date of birth"),
        (["4"], "Date of birth must include a month and year"),
        (["4", "7"], "Date of birth must include a year"),
        (["4", "", "2011"], "Date of birth must include a month"),
        (["", "7", "2011"], "Date of birth must include a day"),
        (["4", "7", "2011", "9"], "Date of birth must be a real date"),
        (["31", "2", "2011"], "Date of birth must be a real date"),
        (["4", "7", "99999"], "Date of birth must be a real date"),
        (["4", "July", "2011"], "Date of birth must be a real date"),
    ],
)
def test_a_missing_or_partial_date_of_birth_is_explained(as_user, dob, message):
    manager = as_user("manager@demo.test")
    data = dict(CHILD)
    if dob is not None:
        data["date_of_birth"] = dob
    r = manager.post("/children/new", data)
    assert r.status_code == 422
    assert message in text(r)
    assert 'value="Ashdown"' in text(r)  # the rest of the form is kept
    for part in (dob or [])[:3]:  # the three boxes there are
        if part:
            assert f'value="{part}"' in text(r)  # and so is what was typed of the date
    assert db.session.scalar(select(Child).where(Child.last_name == "Ashdown")) is None


def test_a_whole_date_of_birth_still_adds_the_child(as_user):
    manager = as_user("manager@demo.test")
    r = manager.post("/children/new", CHILD | {"date_of_birth": [" 4", "7 ", "2011"]})
    assert r.status_code == 302
    child = db.session.scalar(select(Child).where(Child.last_name == "Ashdown"))
    assert child.date_of_birth.isoformat() == "2011-07-04"


NUL = "\x00"


@pytest.mark.both_databases
def test_nul_in_a_form_value_is_refused_with_a_reason(as_user, ids):
    # PostgreSQL text cannot hold NUL: this was a 500 there, on every form.
    manager = as_user("manager@demo.test")
    r = manager.post("/children/new", CHILD | {"first_name": "Wr" + NUL + "en"})
    assert r.status_code == 400
    assert "cannot be stored" in text(r)
    assert db.session.scalar(select(Child).where(Child.last_name == "Ashdown")) is None

    worker = as_user("worker@demo.test")
    kai = interview_of(ids["kai"])
    r = worker.post(
        f"/interviews/{kai.id}/sections/why", {"why_details": "words" + NUL, "_autosave": "1"}
    )
    assert r.status_code == 400
    assert "cannot be stored" in text(r)


@pytest.mark.both_databases
@pytest.mark.parametrize(
    "url",
    [
        "/children/%00",
        "/interviews/x%00y",
        "/episodes/%00/police",
        "/children/?q=%00",
        "/notifications/?x%00=1",
        "/sign-in?next=/%00",
    ],
)
def test_nul_in_the_address_is_refused_with_a_reason(as_user, url):
    manager = as_user("manager@demo.test")
    r = manager.get(url) if "police" not in url else manager.post(url, {})
    assert r.status_code == 400
    assert "cannot be stored" in text(r) or "not allowed" in text(r)


@pytest.mark.both_databases
def test_nul_in_an_api_address_is_a_json_400(as_user):
    worker = as_user("worker@demo.test")
    r = worker.api("GET", "/api/v1/episodes/%00")
    assert r.status_code == 400
    assert r.is_json and r.json["error"] == "bad_request"
    r = worker.api("GET", "/api/v1/sync/pull?cursor=%00")
    assert r.status_code == 400 and r.is_json


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # no database behaviour involved
def test_sign_in_never_sends_anyone_off_the_site(browser):
    for target in [
        "/\\evil.example",
        "/\\/evil.example",
        "\\\\evil.example",
        "%2F%2Fevil.example",
        "https:evil.example",
        "/x\r\nSet-Cookie: a=b",
        "/\t/evil.example",
        "javascript:alert(1)",
    ]:
        browser.get("/sign-in")
        r = browser.post(
            "/sign-in",
            {"email": "worker@demo.test", "password": "homeward-demo"},
            query_string={"next": target},
        )
        assert r.status_code == 302
        assert r.headers["Location"] == "/", target
        browser.post("/sign-out")
    browser.get("/sign-in")
    r = browser.post(
        "/sign-in?next=/notifications/",
        {"email": "worker@demo.test", "password": "homeward-demo"},
    )
    assert r.headers["Location"] == "/notifications/"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_turning_off_reminders_goes_back_only_to_a_page_of_ours(as_user):
    from webapp.push.service import public_key

    worker = as_user("worker@demo.test")
    with FakePushService() as fake_push:
        for back, expected in [
            ("https://evil.example/", "/notifications/settings"),
            ("/\\evil.example", "/notifications/settings"),
            ("/notifications/", "/notifications/"),
        ]:
            phone = fake_push.browser(application_server_key=public_key())
            r = worker.api("POST", "/api/v1/push/subscriptions", phone.subscription_json())
            assert r.status_code == 201
            sub_id = db.session.scalar(select(PushSubscription.id))
            r = worker.post(f"/notifications/subscriptions/{sub_id}/delete", {"back": back})
            assert r.status_code == 302
            assert r.headers["Location"] == expected


@pytest.mark.both_databases
def test_submitting_an_interview_twice_says_it_was_already_sent(as_user, ids):
    worker = as_user("worker@demo.test")
    noah = interview_of(ids["noah"])  # authorised in the demo data
    assert noah.status == InterviewStatus.AUTHORISED
    r = worker.post(f"/interviews/{noah.id}/submit")
    assert r.status_code == 302
    page = worker.get(r.headers["Location"])
    assert "already been sent for authorisation" in text(page)
    assert fresh(noah).status == InterviewStatus.AUTHORISED


def test_submitting_an_interview_one_cannot_see_is_still_a_404(as_user, ids):
    # Worker 2's interview: the answer must not tell the demo worker it exists.
    worker = as_user("worker@demo.test")
    r = worker.post(f"/interviews/{interview_of(ids['ella']).id}/submit")
    assert r.status_code == 404


@pytest.mark.both_databases
@pytest.mark.parametrize("autosave", [False, True])
def test_two_browsers_saving_one_section_at_once(as_user, ids, monkeypatch, autosave):
    """Browser B saves while browser A's save of the same section is under way: A is told
    someone else changed it, with its typed answers in front of it, and B's answers stand."""
    kai = interview_of(ids["kai"])
    url = f"/interviews/{kai.id}/sections/why"
    a = as_user("worker@demo.test")
    b = as_user("worker@demo.test")
    b.get(url)
    real_store = interviews._store_answers
    raced = []

    def store_while_b_saves(interview, values, **kw):
        if not raced:
            raced.append("B is saving")
            # A has read the interview (its version); B's whole request runs and commits now.
            raced[0] = b.post(url, {"why_details": "B's words 5521"})
        return real_store(interview, values, **kw)

    monkeypatch.setattr(interviews, "_store_answers", store_while_b_saves)
    data = {"why_details": "A's words 7734", "reasons": ["bored"]}
    if autosave:
        data["_autosave"] = "1"
    r = a.post(url, data, headers={"HX-Request": "true"} if autosave else {})
    assert raced[0].status_code == 302
    assert r.status_code == 409
    assert "Someone else changed" in text(r)
    if not autosave:
        assert "A&#39;s words 7734" in text(r) or "A's words 7734" in text(r)
    kai = fresh(kai)
    content = sealed.unseal(kai.content_enc, "interview", kai.id, "content")
    assert content["why_details"] == "B's words 5521"


VERSION_INPUT = re.compile(r'name="version" id="hw-interview-version" value="(\d+)"')


@pytest.mark.both_databases
def test_a_save_over_a_change_made_since_the_form_was_read_is_refused_and_kept(as_user, ids):
    """Not at the same instant: A opens the section, a phone (or another tab) saves, then A
    saves. Before, A's save silently replaced the other change; now A is told, with what A
    typed in front of it, and a deliberate second save from that page goes through."""
    kai = interview_of(ids["kai"])
    url = f"/interviews/{kai.id}/sections/why"
    a = as_user("worker@demo.test")
    b = as_user("worker@demo.test")
    read_at = VERSION_INPUT.search(text(a.get(url))).group(1)
    b_page = text(b.get(url))
    r = b.post(url, {"why_details": "B's words 8812", "version": VERSION_INPUT.search(b_page)[1]})
    assert r.status_code == 302

    r = a.post(url, {"why_details": "A's words 3190", "version": read_at})
    assert r.status_code == 409
    page = text(r)
    assert "Someone else changed" in page
    assert "A&#39;s words 3190" in page or "A's words 3190" in page
    content = sealed.unseal(fresh(kai).content_enc, "interview", kai.id, "content")
    assert content["why_details"] == "B's words 8812"

    # The refusal carries the current version: saving again, knowingly, is accepted.
    now_at = VERSION_INPUT.search(page).group(1)
    assert int(now_at) > int(read_at)
    r = a.post(url, {"why_details": "A's words 3190", "version": now_at})
    assert r.status_code == 302
    content = sealed.unseal(fresh(kai).content_enc, "interview", kai.id, "content")
    assert content["why_details"] == "A's words 3190"


@pytest.mark.both_databases
def test_autosave_moves_the_forms_version_on_so_it_never_clashes_with_itself(as_user, ids):
    kai = interview_of(ids["kai"])
    url = f"/interviews/{kai.id}/sections/why"
    a = as_user("worker@demo.test")
    version = VERSION_INPUT.search(text(a.get(url))).group(1)
    hx = {"HX-Request": "true"}
    for words in ("first draft", "second draft"):
        r = a.post(url, {"why_details": words, "_autosave": "1", "version": version}, headers=hx)
        assert r.status_code == 200, text(r)
        oob = re.search(r'value="(\d+)" hx-swap-oob="true"', text(r))
        assert oob and int(oob.group(1)) > int(version)
        version = oob.group(1)
