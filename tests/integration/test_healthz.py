"""/healthz: 200 when the database answers, 503 with nothing to learn from when it does not, and
quickly either way (a monitor must not hang on a database that has stopped answering)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from tests.conftest import _make_app

pytestmark = pytest.mark.both_databases


@pytest.fixture(autouse=True)
def health_log_enabled():
    # Alembic's env.py runs logging.config.fileConfig, which disables every logger that existed
    # before it (the test session's migrations run after webapp was imported).
    logging.getLogger("homeward.health").disabled = False


def test_healthy_database_answers_200(app, browser):
    response = browser.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def _down(app, url: str):
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.extensions.pop("homeward_health_engine", None)


def _assert_unavailable(response, caplog, url_parts: list[str]):
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}
    body = response.get_data(as_text=True)
    for part in url_parts:
        assert part not in body
    # The log says what failed, not where: no host, port or file name.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "homeward.health")
    assert "database unavailable" in logged
    for part in url_parts:
        assert part not in logged


def test_database_refusing_connections_is_503_without_detail(app, browser, backend, caplog):
    caplog.set_level(logging.WARNING)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if backend == "postgresql":
        _down(app, f"postgresql+psycopg://homeward:pw@127.0.0.1:{port}/gone")
        parts = [str(port), "gone", "homeward:pw"]
    else:
        _down(app, "sqlite:////nonexistent-dir-hw/gone.sqlite3")
        parts = ["nonexistent-dir-hw", "gone.sqlite3"]
    _assert_unavailable(browser.get("/healthz"), caplog, parts)


def test_database_that_never_answers_is_503_within_the_timeout(app, browser, backend, caplog):
    """A server that accepts the connection and then says nothing (a hung host, a black-holed
    network): the check gives up after its few seconds, not the driver's minutes."""
    if backend != "postgresql":
        pytest.skip("SQLite has no network to hang on")
    from webapp.main.health import HEALTH_TIMEOUT_SECONDS

    caplog.set_level(logging.WARNING)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        _down(app, f"postgresql+psycopg://homeward@127.0.0.1:{port}/silent")
        started = time.monotonic()
        response = browser.get("/healthz")
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    _assert_unavailable(response, caplog, [str(port), "silent"])
    assert took < HEALTH_TIMEOUT_SECONDS * 2 + 1, f"took {took:.1f} s"
    assert held, "the check never reached the silent server"


def test_recovers_when_the_database_comes_back(database, instance_dir):
    url, _ = database
    app = _make_app(url, instance_dir)
    client = app.test_client()
    good = app.config["SQLALCHEMY_DATABASE_URI"]
    _down(app, "sqlite:////nonexistent-dir-hw/gone.sqlite3")
    assert client.get("/healthz").status_code == 503
    _down(app, good)
    assert client.get("/healthz").status_code == 200
