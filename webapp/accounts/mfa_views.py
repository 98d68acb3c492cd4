"""The second factor's pages: the code after the password, setting up an authenticator app (at
sign-in when the role requires it, or from the account page), recovery codes, turning it off.

Thin: the rules are in webapp/accounts/second_factor.py, the pending state between the password
and the code in webapp/accounts/signin_flow.py.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.accounts import second_factor as factor
from webapp.accounts import service, signin_flow
from webapp.accounts.forms import (
    RecoveryCodesForm,
    SecondFactorCodeForm,
    SecondFactorEnrolForm,
    SecondFactorOffForm,
)
from webapp.accounts.views import _failed, _signin_limit, _throttle, bp
from webapp.errors import RuleError
from webapp.extensions import limiter
from webapp.security import AUTH_ATTR, login_required, public

SIGN_IN_AGAIN = "Your sign-in timed out before the code was entered. Sign in again."


def _ip() -> str:
    return request.remote_addr or ""


def _refused(form, exc: Exception):
    """A throttled, busy or wrong attempt: the message on the code field, and its status."""
    form.code.errors.append(str(exc.args[0]) if isinstance(exc, factor.WrongCode) else str(exc))
    if isinstance(exc, service.LoginThrottled):
        return 429, {"Retry-After": str(exc.seconds)}
    if isinstance(exc, service.ServerBusy):
        return 503, {"Retry-After": "2"}
    return 401, {}


_REFUSALS = (factor.WrongCode, service.LoginThrottled, service.ServerBusy)


def _back_to_sign_in(had_pending: bool):
    if had_pending:
        flash(SIGN_IN_AGAIN, "info")
    return redirect(url_for("accounts.login"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
@limiter.limit(_signin_limit, methods=["POST"], deduct_when=_failed)
def second_factor_code():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    had_pending = signin_flow.had_pending()
    user = signin_flow.pending_user("code")
    if user is None:
        return _back_to_sign_in(had_pending)
    form = SecondFactorCodeForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            kind = factor.verify(user, form.code.data, _ip(), _throttle())
        except _REFUSALS as exc:
            status, headers = _refused(form, exc)
        else:
            next_url = signin_flow.pending_next()
            signin_flow.complete(user)
            if kind == "recovery":
                left = factor.recovery_codes_left(user)
                flash(
                    f"You used a recovery code. You have {left} left: make new ones from your "
                    "account page if you are running out.",
                    "info",
                )
            return redirect(next_url or url_for("main.home"))
    elif form.errors:
        status = 422
    form.code.data = None
    return render_template("accounts/second_factor_code.html", form=form), status, headers


def _enrol(user, *, at_sign_in: bool):
    secret = factor.begin_enrolment(user)
    form = SecondFactorEnrolForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            codes = factor.confirm_enrolment(user, form.code.data, _ip(), _throttle())
        except _REFUSALS as exc:
            status, headers = _refused(form, exc)
        else:
            if at_sign_in:
                next_url = signin_flow.pending_next()
                signin_flow.complete(user)
                continue_url = next_url or url_for("main.home")
            else:
                continue_url = url_for("accounts.second_factor")
            # Shown once, in the answer to this POST (no-store like every page): never again.
            return render_template(
                "accounts/recovery_codes.html", codes=codes, continue_url=continue_url
            )
    elif form.errors:
        status = 422
    form.code.data = None
    uri = factor.provisioning_uri(secret, user.email)
    return (
        render_template(
            "accounts/second_factor_set_up.html",
            form=form,
            qr=factor.qr_svg(uri),
            secret_groups=[secret[i : i + 4] for i in range(0, len(secret), 4)],
            at_sign_in=at_sign_in,
        ),
        status,
        headers,
    )


@bp.route("/sign-in/set-up", methods=["GET", "POST"])
@public
@limiter.limit(_signin_limit, methods=["POST"], deduct_when=_failed)
def second_factor_enrol_at_sign_in():
    """Straight after the password, for a role that requires a second factor and has none."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.second_factor_set_up"))
    had_pending = signin_flow.had_pending()
    user = signin_flow.pending_user("enrol")
    if user is None:
        return _back_to_sign_in(had_pending)
    return _enrol(user, at_sign_in=True)


