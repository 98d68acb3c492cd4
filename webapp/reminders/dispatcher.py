"""The reminder dispatcher: claims due reminders, pushes them to every device, records each try.

Several dispatchers may run against PostgreSQL at once. A claim is one short transaction:
`SELECT ... FOR UPDATE SKIP LOCKED` picks due rows no other dispatcher is claiming, marks them
`sending` with a lease, and commits; the HTTP sends happen outside any transaction; the results
are written in a second short transaction, only if the lease is still ours. So two dispatchers
never hold the same reminder, and none holds a database lock while it waits on a push service.
(SQLite has no row locks: run one dispatcher there, which is what `make run` does.)

A dispatcher killed mid-send loses nothing: its lease runs out and another dispatcher claims the
reminder again, skipping every device that already has a recorded `sent` attempt. A device whose
push went out in the instant before the kill may get it twice; the Topic header and the
notification's tag make the second one replace the first on the phone rather than add to it.

Per device, per outcome (webapp.push.client.send never raises):
    sent                the device is done
    gone (404/410)      the subscription is deleted: that browser unsubscribed or expired
    failed (other 4xx)  recorded; retrying the same request cannot help
    retry (5xx, timeout, connection), rate_limited (429: Retry-After honoured)
                        the reminder goes back to pending with backoff, for the devices still
                        owed it, until it is stale; then it is marked missed for them
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import and_, delete, or_, select, update

from webapp.db_types import utcnow
from webapp.extensions import db
from webapp.push import client as push
from webapp.push.models import PushSubscription
from webapp.push.vapid import VapidKeys
from webapp.reminders.models import Reminder, ReminderAttempt, ReminderStatus

log = logging.getLogger("homeward.reminders")

RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=30)


@dataclass(frozen=True)
class Job:
    """What a send needs, copied out of the claimed row (no ORM objects cross threads)."""

    reminder_id: str
    message: push.Message
    targets: tuple[tuple[str, push.Subscription], ...]  # (subscription id, subscription)


@dataclass
class Dispatcher:
    keys: VapidKeys
    policy: push.EndpointPolicy = push.PRODUCTION_ENDPOINTS
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    batch_size: int = 50
    lease: timedelta = timedelta(minutes=2)
    timeout: float = 10.0
    threads: int = 8

    def __post_init__(self) -> None:
        self._http = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=self.threads)
        self._http.mount("https://", adapter)
        self._http.mount("http://", adapter)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="push")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()

    # ------------------------------------------------------------------ one round

    def run_once(self, now: datetime | None = None) -> int:
        """Claim one batch of due reminders and send them. Returns how many were claimed."""
        given, now = now, now or utcnow()
        claimed = self._claim(now)
        if not claimed:
            return 0
        jobs, finished = self._jobs(claimed, now)
        outcomes = list(
            self._pool.map(
                lambda pair: (pair[0], pair[1], self._send(pair[2], pair[3])),
                [
                    (job.reminder_id, sub_id, sub, job.message)
                    for job in jobs
                    for sub_id, sub in job.targets
                ],
            )
        )
        # Frozen-time tests pass `now`; otherwise the results are stamped when they came back.
        self._record(jobs, outcomes, finished, given or utcnow())
        return len(claimed)

    def _send(self, subscription: push.Subscription, message: push.Message) -> push.SendOutcome:
        try:
            # Checked at registration too; again here in case the policy has since narrowed.
            self.policy.check(subscription.endpoint)
        except ValueError as exc:
            return push.SendOutcome("failed", detail=f"not sent: {exc}")
        return push.send(subscription, message, self.keys, timeout=self.timeout, session=self._http)

    def _claim(self, now: datetime) -> list[Reminder]:
        due = or_(
            and_(Reminder.status == ReminderStatus.PENDING, Reminder.next_attempt_at <= now),
            # A dispatcher died holding these: its lease ran out.
            and_(Reminder.status == ReminderStatus.SENDING, Reminder.lease_until < now),
        )
        rows = db.session.scalars(
            select(Reminder)
            .where(due)
            .order_by(Reminder.next_attempt_at)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.status = ReminderStatus.SENDING
            row.lease_until = now + self.lease
            row.claimed_by = self.name
            row.attempts += 1
        db.session.commit()
        return list(rows)

    def _jobs(self, claimed: list[Reminder], now: datetime) -> tuple[list[Job], dict[str, str]]:
        """The sends to make; and the reminders settled without one (stale) -> final status."""
        ids = [r.id for r in claimed]
        already = {
            (reminder_id, sub_id)
            for reminder_id, sub_id in db.session.execute(
                select(ReminderAttempt.reminder_id, ReminderAttempt.subscription_id).where(
                    ReminderAttempt.reminder_id.in_(ids), ReminderAttempt.outcome == "sent"
                )
            )
        }
        subs: dict[str, list[PushSubscription]] = {}
        for sub in db.session.scalars(
            select(PushSubscription).where(
                PushSubscription.user_id.in_({r.recipient_id for r in claimed})
            )
        ):
            subs.setdefault(sub.user_id, []).append(sub)
        jobs: list[Job] = []
        finished: dict[str, str] = {}
        for r in claimed:
            ttl = min(r.ttl_seconds, int((r.stale_at - now).total_seconds()))
            if ttl <= 0:
                finished[r.id] = ReminderStatus.MISSED
                continue
            message = push.Message(
                title=r.title,
                body=r.body,
                ref=r.id,
                url=f"/notifications/{r.id}",
                topic=r.topic,
                urgency=r.urgency,
                ttl_seconds=ttl,
            )
            targets = tuple(
                (s.id, push.Subscription(s.endpoint, s.p256dh, s.auth))
                for s in subs.get(r.recipient_id, [])
                if (r.id, s.id) not in already
            )
            jobs.append(Job(r.id, message, targets))
        db.session.rollback()  # end the read transaction before the sends
        return jobs, finished

    def _record(
        self,
        jobs: list[Job],
        outcomes: list[tuple[str, str, push.SendOutcome]],
        finished: dict[str, str],
        now: datetime,
    ) -> None:
        by_reminder: dict[str, list[push.SendOutcome]] = {}
        gone: set[str] = set()
        sent_to: set[str] = set()
        for reminder_id, sub_id, outcome in outcomes:
            by_reminder.setdefault(reminder_id, []).append(outcome)
            db.session.add(
                ReminderAttempt(
                    reminder_id=reminder_id,
                    subscription_id=sub_id,
                    at=now,
                    outcome=outcome.status,
                    http_status=outcome.http_status,
                    detail=outcome.detail[:300],
                )
            )
            if outcome.delete_subscription:
                gone.add(sub_id)
            elif outcome.status == "sent":
                sent_to.add(sub_id)
        if gone:
            db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
        if sent_to:
            db.session.execute(
                update(PushSubscription)
                .where(PushSubscription.id.in_(sent_to))
                .values(last_sent_at=now)
            )
        for reminder_id, status in finished.items():
            self._settle(reminder_id, {"status": status, "last_error": "stale before sending"})
        stale_at = dict(
            db.session.execute(
                select(Reminder.id, Reminder.stale_at).where(
                    Reminder.id.in_([j.reminder_id for j in jobs])
                )
            ).all()
        )
        attempts = dict(
            db.session.execute(
                select(Reminder.id, Reminder.attempts).where(
                    Reminder.id.in_([j.reminder_id for j in jobs])
                )
            ).all()
        )
        for job in jobs:
            results = by_reminder.get(job.reminder_id, [])
            again = [o for o in results if o.status in ("retry", "rate_limited")]
            if not again:
                self._settle(
                    job.reminder_id,
                    {"status": ReminderStatus.SENT, "sent_at": now, "last_error": None},
                )
                continue
            wait = self._backoff(attempts.get(job.reminder_id, 1))
            for o in again:
                if o.retry_after:
                    wait = max(wait, timedelta(seconds=o.retry_after))
            retry_at = now + wait
            error = again[0].detail[:300]
            if retry_at >= stale_at[job.reminder_id]:
                # No point trying after it is stale; the notification centre still shows it.
                self._settle(
                    job.reminder_id, {"status": ReminderStatus.MISSED, "last_error": error}
                )
            else:
                self._settle(
                    job.reminder_id,
                    {
                        "status": ReminderStatus.PENDING,
                        "next_attempt_at": retry_at,
                        "last_error": error,
                    },
                )
        db.session.commit()

    def _settle(self, reminder_id: str, values: dict) -> None:
        # Only while the lease is ours: if we were too slow and another dispatcher took it over,
        # its word counts, not ours.
        db.session.execute(
            update(Reminder)
            .where(
                Reminder.id == reminder_id,
                Reminder.claimed_by == self.name,
                Reminder.status == ReminderStatus.SENDING,
            )
            .values(lease_until=None, **values)
        )

    @staticmethod
    def _backoff(attempts: int) -> timedelta:
        ceiling = min(RETRY_MAX, RETRY_BASE * 2 ** max(0, attempts - 1))
        # Full jitter, so a push service coming back is not hit by every retry at once.
        return ceiling / 2 + ceiling / 2 * random.random()

    # ------------------------------------------------------------------ the loop

    def run_forever(self, stop: threading.Event, idle_seconds: float = 5.0) -> None:
        log.info("reminder dispatcher %s started", self.name)
        while not stop.is_set():
            try:
                claimed = self.run_once()
            except Exception:
                # A database blip must not kill the loop; the lease protects what was claimed.
                log.exception("reminder dispatcher round failed")
                db.session.rollback()
                claimed = 0
            finally:
                db.session.remove()
            if claimed < self.batch_size:
                stop.wait(idle_seconds)
        log.info("reminder dispatcher %s stopped", self.name)


def from_app(app, **kwargs) -> Dispatcher | None:
    """A dispatcher configured from the app, or None when push is not set up (no VAPID key)."""
    keys = app.extensions.get("homeward_vapid")
    if keys is None:
        return None
    policy = (
        push.TEST_ENDPOINTS
        if app.config["HOMEWARD_PUSH_ALLOW_LOCAL"]
        else push.PRODUCTION_ENDPOINTS
    )
    return Dispatcher(keys=keys, policy=policy, **kwargs)
