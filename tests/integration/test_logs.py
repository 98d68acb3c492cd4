"""What `homeward serve` writes to its log while people use it: JSON lines, one per request, and
no personal data anywhere in the output (the app's lines, gunicorn's access and error lines).

A real server (gunicorn, production log format) on a demo instance, driven over HTTP: a failed
and a good sign-in with an email address, a child's page, a search by a child's name, an
interview section saved with words only the child said, a refused cross-site POST, a 404.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
from sqlalchemy import select

from tests.e2e.conftest import demo_instance, instance_app, start_server, stop_server

SAID = "Zephyrine told me about the blue caravan by the quarry"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "logs-instance")
    env = dict(env, HOMEWARD_LOG_FORMAT="json", HOMEWARD_DISPATCHER="separate")
    app = instance_app(env)
    from webapp.accounts.models import User
    from webapp.children.models import Child
    from webapp.extensions import db
    from webapp.interviews.models import Interview

    with app.app_context():
        worker = db.session.scalar(select(User).where(User.email == "worker@demo.test"))
        interview = db.session.scalar(
            select(Interview).where(Interview.allocated_to_id == worker.id)
        )
        child = db.session.get(Child, interview.child_id)
        facts = {
            "interview_id": interview.id,
            "child_id": child.id,
            "child_names": [child.first_name, child.last_name],
            "people": [(u.email, u.name) for u in db.session.scalars(select(User))],
            "worker_id": worker.id,
            "secret_key": app.config["SECRET_KEY"],
        }
        db.engine.dispose()
    proc, base = start_server(instance, env, log_name="server.log")
    try:
        yield base, instance / "server.log", facts
    finally:
        stop_server(proc)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html)[1]


def drive(base: str, facts: dict) -> list[str]:
    """The requests of a working morning; returns the X-Request-IDs the server answered with."""
    s = requests.Session()
    ids = []

    def keep(r):
        ids.append(r.headers.get("X-Request-ID"))
        return r

    page = keep(s.get(base + "/sign-in"))
    token = csrf_of(page.text)
    # A failed sign-in with someone else's address, then the worker's own.
    keep(
        s.post(
            base + "/sign-in",
            data={"email": "manager@demo.test", "password": "wrong-one", "csrf_token": token},
        )
    )
    time.sleep(2.1)  # a failure makes the next try from this address wait 2 s
    r = keep(
        s.post(
            base + "/sign-in",
            data={"email": "worker@demo.test", "password": "homeward-demo", "csrf_token": token},
            allow_redirects=False,
        )
    )
    assert r.status_code == 302, r.text[:500]
    token = csrf_of(keep(s.get(base + "/returns")).text)
    keep(s.get(base + f"/children/{facts['child_id']}"))
    keep(s.get(base + "/children/", params={"q": " ".join(facts["child_names"])}))
    iid = facts["interview_id"]
    r = keep(
        s.post(
            base + f"/interviews/{iid}/sections/why",
            data={"reasons": ["friends"], "why_details": SAID, "csrf_token": token},
            headers={"Origin": base},
            allow_redirects=False,
        )
    )
    assert r.status_code == 302, r.text[:1000]
    assert SAID in s.get(base + f"/interviews/{iid}/sections/why").text  # it was saved
    # A forged cross-site POST (refused and logged as a warning), and a page that is not there.
    keep(
        s.post(
            base + f"/interviews/{iid}/sections/why",
            data={"why_details": SAID, "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
    )
    keep(s.get(base + "/children/not-a-child-of-ours?name=Zephyrine"))
    keep(s.post(base + "/sign-out", data={"csrf_token": token}))
    return ids


def test_server_log_is_json_lines_without_personal_data(served):
    base, log_path, facts = served
    answered = drive(base, facts)
    time.sleep(0.5)  # gunicorn writes its access line after the response
    output = log_path.read_text()

    # Nothing that names or identifies a person, or repeats what a child said.
    forbidden = [SAID, "Zephyrine", "caravan", *facts["child_names"], "wrong-one", "homeward-demo"]
    for email, name in facts["people"]:
        forbidden += [email, name]
    leaks = [word for word in forbidden if word.lower() in output.lower()]
    assert not leaks, f"in the log: {leaks}\n{output}"
    # No query string (the search was for a name) and no token from a form.
    assert "?q=" not in output and "?name=" not in output and "csrf_token=" not in output

    # The app's lines are JSON; one request line per request, joined by the X-Request-ID.
    app_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests_logged = {e["request_id"]: e for e in app_lines if e.get("event") == "request"}
    assert set(answered) <= set(requests_logged), "a request without its log line"
    save = next(
        e
        for e in requests_logged.values()
        if e["endpoint"] == "interviews.section" and e["method"] == "POST" and e["status"] == 302
    )
    assert save["route"] == "/interviews/<interview_id>/sections/<slug>"
    assert isinstance(save["duration_ms"], float)
    # The person is a pseudonym: the same one on each of their requests, not their id.
    from webapp.logs import pseudonym

    assert save["user"] == pseudonym(facts["secret_key"], facts["worker_id"])
    assert facts["worker_id"] not in output
    assert save["role"] == "worker"
    statuses = sorted(e["status"] for e in requests_logged.values())
    assert 400 in statuses and 404 in statuses  # the refused POST, the missing page
    refused = [e for e in app_lines if e["level"] == "WARNING" and "Refused" in e["message"]]
    assert refused and refused[0]["request_id"] in requests_logged


def test_an_unsafe_request_id_is_replaced(served):
    base, _, _ = served
    mine = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
    assert (
        requests.get(base + "/healthz", headers={"X-Request-ID": mine}).headers["X-Request-ID"]
        == mine
    )
    sneaky = "Zephyrine Smith lives at 1 High St"
    answered = requests.get(base + "/healthz", headers={"X-Request-ID": sneaky}).headers[
        "X-Request-ID"
    ]
    assert answered != sneaky and re.fullmatch(r"[0-9a-f]{32}", answered)


def test_each_worker_leaves_its_startup_heap_out_of_garbage_collection(served):
    # webapp.cli.freeze_heap: without it the collector walked the whole long-lived heap again
    # and again (a fifth of a full pull's CPU in bench/profile_pull.py). Said in the log so that
    # an operator, and this test, can see it happened in the real server's workers.
    _, log_path, _ = served
    frozen = re.findall(
        r"worker \d+: (\d+) long-lived objects left out of garbage collection", log_path.read_text()
    )
    assert frozen, "no worker said it froze its heap"
    assert all(int(n) > 50_000 for n in frozen)  # the app, its modules and SQLAlchemy's mappers
