"""The versioned JSON API, /api/v1: its own routes (episodes, the session, the device) and, as
nested blueprints, the sync (sync_views.py) and push subscription (push_views.py) routes, each
answering its failures in its own words (problems.py)."""

from flask import Blueprint, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from sync.protocol import PROTOCOL_VERSION, openapi_document
from webapp.api import photo_views, push_views, sync_views
from webapp.api.problems import failure_handler, revoked
from webapp.db_types import utcnow
from webapp.deadlines import rhi_due_at
from webapp.devices import revocation
from webapp.devices import service as devices
from webapp.episodes import service as episodes
from webapp.errors import NotAllowed
from webapp.field import views as field_views
from webapp.security import login_required, public
from webapp.templating import iso

bp = Blueprint("api", __name__)
bp.register_error_handler(Exception, failure_handler("api"))
# Nested, so each answers its own failures in its own words and the rest falls back to the API's.
bp.register_blueprint(sync_views.bp)
bp.register_blueprint(push_views.bp)
bp.register_blueprint(photo_views.bp)


@bp.route("/episodes/<episode_id>")
@login_required
def episode(episode_id: str):
    ep = episodes.read_episode(current_user, episode_id)
    now = utcnow()
    thresholds = episodes.children.thresholds()
    return jsonify(
        id=ep.id,
        child_id=ep.child_id,
        status=ep.status,
        reported_type=ep.reported_type,
        missing_from=ep.missing_from,
        police_category=ep.police_category,
        police_log_number=ep.police_log_number,
        last_seen_at=iso(ep.last_seen_at),
        reported_to_police_at=iso(ep.reported_to_police_at) or None,
        returned_at=iso(ep.returned_at) or None,
        how_returned=ep.how_returned,
        found_place=ep.found_place,
        rhi_due_at=iso(rhi_due_at(ep.returned_at, thresholds)) if ep.returned_at else None,
        escalations=[
            {
                "code": e.code,
                "title": e.title,
                "who": e.who,
                "due_at": iso(e.due_at),
                "state": e.state,
                "reason": e.reason,
            }
            for e in episodes.escalations(ep, now)
        ],
        version=ep.version,
    )


@bp.route("/session")
@login_required
@revocation.still_allowed(revocation.STANDING)
def session_info():
    """Who is signed in here, the CSRF token for the field app, and the device's standing."""
    device = devices.touch(current_user, g.device_id, request.user_agent.string or "")
    return jsonify(
        user_id=current_user.id,
        role=current_user.role,
        csrf_token=generate_csrf(),
        device={"revoked": device.revoked},
        protocol=PROTOCOL_VERSION,
    )


@bp.route("/devices/recovery-key")
@login_required
def recovery_key():
    try:
        key = devices.recovery_key(current_user, g.device_id)
    except NotAllowed:
        return revoked()
    return jsonify(key=key)


@bp.route("/devices/wiped", methods=["POST"])
@login_required
@revocation.still_allowed(revocation.REPORT_WIPE)
def device_wiped():
    devices.mark_wiped(current_user, g.device_id)
    return jsonify(ok=True)


@bp.route("/schema/interview")
@public
def interview_schema():
    # Field mode precaches it: the question set and its rules, thresholds, record types.
    return field_views.interview_schema()


@bp.route("/openapi.json")
@public
def openapi():
    return jsonify(openapi_document(server_url="/api/v1"))