@bp.route("/account/second-factor", methods=["GET"], endpoint="second_factor")
@login_required
def second_factor_page():
    user = current_user._get_current_object()
    return render_template(
        "accounts/second_factor.html",
        enrolled=factor.has_second_factor(user),
        required=factor.required_for(user.role),
        codes_left=factor.recovery_codes_left(user),
        codes_form=RecoveryCodesForm(),
    )


@bp.route("/account/second-factor/set-up", methods=["GET", "POST"])
@login_required
def second_factor_set_up():
    user = current_user._get_current_object()
    if factor.has_second_factor(user):
        return redirect(url_for("accounts.second_factor"))
    return _enrol(user, at_sign_in=False)


@bp.route("/account/second-factor/recovery-codes", methods=["POST"])
@login_required
@limiter.limit(_signin_limit, methods=["POST"], deduct_when=_failed)
def second_factor_recovery_codes():
    user = current_user._get_current_object()
    if not factor.has_second_factor(user):
        return redirect(url_for("accounts.second_factor"))
    form = RecoveryCodesForm()
    status, headers = 422, {}
    if form.validate_on_submit():
        try:
            codes = factor.regenerate_recovery_codes(user, form.code.data, _ip(), _throttle())
        except _REFUSALS as exc:
            status, headers = _refused(form, exc)
        else:
            return render_template(
                "accounts/recovery_codes.html",
                codes=codes,
                continue_url=url_for("accounts.second_factor"),
                replaced=True,
            )
    form.code.data = None
    page = render_template(
        "accounts/second_factor.html",
        enrolled=True,
        required=factor.required_for(user.role),
        codes_left=factor.recovery_codes_left(user),
        codes_form=form,
    )
    return page, status, headers


@bp.route("/account/second-factor/turn-off", methods=["GET", "POST"])
@login_required
@limiter.limit(_signin_limit, methods=["POST"], deduct_when=_failed)
def second_factor_turn_off():
    user = current_user._get_current_object()
    if not factor.has_second_factor(user) or factor.required_for(user.role):
        return redirect(url_for("accounts.second_factor"))
    form = SecondFactorOffForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            factor.turn_off(user, form.password.data, form.code.data, _ip(), _throttle())
        except RuleError as exc:
            getattr(form, exc.field or "code").errors.append(exc.message)
            status = 401
        except (service.LoginThrottled, service.ServerBusy) as exc:
            status, headers = _refused(form, exc)
        else:
            flash("The second factor is off. You sign in with your password alone.", "success")
            return redirect(url_for("accounts.second_factor"))
    elif form.errors:
        status = 422
    form.password.data = form.code.data = None
    return render_template("accounts/second_factor_off.html", form=form), status, headers


# ---------------------------------------------------------------- the gate

# What a person who must set up a second factor may still reach while signed in without one.
_GATE_OPEN = {"static", "accounts.second_factor_set_up", "accounts.logout"}


def second_factor_gate():
    """A signed-in person whose role requires a second factor and who has none (their role was
    changed while they were signed in, or the session began before second factors existed) can
    reach nothing but the set-up page. Checked on every request; one primary-key read, and only
    for those roles."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in _GATE_OPEN:
        return None
    view = current_app.view_functions.get(endpoint)
    if getattr(view, AUTH_ATTR, None) == "public":
        return None
    if not current_user.is_authenticated or not factor.required_for(current_user.role):
        return None
    if factor.has_second_factor(current_user):
        return None
    if request.path.startswith("/api/"):
        # As for a session that ended: field mode keeps its outbox and asks to sign in again.
        message = "Set up your second factor to continue: sign in again."
        return {"error": "unauthorized", "message": message}, 401
    flash("Your role needs a second factor. Set one up to continue.", "info")
    return redirect(url_for("accounts.second_factor_set_up"))
