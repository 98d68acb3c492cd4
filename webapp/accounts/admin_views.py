"""Administrators manage the accounts of their authority: role and team, deactivation, and
set-password links. Thin views: the rules are in webapp/accounts/service.py."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.accounts import service
from webapp.accounts.forms import UserAccessForm
from webapp.accounts.models import ROLE_LABELS, Role, User
from webapp.errors import NotAllowed, RuleError
from webapp.security import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _user(user_id: str) -> User:
    try:
        return service.user_for(current_user._get_current_object(), user_id)
    except NotAllowed:
        abort(404)


def _access_form(user: User) -> UserAccessForm:
    form = UserAccessForm()
    form.role.choices = [(r.value, ROLE_LABELS[r]) for r in service.roles_for(user)]
    form.team.choices = [("", "No team")] + [(t.id, t.name) for t in service.teams_for(user)]
    return form


def _page(user: User, form: UserAccessForm, status: int = 200, **extra):
    return (
        render_template(
            "admin/user.html",
            user=user,
            form=form,
            failures=service.failures_of(user.email),
            **extra,
        ),
        status,
    )


@bp.route("/users")
@roles_required(Role.ADMIN)
def users():
    return render_template(
        "admin/users.html", users=service.users_of_authority(current_user._get_current_object())
    )


@bp.route("/users/<user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user(user_id: str):
    user = _user(user_id)
    form = _access_form(user)
    if form.validate_on_submit():
        try:
            changed = service.change_role_and_team(
                current_user._get_current_object(), user, form.role.data, form.team.data or None
            )
        except RuleError as exc:
            getattr(form, exc.field or "role").errors.append(exc.message)
            return _page(user, form, 422)
        flash(
            # No name: flash messages travel in the readable session cookie.
            f"{' and '.join(changed).capitalize()} changed." if changed else "Nothing changed.",
            "success",
        )
        return redirect(url_for("admin.user", user_id=user.id))
    if form.errors:
        return _page(user, form, 422)
    form.role.data = user.role
    form.team.data = user.team_id or ""
    return _page(user, form)


@bp.route("/users/<user_id>/deactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def deactivate(user_id: str):
    user = _user(user_id)
    try:
        revoked = service.deactivate(current_user._get_current_object(), user)
    except RuleError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.user", user_id=user.id))
    devices = f" and {revoked} device{'s' if revoked != 1 else ''} revoked" if revoked else ""
    # The flash lives in the (readable) session cookie: no names there; the page shows whose.
    flash(f"The account is deactivated: signed out everywhere{devices}.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/<user_id>/reactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def reactivate(user_id: str):
    user = _user(user_id)
    service.reactivate(current_user._get_current_object(), user)
    flash("The account can sign in again.", "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.route("/users/<user_id>/reset-password", methods=["POST"])
@roles_required(Role.ADMIN)
def reset_password(user_id: str):
    user = _user(user_id)
    try:
        code = service.issue_reset_token(
            current_user._get_current_object(), user, current_app.config["SECRET_KEY"]
        )
    except RuleError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.user", user_id=user.id))
    # Shown in this answer only (no-store, never flashed into the session or put in a redirect):
    # the administrator passes it on, and it works once.
    link = url_for("accounts.set_password", code=code, _external=True)
    return _page(user, _access_form_filled(user), reset_link=link)


def _access_form_filled(user: User) -> UserAccessForm:
    form = _access_form(user)
    form.role.data = user.role
    form.team.data = user.team_id or ""
    return form
