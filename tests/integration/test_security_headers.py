"""The security headers of EVERY route, in production mode over HTTPS.

For each rule of `app.url_map` and each of its methods, the placeholders are filled with real
ids from the demo data, and the route is requested anonymously and as a person whose role may
use it (a POST with its CSRF token, as the app's own forms send it). Every answer, whatever its
status (a page, a redirect to sign-in, a 404 for someone else's record, a 422), must carry:
CSP with frame-ancestors 'none' and no inline script, nosniff, X-Frame-Options DENY,
Referrer-Policy same-origin, a Permissions-Policy, HSTS, and Cache-Control no-store unless it is
one of the few public, personal-data-free files of the app shell.

A route this test does not know how to call (a new placeholder, a new method) fails it: a new
route cannot slip by without its headers being looked at.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.conftest import Browser
from webapp.security import AUTH_ATTR, CSP

# The demo sign-in for each role (webapp/demo.py).
ROLE_USER = {
    "worker": "worker@demo.test",
    "social_worker": "sw@demo.test",
    "manager": "manager@demo.test",
    "senior_manager": "ad@demo.test",
    "dsl": "dsl@demo.test",
    "carer": "carer@demo.test",
    "admin": "admin@demo.test",
    "iro": "iro@demo.test",
    "cme": "cme@demo.test",
}

# The app shell: public, the same for everyone, no personal data; revalidated rather than never
# stored, so field mode opens with no signal. Anything else must be no-store.
SHELL = {
    "field.shell",
    "field.service_worker",
    "field.offline",
    "field.install_guide",
    "api.interview_schema",  # the interview form's questions, for field mode: no answers
}


def _first(model, *where):
    from webapp.extensions import db

    return db.session.scalars(select(model).where(*where).limit(1)).first()


def arg_values(ids: dict) -> dict[str, str]:
    """A real value for each placeholder of the app's routes, from the demo data (a fresh uuid
    where the demo data has no such row: the answer is then a 404, whose headers count too)."""
    from tests.integration.helpers import interview_of
    from webapp.episodes.models import Episode
    from webapp.reminders.models import Reminder
    from webapp.schools.absence_models import FollowUp, Referral, SchoolNotification
    from webapp.schools.calendar_models import SchoolClosure, SchoolTerm
    from webapp.schools.cme_models import CmeCase

    def id_of(row) -> str:
        return row.id if row is not None else str(uuid.uuid4())

    mia = ids["mia"]  # the carer's child, at the DSL's school, the social worker's and IRO's
    episode = _first(Episode, Episode.child_id == mia)
    return {
        "child_id": mia,
        "episode_id": id_of(episode),
        "interview_id": id_of(interview_of(mia)),
        "user_id": ids["worker2"],  # an admin's and a manager's actions land on worker2
        "device_id": str(uuid.uuid4()),
        "reminder_id": id_of(_first(Reminder)),
        "subscription_id": str(uuid.uuid4()),
        "slug": "why",
        "code": "lac_visit",
        "table": "type",
        "month": datetime.now(UTC).strftime("%Y-%m"),
        "action_id": str(uuid.uuid4()),
        "case_id": id_of(_first(CmeCase)),
        "notification_id": id_of(_first(SchoolNotification)),
        "closure_id": id_of(_first(SchoolClosure)),
        "term_id": id_of(_first(SchoolTerm)),
        "followup_id": id_of(_first(FollowUp)),
        "kind": "ews_day3",
        "referral_id": id_of(_first(Referral)),
        "school_id": ids["school"],
        "filename": "dist/app.css",
    }


def callers(app, endpoint: str) -> list[str | None]:
    """Anonymous, and someone who may use the route (None: anonymous)."""
    if endpoint == "static":
        return [None]
    auth = getattr(app.view_functions[endpoint], AUTH_ATTR, None)
    assert auth is not None, f"{endpoint} does not say who may call it"
    if auth == "public":
        return [None, ROLE_USER["worker"]]
    if auth == "login":
        return [None, ROLE_USER["worker"]]
    roles = auth.removeprefix("roles:").split(",")
    unknown = [r for r in roles if r not in ROLE_USER]
    assert not unknown, f"{endpoint}: no demo sign-in for role(s) {unknown}: add to ROLE_USER"
    return [None, ROLE_USER[roles[0]]]


def problems_with(response, endpoint: str) -> list[str]:
    h = response.headers
    found = []
    csp = h.get("Content-Security-Policy", "")
    if "frame-ancestors 'none'" not in csp or "object-src 'none'" not in csp:
        found.append(f"CSP {csp!r}")
    script_src = next((d for d in csp.split(";") if d.strip().startswith("script-src")), "")
    if "unsafe-inline" in script_src or "unsafe-eval" in script_src or not script_src:
        found.append(f"script-src {script_src!r}")
    if csp != CSP:
        found.append(f"CSP differs from webapp.security.CSP: {csp!r}")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    for name, value in expected.items():
        if h.get(name) != value:
            found.append(f"{name} {h.get(name)!r}")
    perms = h.get("Permissions-Policy", "")
    if "camera=()" not in perms or "geolocation=()" not in perms:
        found.append(f"Permissions-Policy {perms!r}")
    if not h.get("Strict-Transport-Security", "").startswith("max-age=63072000"):
        found.append(f"Strict-Transport-Security {h.get('Strict-Transport-Security')!r}")
    cache = h.get("Cache-Control", "")
    if endpoint == "static":
        pass  # the app shell's files, no personal data: cacheable on purpose
    elif endpoint in SHELL:
        if "no-cache" not in cache and "no-store" not in cache:
            found.append(f"Cache-Control {cache!r} (the shell is revalidated every time)")
    elif "no-store" not in cache:
        found.append(f"Cache-Control {cache!r} (may hold personal data: must be no-store)")
    for cookie in h.getlist("Set-Cookie"):
        lowered = cookie.lower()
        if "; secure" not in lowered or "; httponly" not in lowered:
            found.append(f"cookie without Secure/HttpOnly: {cookie.split('=', 1)[0]}")
    return found


@pytest.fixture
def production_app(database, instance_dir):
    """The app as production configures it: HSTS on, Secure cookies; served over https."""
    from tests.conftest import _make_app

    url, _ = database
    app = _make_app(url, instance_dir)
    # PREFERRED_URL_SCHEME: the test client's requests are https, so Secure cookies go back.
    app.config.update(
        HOMEWARD_ENV="production", SESSION_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https"
    )
    with app.app_context():
        yield app
        from webapp.extensions import db

        db.session.remove()
        db.engine.dispose()


def https_browser(app) -> Browser:
    assert app.config["PREFERRED_URL_SCHEME"] == "https"
    return Browser(app.test_client())


def request(app, who: str | None, method: str, path: str):
    browser = https_browser(app)
    if who:
        browser.login(who)
    if method == "GET":
        return browser.get(path)
    if path.startswith("/api/"):
        return browser.api(method, path, json={})
    if method == "POST":
        return browser.post(path, {})
    return browser.api(method, path)


def sweep(app, values: dict, rules) -> tuple[list[str], int]:
    """(problems, requests made) over `rules`."""
    failures: list[str] = []
    covered = 0
    for rule in sorted(rules, key=lambda r: r.rule):
        missing = [a for a in rule.arguments if a not in values]
        if missing:
            failures.append(f"{rule.rule}: no value for {missing}: add one to arg_values()")
            continue
        path = rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1]
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        unknown = set(methods) - {"GET", "POST", "DELETE"}
        if unknown:
            failures.append(f"{rule.rule}: this test does not send {unknown}: teach it")
            continue
        for method in methods:
            for who in callers(app, rule.endpoint):
                response = request(app, who, method, path)
                covered += 1
                if response.status_code >= 500:
                    failures.append(f"{method} {rule.rule} as {who}: {response.status_code}")
                for problem in problems_with(response, rule.endpoint):
                    failures.append(f"{method} {rule.rule} as {who or 'anonymous'}: {problem}")
    return failures, covered


def test_every_route_sends_the_security_headers(production_app, ids):
    failures, covered = sweep(production_app, arg_values(ids), production_app.url_map.iter_rules())
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures)
    assert covered > 150  # every rule, each method, anonymous and signed in


def test_a_signed_in_page_answers_200_with_the_headers(production_app, ids):
    """The loop above accepts any status; make sure it really reached pages with personal data
    (not only sign-in redirects) by checking a few answer 200 with the child's name."""
    app = production_app
    browser = https_browser(app).login(ROLE_USER["manager"])
    page = browser.get(f"/children/{ids['mia']}")
    assert page.status_code == 200
    assert "Mia" in page.get_data(as_text=True)
    assert problems_with(page, "children.show") == []
    assert page.headers["Cache-Control"] == "no-store"


def test_hsts_only_in_production(app, browser):
    # Development over plain http: HSTS there would pin a developer's localhost to https.
    assert "Strict-Transport-Security" not in browser.get("/sign-in").headers


def test_a_new_route_the_sweep_cannot_call_fails_it(production_app, ids):
    """The sweep's own guard: a rule with a placeholder it has no value for is reported, not
    skipped."""
    from webapp.security import public

    production_app.add_url_rule(
        "/brand-new/<brand_new_id>", "brand_new", public(lambda brand_new_id: "")
    )
    rule = next(r for r in production_app.url_map.iter_rules() if r.endpoint == "brand_new")
    failures, covered = sweep(production_app, arg_values(ids), [rule])
    assert covered == 0
    assert failures == [
        "/brand-new/<brand_new_id>: no value for ['brand_new_id']: add one to arg_values()"
    ]
