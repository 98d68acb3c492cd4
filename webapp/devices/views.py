from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.devices import service
from webapp.errors import NotAllowed
from webapp.security import roles_required
from webapp.urls import safe_local_path

bp = Blueprint("devices", __name__, url_prefix="/devices")


@bp.route("/")
@roles_required(Role.MANAGER, Role.ADMIN)
def index():
    return render_template("devices/index.html", devices=service.devices_for(current_user))


@bp.route("/<user_id>/<device_id>/revoke", methods=["POST"])
@roles_required(Role.MANAGER, Role.ADMIN)
def revoke(user_id: str, device_id: str):
    try:
        device = service.revoke(current_user, device_id, user_id)
    except NotAllowed:
        abort(404)
    # No person's name: flash messages travel in the session cookie, which is signed, not secret.
    flash(
        f"{device.label} is revoked. Its Homeward data will be deleted the next time it connects.",
        "success",
    )
    return redirect(safe_local_path(request.form.get("back")) or url_for("devices.index"))
