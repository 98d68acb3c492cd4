from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from webapp.accounts import service
from webapp.accounts.forms import LoginForm
from webapp.accounts.models import User
from webapp.extensions import db, login_manager
from webapp.security import login_required, public

bp = Blueprint("accounts", __name__)

login_manager.login_view = "accounts.login"
login_manager.login_message = "Sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, epoch = session_id.partition(":")
    user = db.session.get(User, user_id)
    if user is None or not user.active or str(user.session_epoch) != epoch:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        return {"error": "unauthorized", "message": "Sign in to continue."}, 401
    flash(login_manager.login_message, "info")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect would turn our sign-in page into a phishing tool.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _throttle() -> service.Throttle:
    cfg = current_app.config
    return service.Throttle(
        max_failures=cfg["HOMEWARD_LOGIN_MAX_FAILURES"],
        window=timedelta(minutes=cfg["HOMEWARD_LOGIN_WINDOW_MINUTES"]),
        ip_max_failures=cfg["HOMEWARD_IP_MAX_FAILURES"],
    )


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = service.authenticate(
                form.email.data, form.password.data, request.remote_addr or "", _throttle()
            )
        except service.LoginThrottled as exc:
            form.email.errors.append(str(exc))
            return render_template("accounts/login.html", form=form), 429
        if user is not None:
            # A new session on sign-in: nothing from before (a planted session) carries over.
            next_url = _safe_next(request.args.get("next"))
            session.clear()
            login_user(user)
            session.permanent = True
            return redirect(next_url or url_for("main.home"))
        form.email.errors.append("The email address or password is not right")
        status = 401
    elif form.errors:
        status = 422
    form.password.data = None  # never echo a password back into the page
    return render_template("accounts/login.html", form=form), status


@bp.route("/sign-out", methods=["POST"])
@public
def logout():
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("accounts.login"))


@bp.route("/account", methods=["GET"])
@login_required
def account():
    return render_template("accounts/account.html")


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    service.sign_out_everywhere(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You have been signed out on every device.", "success")
    return redirect(url_for("accounts.login"))
