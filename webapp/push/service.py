"""Push subscriptions: stored per user and device, refreshed on every app start, removed on request
or when the push service says the browser has gone."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, select

from webapp import audit, uow
from webapp.accounts.models import User
from webapp.db_types import utcnow
from webapp.devices.service import label_from_user_agent
from webapp.extensions import db
from webapp.push import client
from webapp.push.models import PushSubscription
from webapp.rules import RuleError


def public_key() -> str | None:
    keys = current_app.extensions.get("homeward_vapid")
    return keys.public_key_b64url if keys else None


def endpoint_policy(config) -> client.EndpointPolicy:
    """Where pushes may go: the browsers' push services; plus this machine in tests only."""
    if config["HOMEWARD_PUSH_ALLOW_LOCAL"]:
        return client.TEST_ENDPOINTS
    return client.PRODUCTION_ENDPOINTS


def subscribe(user: User, device_id: str, user_agent: str, browser_json: dict) -> PushSubscription:
    """Store (or refresh) the browser's subscription for this user and device."""
    try:
        sub = client.Subscription.from_browser_json(
            browser_json, policy=endpoint_policy(current_app.config)
        )
    except ValueError as exc:
        raise RuleError("subscription", str(exc)) from exc
    row = db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == sub.endpoint)
    )
    now = utcnow()
    if row is None:
        # One subscription per browser: a re-subscribe on the same device replaces the old one.
        db.session.execute(
            delete(PushSubscription).where(
                PushSubscription.user_id == user.id, PushSubscription.device_id == device_id
            )
        )
        row = PushSubscription(endpoint=sub.endpoint, created_at=now)
        db.session.add(row)
        audit.record(
            "subscribe", "push_subscription", None, detail=label_from_user_agent(user_agent)
        )
    # The same browser signed in as someone else now: the subscription follows the person.
    row.user_id = user.id
    row.device_id = device_id
    row.label = label_from_user_agent(user_agent)
    row.p256dh = sub.p256dh
    row.auth = sub.auth
    row.refreshed_at = now
    uow.commit()
    return row


def unsubscribe(
    user: User, *, endpoint: str | None = None, subscription_id: str | None = None
) -> bool:
    clause = PushSubscription.user_id == user.id
    if endpoint is not None:
        clause &= PushSubscription.endpoint == endpoint
    elif subscription_id is not None:
        clause &= PushSubscription.id == subscription_id
    else:
        return False
    removed = db.session.execute(delete(PushSubscription).where(clause)).rowcount
    if removed:
        audit.record("unsubscribe", "push_subscription", subscription_id)
    uow.commit()
    return bool(removed)


def subscriptions(user: User) -> list[PushSubscription]:
    return list(
        db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.user_id == user.id)
            .order_by(PushSubscription.refreshed_at.desc())
        )
    )
