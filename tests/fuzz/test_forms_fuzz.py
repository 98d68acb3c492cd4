"""Every web route under fuzzing, as every role: hypothesis fills in the HTML forms the pages
really show (their field names, their choices) with values that have broken servers before,
sends any path value and query, and requires each answer to be something other than a 500 and
never a redirect off the site. Runs on SQLite and PostgreSQL (NUL bytes are PostgreSQL's)."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from tests.fuzz.support import (
    SPECIALS,
    assert_sane,
    fuzz_settings,
    nasty_text,
    plausible_or_nasty,
)
from webapp.extensions import db
from webapp.interviews.questions import SECTIONS

# Fuzzed values (NUL bytes, surrogates, huge numbers) reach each database's columns.
pytestmark = pytest.mark.both_databases

ROLES = [
    "manager@demo.test",
    "worker@demo.test",
    "sw@demo.test",
    "dsl@demo.test",
    "carer@demo.test",
    "iro@demo.test",
    "admin@demo.test",
]
# Routes that end the fuzzer's own session rather than test anything about input.
SKIP_ENDPOINTS = {"static", "accounts.logout", "accounts.logout_everywhere"}


class _Forms(HTMLParser):
    """The POST forms of a page: action, and for each field name the values the page offers."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict[str, set[str]]]] = []
        self._fields: dict[str, set[str]] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._fields = {}
            self.forms.append((a.get("action") or "", self._fields))
        elif self._fields is not None and tag in ("input", "textarea", "select") and a.get("name"):
            if a.get("name") == "csrf_token":
                return
            self._fields.setdefault(a["name"], set()).add(a.get("value") or "")
            if tag == "select":
                self._select = a["name"]
        elif tag == "option" and self._fields is not None and self._select:
            self._fields[self._select].add(a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None
        elif tag == "select":
            self._select = None


def _forms_on(html: str):
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _id_pool(ids: dict) -> dict[str, list[str]]:
    from webapp.accounts.models import User
    from webapp.episodes.models import Episode
    from webapp.interviews.models import Interview
    from webapp.reminders.models import Reminder

    def all_ids(model):
        return [str(v) for v in db.session.scalars(select(model.id))]

    return {
        "child_id": [str(ids[k]) for k in ("leah", "tyler", "mia", "kai", "ruby", "noah", "finn")],
        "episode_id": all_ids(Episode),
        "interview_id": all_ids(Interview),
        "user_id": all_ids(User),
        "reminder_id": all_ids(Reminder)[:20],
        "slug": [s.slug for s in SECTIONS],
    }


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    # Lone surrogates cannot be UTF-8; a hostile client sends their bytes anyway.
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode("ascii")


def _path(rule, pool, arg_values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        value = arg_values[name]
        path = path.replace(f"<{name}>", quote(value.encode("utf-8", "surrogatepass"), safe=""))
    return path.replace("<path:", "<")


def _collect_forms(app, browsers, pool) -> list[tuple[str, str, dict[str, set[str]]]]:
    """(role, action, fields) for every POST form on every page each role can open."""
    found = []
    for role, browser in browsers.items():
        for rule in app.url_map.iter_rules():
            if rule.endpoint in SKIP_ENDPOINTS or "GET" not in rule.methods:
                continue
            if rule.rule.startswith("/api/") or rule.rule in ("/sw.js",):
                continue
            args = {name: (pool.get(name) or ["x"])[0] for name in rule.arguments}
            if "interview_id" in args:
                for interview_id in pool["interview_id"][:6]:
                    args = dict(args, interview_id=interview_id)
                    found += _page_forms(browser, role, _path(rule, pool, args))
            else:
                found += _page_forms(browser, role, _path(rule, pool, args))
    urls = app.url_map.bind("localhost")
    unique = {}
    for role, action, fields in found:
        endpoint, _ = urls.match(action.split("?")[0], method="POST")
        if endpoint not in SKIP_ENDPOINTS:
            unique[(role, action, tuple(sorted(fields)))] = (role, action, fields)
    return list(unique.values())


def _page_forms(browser, role, url):
    response = browser.get(url)
    if response.status_code != 200 or response.mimetype != "text/html":
        return []
    return [(role, action or url, fields) for action, fields in _forms_on(response.get_data(True))]


def _stay_signed_in(browser, role: str, response) -> None:
    # A fuzzed form may end the session (an administrator deactivating someone, say): sign in
    # again so the rest of the budget still tests something past the sign-in page.
    browser._remember_token(response)
    if response.headers.get("Location", "").startswith("/sign-in"):
        try:
            browser.login(role)
        except AssertionError:
            pass  # deactivated, or a new password: that role is done for this run


def _field_value(offered: set[str]):
    return st.one_of(plausible_or_nasty([v for v in offered if v]), st.just(""))


def test_fuzz_every_form_as_every_role(app, ids):
    from tests.conftest import Browser

    browsers = {email: Browser(app.test_client()).login(email) for email in ROLES}
    pool = _id_pool(ids)
    forms = _collect_forms(app, browsers, pool)
    assert len(forms) > 10, forms  # the crawl found the app's forms

    @given(data=st.data())
    @fuzz_settings(100)
    def run(data):
        role, action, fields = data.draw(st.sampled_from(forms), label="form")
        browser = browsers[role]
        pairs = []
        for name in sorted(fields):
            if data.draw(st.integers(0, 9), label=f"leave {name} out") == 0:
                continue
            # Date boxes share one name; a forged request may send any number of them.
            repeats = st.integers(0, 4) if name == "date_of_birth" else st.just(1)
            for _ in range(data.draw(repeats, label=f"values of {name}")):
                pairs.append((name, data.draw(_field_value(fields[name]), label=name)))
        if data.draw(st.booleans(), label="an extra field"):
            pairs.append((data.draw(nasty_text, label="extra name"), data.draw(nasty_text)))
        if data.draw(st.booleans(), label="a return address"):
            pairs.append(("back", data.draw(nasty_text, label="back")))
        pairs.append(("csrf_token", browser.csrf))
        headers = {"HX-Request": "true"} if data.draw(st.booleans(), label="htmx") else {}
        with app.app_context():
            response = browser.client.post(
                action,
                data=_encode(pairs),
                content_type="application/x-www-form-urlencoded",
                headers=headers,
            )
        assert_sane(response, f"{role} POST {action}")
        _stay_signed_in(browser, role, response)

    run()


def test_fuzz_every_route_address_as_every_role(app, ids):
    """Any value in a path segment or the query string, on every route, GET and POST."""
    from tests.conftest import Browser

    roles = [None, *ROLES]
    browsers = {
        email: Browser(app.test_client()).login(email) if email else Browser(app.test_client())
        for email in roles
    }
    browsers[None].get("/sign-in")
    pool = _id_pool(ids)
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint not in SKIP_ENDPOINTS and not r.rule.startswith("/api/")
    ]

    # First every route once with each character that has broken a server in each path value
    # and in the query (random draws reach a given route with a given one too rarely), then
    # the random search.
    for i, rule in enumerate(sorted(rules, key=lambda r: r.rule)):
        role = ROLES[i % len(ROLES)]
        for bad in SPECIALS:
            args = {name: pool.get(name, ["x"])[0] + bad for name in rule.arguments}
            url = (
                _path(rule, pool, args)
                + "?"
                + _encode([("next", "/" + bad), ("q" + bad, "1")]).decode()
            )
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                with app.app_context():
                    response = browsers[role].client.open(url, method=method)
                assert_sane(response, f"{role} {method} {url}")

    @given(data=st.data())
    @fuzz_settings(80)
    def run(data):
        rule = data.draw(st.sampled_from(rules), label="route")
        role = data.draw(st.sampled_from(roles), label="role")
        browser = browsers[role]
        args = {
            name: data.draw(plausible_or_nasty(pool.get(name) or ["x"]), label=name)
            for name in rule.arguments
        }
        path = _path(rule, pool, args)
        query = data.draw(
            st.lists(
                st.tuples(st.sampled_from(["next", "back", "page", "q"]) | nasty_text, nasty_text),
                max_size=3,
            ),
            label="query",
        )
        method = data.draw(st.sampled_from(sorted(rule.methods - {"HEAD", "OPTIONS"})))
        url = path + ("?" + _encode(query).decode() if query else "")
        with app.app_context():
            if method == "GET":
                response = browser.client.get(url)
            else:
                response = browser.client.open(
                    url,
                    method=method,
                    data=_encode([("csrf_token", browser.csrf or "")]),
                    content_type="application/x-www-form-urlencoded",
                )
        assert_sane(response, f"{role} {method} {url}")
        if role:
            _stay_signed_in(browser, role, response)

    run()
