"""The notification centre and reminder settings: every reminder, whether or not push reached a
phone, and the switch to turn push on or off for each device."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.db_types import utcnow
from webapp.errors import NotAllowed
from webapp.push import service as push
from webapp.reminders import schedule, service
from webapp.security import login_required
from webapp.urls import safe_local_path

bp = Blueprint("reminders", __name__, url_prefix="/notifications")


@bp.route("/")
@login_required
def centre():
    now = utcnow()
    rows = service.centre(current_user, now)
    unread = {r.id for r in rows if r.read_at is None}
    service.mark_all_read(current_user, now)
    return render_template("reminders/centre.html", reminders=rows, unread=unread)


@bp.route("/<reminder_id>")
@login_required
def open_reminder(reminder_id: str):
    """Where a tapped notification lands: its opaque id becomes the page it is about."""
    try:
        row = service.open_reminder(current_user, reminder_id)
    except NotAllowed:
        abort(404)
    if landing := service.school_landing(current_user, row):
        endpoint, values = landing
        return redirect(url_for(endpoint, **values))
    if child_id := service.appointment_child_id(current_user, row):
        return redirect(url_for("children.show", child_id=child_id))
    if row.subject_type == schedule.INTERVIEW:
        return redirect(url_for("interviews.show", interview_id=row.subject_id))
    if row.subject_type == schedule.EPISODE:
        return redirect(url_for("episodes.show", episode_id=row.subject_id))
    return redirect(url_for("reminders.centre"))


@bp.route("/settings")
@login_required
def settings():
    return render_template(
        "reminders/settings.html",
        subscriptions=push.subscriptions(current_user),
        push_enabled=push.public_key() is not None,
    )


@bp.route("/test", methods=["POST"])
@login_required
def send_test():
    service.queue_test(current_user)
    flash("A test notification is on its way to each device with reminders turned on.", "success")
    return redirect(url_for("reminders.settings"))


@bp.route("/subscriptions/<subscription_id>/delete", methods=["POST"])
@login_required
def turn_off(subscription_id: str):
    if not push.unsubscribe(current_user, subscription_id=subscription_id):
        abort(404)
    flash("Reminders are turned off for that device.", "success")
    return redirect(safe_local_path(request.form.get("back")) or url_for("reminders.settings"))
