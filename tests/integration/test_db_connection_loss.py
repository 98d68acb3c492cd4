"""A database connection lost between requests or in the middle of one never answers 500.

PostgreSQL only: the app's own server processes are ended with pg_terminate_backend, as a
restart, a fail-over or an administrator would end them. Between requests the pool's pre-ping
notices; mid-request (after the ping, between two statements) a GET is run again on a fresh
connection and a POST answers 503 with Retry-After, having saved nothing, so the client sends it
again.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from tests.conftest import _pg_exec
from tests.integration.helpers import fresh, interview_of
from webapp.extensions import db
from webapp.interviews import service as interviews

# PostgreSQL only, whatever the test matrix: the backend below is pinned, not chosen.
pytestmark = pytest.mark.postgres


@pytest.fixture
def backend():
    return "postgresql"


def terminate_app_connections() -> None:
    db.session.remove()  # the test's own session too: it would find its connection gone
    name = db.engine.url.database
    _pg_exec(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )


@contextmanager
def connection_lost_at(*statements: int):
    """End the app's connection just before its nth statement (counted from now), for each n:
    after the pool's pre-ping, so only the request itself can notice."""
    seen = {"count": 0}

    def before(conn, cursor, statement, parameters, context, executemany):
        seen["count"] += 1
        if seen["count"] in statements:
            pid = conn.connection.dbapi_connection.info.backend_pid
            _pg_exec(f"SELECT pg_terminate_backend({pid}, 5000)")

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def test_connections_ended_between_requests(as_user, ids):
    worker = as_user("worker@demo.test")
    kai = interview_of(ids["kai"])
    assert worker.get(f"/interviews/{kai.id}").status_code == 200
    terminate_app_connections()
    r = worker.get(f"/interviews/{kai.id}")
    assert r.status_code == 200
    terminate_app_connections()
    assert worker.get("/api/v1/sync/pull").status_code != 500


@pytest.mark.parametrize("at", [1, 2, 3, 5])
def test_a_get_that_loses_its_connection_is_answered_on_a_fresh_one(as_user, ids, at):
    worker = as_user("worker@demo.test")
    kai = interview_of(ids["kai"])
    with connection_lost_at(at) as seen:
        r = worker.get(f"/interviews/{kai.id}")
    assert seen["count"] > at  # the statements after the loss ran, on a new connection
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert "Kai" in r.get_data(as_text=True)


def test_a_get_that_loses_two_connections_answers_503_not_500(as_user, ids):
    worker = as_user("worker@demo.test")
    with connection_lost_at(2, 12):
        r = worker.get("/api/v1/sync/pull")
    assert r.status_code == 503, r.get_data(as_text=True)[:300]
    assert r.headers["Retry-After"].isdigit()
    assert r.json["error"] == "unavailable"


def test_a_post_that_loses_its_connection_answers_503_saves_nothing_and_can_be_resent(as_user, ids):
    worker = as_user("worker@demo.test")
    kai = interview_of(ids["kai"])
    url = f"/interviews/{kai.id}/sections/why"
    worker.get(url)  # the form, and its CSRF token
    with connection_lost_at(3):
        r = worker.post(url, {"why_details": "Sent twice"})
    assert r.status_code == 503, r.get_data(as_text=True)[:300]
    assert r.headers["Retry-After"].isdigit()
    assert "send it again" in r.get_data(as_text=True)
    assert interviews.answers(fresh(kai)).get("why_details") != "Sent twice"

    r = worker.post(url, {"why_details": "Sent twice"})
    assert r.status_code == 302
    assert interviews.answers(fresh(kai))["why_details"] == "Sent twice"
    # The app's pool is healthy again afterwards.
    assert db.session.execute(text("SELECT 1")).scalar_one() == 1


def test_a_sync_pull_that_loses_its_connection_is_answered_on_a_fresh_one(as_user, ids):
    worker = as_user("worker@demo.test")
    normal = worker.get("/api/v1/sync/pull")
    with connection_lost_at(2):
        again = worker.get("/api/v1/sync/pull")
    assert again.status_code == normal.status_code == 200, again.get_data(as_text=True)[:300]
    assert again.json.keys() == normal.json.keys()
