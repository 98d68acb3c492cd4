"""Push subscriptions: stored per user and device, refreshed on every app start, removed on request
or when the push service says the browser has gone."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webapp import audit, uow
from webapp.accounts.models import User
from webapp.db_types import utcnow
from webapp.devices.service import label_from_user_agent
from webapp.errors import RuleError
from webapp.extensions import db
from webapp.push import client
from webapp.push.models import PushSubscription


def public_key() -> str | None:
    keys = current_app.extensions.get("homeward_vapid")
    return keys.public_key_b64url if keys else None


def endpoint_policy(config) -> client.EndpointPolicy:
    """Where pushes may go: the browsers' push services; plus this machine in tests only."""
    if config["HOMEWARD_PUSH_ALLOW_LOCAL"]:
        return client.TEST_ENDPOINTS
    return client.PRODUCTION_ENDPOINTS


class EndpointTaken(Exception):
    """The browser's push address belongs to someone else's subscription: it stays theirs."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def subscribe(
    user: User, device_id: str, user_agent: str, browser_json: dict, *, take_over: bool = False
) -> PushSubscription:
    """Store (or refresh) the browser's subscription for this user and device.

    A push address (endpoint) already held by another person never moves silently: the page
    re-sends its subscription on every start, so on a shared phone or a children's home tablet
    whoever signed in last would otherwise take the first person's reminders without either of
    them knowing. It moves only when the person now using that same browser (same device cookie)
    taps "Turn on reminders" (`take_over`), and the move is audited; from any other device it is
    refused, since an endpoint presented from elsewhere was copied.
    """
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
    if row is not None and row.user_id != user.id:
        if row.device_id != device_id:
            raise EndpointTaken(
                "This browser's reminders are registered to another account on another device. "
                "Turn reminders off and on again here to get a new registration."
            )
        if not take_over:
            raise EndpointTaken(
                "This device gets reminders for another account. Turn on reminders in Reminder "
                "settings to have them come to you instead."
            )
        # Ids only in the audit row: who held it is findable, nothing about them is copied.
        audit.record("take_over", "push_subscription", row.id, detail=f"from user {row.user_id}")
        db.session.delete(row)
        db.session.flush()
        row = None
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
    row.user_id = user.id
    row.device_id = device_id
    row.label = label_from_user_agent(user_agent)
    row.p256dh = sub.p256dh
    row.auth = sub.auth
    row.refreshed_at = now
    try:
        uow.commit()
    except IntegrityError:
        # Two registrations of one endpoint at once: the other one won; this one changed nothing.
        db.session.rollback()
        raise EndpointTaken(
            "This browser's reminders were registered at the same moment elsewhere."
        ) from None
    return row


def device_holder(user: User, device_id: str) -> str | None:
    """Whose reminders this device gets: "you", "another account", or None."""
    holders = set(
        db.session.scalars(
            select(PushSubscription.user_id).where(PushSubscription.device_id == device_id)
        )
    )
    if not holders:
        return None
    return "you" if user.id in holders else "another account"


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
