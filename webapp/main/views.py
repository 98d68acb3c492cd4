import logging

from flask import Blueprint, current_app, redirect, url_for
from flask_login import current_user
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from webapp.accounts.models import Role
from webapp.security import public

bp = Blueprint("main", __name__)
log = logging.getLogger("homeward.health")

HOME_BY_ROLE = {
    Role.WORKER: "interviews.my_returns",
    Role.MANAGER: "oversight.dashboard",
    Role.ADMIN: "admin.users",
    Role.CME: "cme.worklist",
}

# A monitor or a load balancer waits for /healthz: a database that does not answer within this
# many seconds is down as far as they are concerned (and a server whose requests would all hang
# should be taken out of rotation, not waited on).
HEALTH_TIMEOUT_SECONDS = 3


@bp.route("/")
@public
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    return redirect(url_for(HOME_BY_ROLE.get(current_user.role, "children.index")))


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


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers a trivial query, else 503; for monitors and load balancers.

    The body never says why: a public URL must not tell a passer-by the database's host or
    driver. The reason goes to the log (the exception's type only, no message: a message can
    hold the connection string).
    """
    try:
        with _health_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        log.warning("health check failed: database unavailable (%s)", type(cause).__name__)
        return {"status": "unavailable"}, 503
    return {"status": "ok"}
