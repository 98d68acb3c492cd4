"""A database connection lost in the middle of a request: retried once, or a clean 503.

`pool_pre_ping` (config.py) replaces a connection that died while it sat in the pool, but not one
that dies after it was checked out: a PostgreSQL restart or fail-over, or an administrator's
`pg_terminate_backend`, between the ping and a query or between two queries of one request. That
used to answer 500. Now a GET or HEAD (sync pull included) is run once more on a fresh connection,
since reading again is harmless and anything it wrote went down uncommitted with the connection.
Any other method answers 503 with Retry-After instead: a POST may have committed part of its work
before the connection went, so only the client, which knows whether to, sends it again (the
phone's outbox does; a web form says so).
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError

from webapp.extensions import db

log = logging.getLogger("homeward.db")

IDEMPOTENT = frozenset({"GET", "HEAD"})
RETRY_AFTER_SECONDS = 5


class _Retry(Exception):
    """Raised out of the error handler to the dispatch wrapper: run the request once more."""


def _lost_connection(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _fresh_session() -> None:
    db.session.rollback()
    db.session.remove()
    # Flask-Login keeps the signed-in user, loaded through the dead connection's session.
    g.pop("_login_user", None)


def init_app(app: Flask) -> None:
    dispatch = app.full_dispatch_request
    handle = app.handle_user_exception

    def full_dispatch_request():
        try:
            return dispatch()
        except _Retry:
            log.warning("database connection lost during %s; retrying once", request.method)
            _fresh_session()
            return dispatch()

    def handle_user_exception(exc):
        # Ahead of every error handler (the API's catch-all answers 500 for anything).
        if not _lost_connection(exc):
            return handle(exc)
        if request.method in IDEMPOTENT and not g.get("_db_retried"):
            g._db_retried = True
            raise _Retry from exc
        _fresh_session()
        message = "The database was unavailable for a moment. Nothing was lost: send it again."
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if request.path.startswith("/api/"):
            return jsonify(error="unavailable", message=message), 503, headers
        page = render_template("errors/error.html", code=503, message=message)
        return page, 503, headers

    app.full_dispatch_request = full_dispatch_request
    app.handle_user_exception = handle_user_exception
