"""The cases the attack on the app found answering 500, each now a clear answer that loses
nothing typed. The fuzzers next to this file look for the rest of each class."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import factories
from tests.factories import PASSWORD
from tests.integration.helpers import fresh
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


def _committed(obj):
    db.session.commit()
    return obj


@pytest.fixture
def manager(app, as_user):
    """A manager of an authority of their own, signed in: adds children."""
    return as_user(_committed(factories.manager()))


@pytest.fixture
def me(app):
    """A worker, committed."""
    return _committed(factories.worker())


def _allocated_to(worker, **kw):
    return _committed(factories.interview(worker_=worker, **kw))


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
def test_a_missing_or_partial_date_of_birth_is_explained(manager, dob, message):
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


def test_a_whole_date_of_birth_still_adds_the_child(manager):
    r = manager.post("/children/new", CHILD | {"date_of_birth": [" 4", "7 ", "2011"]})
    assert r.status_code == 302
    child = db.session.scalar(select(Child).where(Child.last_name == "Ashdown"))
    assert child.date_of_birth.isoformat() == "2011-07-04"


NUL = "\x00"


@pytest.mark.both_databases
def test_nul_in_a_form_value_is_refused_with_a_reason(as_user, manager, me):
    # PostgreSQL text cannot hold NUL: this was a 500 there, on every form.
    r = manager.post("/children/new", CHILD | {"first_name": "Wr" + NUL + "en"})
    assert r.status_code == 400
    assert "cannot be stored" in text(r)
    assert db.session.scalar(select(Child).where(Child.last_name == "Ashdown")) is None

    interview = _allocated_to(me)
    worker = as_user(me)
    r = worker.post(
        f"/interviews/{interview.id}/sections/why",
        {"why_details": "words" + NUL, "_autosave": "1"},
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
def test_nul_in_the_address_is_refused_with_a_reason(manager, url):
    r = manager.get(url) if "police" not in url else manager.post(url, {})
    assert r.status_code == 400
    assert "cannot be stored" in text(r) or "not allowed" in text(r)


@pytest.mark.both_databases
def test_nul_in_an_api_address_is_a_json_400(as_user, me):
    worker = as_user(me)
    r = worker.api("GET", "/api/v1/episodes/%00")
    assert r.status_code == 400
    assert r.is_json and r.json["error"] == "bad_request"
    r = worker.api("GET", "/api/v1/sync/pull?cursor=%00")
    assert r.status_code == 400 and r.is_json


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # no database behaviour involved
def test_sign_in_never_sends_anyone_off_the_site(browser, me):
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
            {"email": me.email, "password": PASSWORD},
            query_string={"next": target},
        )
        assert r.status_code == 302
        assert r.headers["Location"] == "/", target
        browser.post("/sign-out")
    browser.get("/sign-in")
    r = browser.post(
        "/sign-in?next=/notifications/",
        {"email": me.email, "password": PASSWORD},
    )
    assert r.headers["Location"] == "/notifications/"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_turning_off_reminders_goes_back_only_to_a_page_of_ours(as_user, me):
    from webapp.push.service import public_key

    worker = as_user(me)
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
def test_submitting_an_interview_twice_says_it_was_already_sent(as_user, me):
    authorised = _allocated_to(me, status=InterviewStatus.AUTHORISED)
    assert authorised.status == InterviewStatus.AUTHORISED
    worker = as_user(me)
    r = worker.post(f"/interviews/{authorised.id}/submit")
    assert r.status_code == 302
    page = worker.get(r.headers["Location"])
    assert "already been sent for authorisation" in text(page)
    assert fresh(authorised).status == InterviewStatus.AUTHORISED


def test_submitting_an_interview_one_cannot_see_is_still_a_404(as_user, me):
    # A colleague's interview (same team): the answer must not tell me it exists.
    theirs = _allocated_to(factories.worker(me.organisation, team_=me.team))
    worker = as_user(me)
    r = worker.post(f"/interviews/{theirs.id}/submit")
    assert r.status_code == 404


@pytest.mark.both_databases
@pytest.mark.parametrize("autosave", [False, True])
def test_two_browsers_saving_one_section_at_once(as_user, me, monkeypatch, autosave):
    """Browser B saves while browser A's save of the same section is under way: A is told
    someone else changed it, with its typed answers in front of it, and B's answers stand."""
    mine = _allocated_to(me)
    url = f"/interviews/{mine.id}/sections/why"
    a = as_user(me)
    b = as_user(me)
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
    mine = fresh(mine)
    content = sealed.unseal(mine.content_enc, "interview", mine.id, "content")
    assert content["why_details"] == "B's words 5521"


VERSION_INPUT = re.compile(r'name="version" id="hw-interview-version" value="(\d+)"')


@pytest.mark.both_databases
def test_a_save_over_a_change_made_since_the_form_was_read_is_refused_and_kept(as_user, me):
    """Not at the same instant: A opens the section, a phone (or another tab) saves, then A
    saves. Before, A's save silently replaced the other change; now A is told, with what A
    typed in front of it, and a deliberate second save from that page goes through."""
    mine = _allocated_to(me)
    url = f"/interviews/{mine.id}/sections/why"
    a = as_user(me)
    b = as_user(me)
    read_at = VERSION_INPUT.search(text(a.get(url))).group(1)
    b_page = text(b.get(url))
    r = b.post(url, {"why_details": "B's words 8812", "version": VERSION_INPUT.search(b_page)[1]})
    assert r.status_code == 302

    r = a.post(url, {"why_details": "A's words 3190", "version": read_at})
    assert r.status_code == 409
    page = text(r)
    assert "Someone else changed" in page
    assert "A&#39;s words 3190" in page or "A's words 3190" in page
    content = sealed.unseal(fresh(mine).content_enc, "interview", mine.id, "content")
    assert content["why_details"] == "B's words 8812"

    # The refusal carries the current version: saving again, knowingly, is accepted.
    now_at = VERSION_INPUT.search(page).group(1)
    assert int(now_at) > int(read_at)
    r = a.post(url, {"why_details": "A's words 3190", "version": now_at})
    assert r.status_code == 302
    content = sealed.unseal(fresh(mine).content_enc, "interview", mine.id, "content")
    assert content["why_details"] == "A's words 3190"


@pytest.mark.both_databases
def test_autosave_moves_the_forms_version_on_so_it_never_clashes_with_itself(as_user, me):
    mine = _allocated_to(me)
    url = f"/interviews/{mine.id}/sections/why"
    a = as_user(me)
    version = VERSION_INPUT.search(text(a.get(url))).group(1)
    hx = {"HX-Request": "true"}
    for words in ("first draft", "second draft"):
        r = a.post(url, {"why_details": words, "_autosave": "1", "version": version}, headers=hx)
        assert r.status_code == 200, text(r)
        oob = re.search(r'value="(\d+)" hx-swap-oob="true"', text(r))
        assert oob and int(oob.group(1)) > int(version)
        version = oob.group(1)
