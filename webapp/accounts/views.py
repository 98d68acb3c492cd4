from __future__ import annotations

import time
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user, user_logged_out

from webapp.accounts import second_factor, service, sessions, signin_flow
from webapp.accounts.forms import ChangePasswordForm, LoginForm, SetPasswordForm
from webapp.accounts.models import User
from webapp.devices import revocation
from webapp.errors import RuleError
from webapp.extensions import limiter, login_manager
from webapp.security import login_required, public
from webapp.urls import safe_local_path

bp = Blueprint("accounts", __name__)

# Where a right password leads when a second factor follows (webapp/accounts/mfa_views.py).
SECOND_STEP_ENDPOINTS = {
    "code": "accounts.second_factor_code",
    "enrol": "accounts.second_factor_enrol_at_sign_in",
}

login_manager.login_view = "accounts.login"
login_manager.login_message = "Sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """The cookie names a server-side session bound to one device (webapp/accounts/sessions.py);
    a revoked device keeps only what the revocation rule leaves it."""
    g.device_gone = g.revoked_device = None  # a retried request (dbretry) decides afresh
    loaded = sessions.load(token, g.get("device_id"), current_app.permanent_session_lifetime)
    if loaded is None:
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if not revocation.may(loaded.device, revocation.action_of(view)):
        g.device_gone = True  # unauthorized() tells the field app to wipe itself
        return None
    g.revoked_device = loaded.device if loaded.device and loaded.device.revoked else None
    g.device_row = loaded.device  # read with the session: the sync views note the sync on it
    # Who the request's log line is about, noted while the row is loaded: after the commit its
    # attributes are expired and reading them would cost one more query (webapp/logs.py).
    g.log_user = (loaded.user.id, loaded.user.role)
    return loaded.user


@user_logged_out.connect
def _end_server_session(_app, user, **_extra) -> None:
    # Every sign-out (the idle timeout's too) ends the session on the server, not just the cookie.
    sessions.end(getattr(user, "session_token", None), sessions.SIGN_OUT)


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        if g.get("device_gone"):
            return revocation.GONE, 410
        return {"error": "unauthorized", "message": "Sign in to continue."}, 401
    if g.get("device_gone"):
        flash(revocation.GONE["message"], "info")
        return redirect(url_for("accounts.login"))
    flash(login_manager.login_message, "info")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect would turn our sign-in page into a phishing tool.
    return safe_local_path(target)


def _throttle() -> service.Throttle:
    cfg = current_app.config
    return service.Throttle(window=timedelta(minutes=cfg["HOMEWARD_LOGIN_WINDOW_MINUTES"]))


def _signin_limit() -> str:
    return current_app.config["HOMEWARD_SIGNIN_RATE_LIMIT"]


def _failed(response) -> bool:
    # Only wrong passwords (and tries while told to wait) use up an address's allowance: a whole
    # office signs in from one address, and "busy" is the server's doing, not the client's.
    return response.status_code in (401, 429)


def _too_many_from_address(limit):
    seconds = max(1, int(limit.reset_at - time.time()))
    form = LoginForm()  # bound to the posted form: the typed email stays
    form.password.data = None
    form.email.errors = [
        f"Too many failed attempts from your network. Try again in {seconds} seconds."
    ]
    body = render_template("accounts/login.html", form=form)
    return current_app.response_class(body, 429, {"Retry-After": str(seconds)})


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(
    _signin_limit, methods=["POST"], deduct_when=_failed, on_breach=_too_many_from_address
)
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
            form.password.data = None
            page = render_template("accounts/login.html", form=form)
            return page, 429, {"Retry-After": str(exc.seconds)}
        except service.ServerBusy as exc:
            form.email.errors.append(str(exc))
            form.password.data = None
            return render_template("accounts/login.html", form=form), 503, {"Retry-After": "2"}
        if user is not None:
            # A new session on sign-in: nothing from before (a planted session) carries over.
            next_url = _safe_next(request.args.get("next"))
            step = second_factor.sign_in_step(user)
            if step is not None:
                # Not signed in yet: the code (or setting up the app) comes first.
                signin_flow.begin(user, step, next_url)
                return redirect(url_for(SECOND_STEP_ENDPOINTS[step]))
            signin_flow.complete(user)
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
    # By the cookie's token, so that a session current_user no longer loads (a revoked device's,
    # one carried to another browser) is ended too.
    sessions.end(session.get("_user_id"), sessions.SIGN_OUT)
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("accounts.login"))


@bp.route("/account", methods=["GET"])
@login_required
def account():
    user = current_user._get_current_object()
    return render_template(
        "accounts/account.html", second_factor_on=second_factor.has_second_factor(user)
    )


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    service.sign_out_everywhere(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You have been signed out on every device.", "success")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            service.change_own_password(
                current_user._get_current_object(),
                form.current_password.data,
                form.new_password.data,
            )
        except RuleError as exc:
            getattr(form, exc.field).errors.append(exc.message)
            status = 422
        except service.ServerBusy as exc:
            form.new_password.errors.append(str(exc))
            status = 503
        else:
            # Every session of the account ended with the change, this one too: signing in again
            # proves the new password works before the person walks away.
            logout_user()
            session.clear()
            flash("Your password has changed. Sign in with your new password.", "success")
            return redirect(url_for("accounts.login"))
    elif form.errors:
        status = 422
    for field in (form.current_password, form.new_password, form.confirm_password):
        field.data = None
    return render_template("accounts/change_password.html", form=form), status


def _reset_failed(response) -> bool:
    return response.status_code != 302


@bp.route("/set-password", methods=["GET", "POST"])
@public
@limiter.limit(_signin_limit, methods=["POST"], deduct_when=_reset_failed)
def set_password():
    """The page a set-password link opens. The code comes in the query string (never logged:
    the access log keeps paths only) and travels on in the form."""
    secret = current_app.config["SECRET_KEY"]
    form = SetPasswordForm()
    if request.method == "GET":
        form.code.data = request.args.get("code", "")
    status = 200
    try:
        user = service.user_for_reset_token(form.code.data or "", secret)
    except service.InvalidResetToken:
        return render_template("accounts/set_password_invalid.html"), 410
    if form.validate_on_submit():
        try:
            service.set_password_with_token(form.code.data, form.new_password.data, secret)
        except service.PasswordRejected as exc:
            form.new_password.errors.append(str(exc))
            status = 422
        except service.InvalidResetToken:
            return render_template("accounts/set_password_invalid.html"), 410
        except service.ServerBusy as exc:
            form.new_password.errors.append(str(exc))
            status = 503
        else:
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Your password is set. Sign in with it now.", "success")
            return redirect(url_for("accounts.login"))
    elif form.errors:
        status = 422
    form.new_password.data = form.confirm_password.data = None
    return render_template("accounts/set_password.html", form=form, user=user), status
