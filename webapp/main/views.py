from flask import Blueprint, redirect, url_for
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.main import health
from webapp.security import public

bp = Blueprint("main", __name__)

HOME_BY_ROLE = {
    Role.WORKER: "interviews.my_returns",
    Role.MANAGER: "oversight.dashboard",
    Role.ADMIN: "admin.users",
    Role.CME: "cme.worklist",
}


@bp.route("/")
@public
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    return redirect(url_for(HOME_BY_ROLE.get(current_user.role, "children.index")))


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers a trivial query, else 503; for monitors and load balancers.

    The body never says why: a public URL must not tell a passer-by the database's host or
    driver (the log has the cause's type).
    """
    if not health.database_answers():
        return {"status": "unavailable"}, 503
    return {"status": "ok"}
