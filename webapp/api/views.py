"""The versioned JSON API. Issue 3 adds the sync endpoints here as the thin face of sync/."""

from flask import Blueprint, jsonify
from flask_login import current_user

from webapp.db_types import utcnow
from webapp.deadlines import rhi_due_at
from webapp.episodes import service as episodes
from webapp.security import login_required
from webapp.templating import iso

bp = Blueprint("api", __name__)


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
