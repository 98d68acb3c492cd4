"""The health check's one query, on an engine of its own (a view never queries the database)."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger("homeward.health")

# A monitor or a load balancer waits for /healthz: a database that does not answer within this
# many seconds is down as far as they are concerned (and a server whose requests would all hang
# should be taken out of rotation, not waited on).
HEALTH_TIMEOUT_SECONDS = 3


def _health_engine() -> Engine:
    """An engine of its own for the check, with a short connect and statement timeout.

    Not the app's pool: its connections have no connect timeout (an unreachable host would hold
    the check for minutes) and may all be busy. NullPool opens a new connection each time, so a
    200 also proves the database still accepts new connections.
    """
    engine = current_app.extensions.get("homeward_health_engine")
    if engine is None:
        url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
        if url.get_backend_name() == "postgresql":
            args = {
                "connect_timeout": HEALTH_TIMEOUT_SECONDS,
                "options": f"-c statement_timeout={HEALTH_TIMEOUT_SECONDS * 1000}",
            }
        else:
            args = {"timeout": HEALTH_TIMEOUT_SECONDS}  # SQLite's wait for a lock
        engine = create_engine(url, poolclass=NullPool, connect_args=args, hide_parameters=True)
        current_app.extensions["homeward_health_engine"] = engine
    return engine


def database_answers() -> bool:
    """Whether the database answers a trivial query in time. Why not goes to the log: the
    exception's type only, no message (a message can hold the connection string)."""
    try:
        with _health_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        log.warning("health check failed: database unavailable (%s)", type(cause).__name__)
        return False
    return True
