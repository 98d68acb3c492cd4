"""Push subscription API: the thin face of push/service.py, nested in the versioned JSON API.

Its failures are answered by the API's own handler: never with the sync routes' "it will be sent
again" (nothing sends a subscription again on its own)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_login import current_user

from webapp.errors import RuleError
from webapp.push import service
from webapp.security import login_required

bp = Blueprint("push", __name__)


@bp.route("/push/key")
@login_required
def push_key():
    key = service.public_key()
    # this_device lets the settings page offer "Turn on" when the browser's subscription is
    # someone else's (a shared phone) rather than say reminders are on.
    return jsonify(
        enabled=key is not None,
        public_key=key,
        this_device=service.device_holder(current_user, g.device_id),
    )


@bp.route("/push/subscriptions", methods=["POST"])
@login_required
def push_subscribe():
    if service.public_key() is None:
        return jsonify(error="push_unavailable", message="Push reminders are not set up here"), 503
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="invalid_payload", message="Send the subscription as JSON"), 400
    try:
        row = service.subscribe(
            current_user,
            g.device_id,
            request.user_agent.string or "",
            data,
            take_over=data.get("take_over") is True,
        )
    except RuleError as exc:
        return jsonify(error="invalid_subscription", message=exc.message), 422
    except service.EndpointTaken as exc:
        return jsonify(error="subscription_in_use", message=exc.message), 409
    return jsonify(id=row.id), 201


@bp.route("/push/subscriptions", methods=["DELETE"])
@login_required
def push_unsubscribe():
    data = request.get_json(silent=True)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return jsonify(error="invalid_payload", message="Send the endpoint to remove"), 400
    service.unsubscribe(current_user, endpoint=endpoint)
    return "", 204
