"""The reminder dispatcher: claims due reminders, pushes them to every device, records each try.

Several dispatchers may run against PostgreSQL at once. A claim is one short transaction:
`SELECT ... FOR UPDATE SKIP LOCKED` picks due rows no other dispatcher is claiming, marks them
`sending` with a lease, and commits; the HTTP sends happen outside any transaction; the results
are written in a second short transaction, only if the lease is still ours (each attempt itself
is committed as it comes back, see below). So two dispatchers never hold the same reminder, and
none holds a database lock while it waits on a push service.
(SQLite has no row locks: one dispatcher per database there, enforced by claim_sqlite_slot.)

A dispatcher killed mid-send loses nothing: its lease runs out and another dispatcher claims the
reminder again, skipping every device that already has a recorded `sent` attempt. Each attempt is
recorded (committed) as soon as its push service answers, before that thread's next send, so a
restart sends again only the pushes in flight at the kill: at most one per sending thread. Those
few may reach a phone twice; the Topic header and the notification's tag make the second one
replace the first on the phone rather than add to it.

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
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import bindparam, delete, insert, select, update

from webapp import audit
from webapp.db_types import utcnow
from webapp.extensions import db
from webapp.push import client as push
from webapp.push.models import PushSubscription
from webapp.push.service import endpoint_policy
from webapp.push.vapid import VapidKeys
from webapp.reminders.models import Reminder, ReminderAttempt, ReminderStatus

log = logging.getLogger("homeward.reminders")

RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=30)


@dataclass(frozen=True)
class Claimed:
    """A claimed reminder, copied out of its row (no ORM objects cross threads or commits)."""

    id: str
    recipient_id: str
    title: str
    body: str
    topic: str
    urgency: str
    ttl_seconds: int
    stale_at: datetime
    attempts: int


@dataclass(frozen=True)
class Job:
    claimed: Claimed
    message: push.Message
    targets: tuple[tuple[str, push.Subscription], ...]  # (subscription id, subscription)


class _Notes:
    """Each push attempt committed as soon as its answer is back, before that thread sends again:
    if the process dies later in the round, a restart skips this device instead of pushing to it
    twice. One autocommit connection per sending thread for the round, so a note is one INSERT
    (no pool checkout, ping or BEGIN each time); all go back to the pool when the round ends."""

    def __init__(self, engine):
        self._engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list = []

    def write(self, attempt: dict) -> bool:
        conn = getattr(self._local, "conn", None)
        try:
            if self._engine.dialect.name == "sqlite":
                # No round trips to save on a local file; and AUTOCOMMIT would leave the pooled
                # connection DEFERRED afterwards, undoing the app's BEGIN IMMEDIATE.
                with self._engine.begin() as local:
                    local.execute(insert(ReminderAttempt), attempt)
                return True
            if conn is None:
                conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                self._local.conn = conn
                with self._lock:
                    self._open.append(conn)
            conn.execute(insert(ReminderAttempt), attempt)
        except Exception:
            # The round's closing transaction writes it instead; only a kill before then loses
            # the note, which costs one repeated push, never a lost one.
            log.warning("could not record a push attempt as it happened", exc_info=True)
            if conn is not None:
                conn.invalidate()
            self._local.conn = None
            return False
        return True

    def close(self) -> None:
        with self._lock:
            for conn in self._open:
                conn.close()
            self._open.clear()


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
        notes = _Notes(db.engine)  # read here: the sending threads have no app context

        def send_and_note(item):
            reminder_id, sub_id, sub, message = item
            outcome = self._send(sub, message)
            noted = notes.write(self._attempt(reminder_id, sub_id, outcome, given or utcnow()))
            return reminder_id, sub_id, outcome, noted

        try:
            outcomes = list(
                self._pool.map(
                    send_and_note,
                    [
                        (job.claimed.id, sub_id, sub, job.message)
                        for job in jobs
                        for sub_id, sub in job.targets
                    ],
                )
            )
        finally:
            notes.close()
        # Frozen-time tests pass `now`; otherwise the results are stamped when they came back.
        self._record(jobs, outcomes, finished, given or utcnow())
        return len(claimed)

    @staticmethod
    def _attempt(reminder_id: str, sub_id: str, outcome: push.SendOutcome, at: datetime) -> dict:
        return {
            "reminder_id": reminder_id,
            "subscription_id": sub_id,
            "at": at,
            "outcome": outcome.status,
            "http_status": outcome.http_status,
            "detail": outcome.detail[:300],
        }

    def _send(self, subscription: push.Subscription, message: push.Message) -> push.SendOutcome:
        try:
            # Checked at registration too; again here in case the policy has since narrowed.
            self.policy.check(subscription.endpoint)
        except ValueError as exc:
            return push.SendOutcome("failed", detail=f"not sent: {exc}")
        return push.send(subscription, message, self.keys, timeout=self.timeout, session=self._http)

    def _claim(self, now: datetime) -> list[Claimed]:
        """Take up to batch_size due reminders for this dispatcher, in one short transaction."""
        # Two plain queries rather than one with OR, so each can walk ix_reminders_due in order
        # however long the backlog after an outage.
        expired = self._lock_due(
            (Reminder.status == ReminderStatus.SENDING) & (Reminder.lease_until < now),
            Reminder.lease_until,
            self.batch_size,
        )  # a dispatcher died holding these: its lease ran out
        rows = expired + self._lock_due(
            (Reminder.status == ReminderStatus.PENDING) & (Reminder.next_attempt_at <= now),
            Reminder.next_attempt_at,
            self.batch_size - len(expired),
        )
        claimed = []
        for row in rows:
            row.status = ReminderStatus.SENDING
            row.lease_until = now + self.lease
            row.claimed_by = self.name
            row.attempts += 1
            # Copied before the commit expires the rows: the sends need no second read.
            claimed.append(
                Claimed(
                    row.id,
                    row.recipient_id,
                    row.title,
                    row.body,
                    row.topic,
                    row.urgency,
                    row.ttl_seconds,
                    row.stale_at,
                    row.attempts,
                )
            )
        db.session.commit()
        return claimed

    def _lock_due(self, where, order, limit: int) -> list[Reminder]:
        if limit <= 0:
            return []
        return list(
            db.session.scalars(
                select(Reminder)
                .where(where)
                .order_by(order)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )

    def _jobs(self, claimed: list[Claimed], now: datetime) -> tuple[list[Job], dict[str, str]]:
        """The sends to make; and the reminders settled without one (stale) -> final status."""
        ids = [c.id for c in claimed]
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
                PushSubscription.user_id.in_({c.recipient_id for c in claimed})
            )
        ):
            subs.setdefault(sub.user_id, []).append(sub)
        jobs: list[Job] = []
        finished: dict[str, str] = {}
        for c in claimed:
            ttl = min(c.ttl_seconds, int((c.stale_at - now).total_seconds()))
            if ttl <= 0:
                finished[c.id] = ReminderStatus.MISSED
                continue
            message = push.Message(
                title=c.title,
                body=c.body,
                ref=c.id,
                url=f"/notifications/{c.id}",
                topic=c.topic,
                urgency=c.urgency,
                ttl_seconds=ttl,
            )
            targets = tuple(
                (s.id, push.Subscription(s.endpoint, s.p256dh, s.auth))
                for s in subs.get(c.recipient_id, [])
                if (c.id, s.id) not in already
            )
            jobs.append(Job(c, message, targets))
        db.session.rollback()  # end the read transaction before the sends
        return jobs, finished

    def _record(
        self,
        jobs: list[Job],
        outcomes: list[tuple[str, str, push.SendOutcome, bool]],
        finished: dict[str, str],
        now: datetime,
    ) -> None:
        by_reminder: dict[str, list[push.SendOutcome]] = {}
        gone: set[str] = set()
        sent_to: set[str] = set()
        attempts = []
        for reminder_id, sub_id, outcome, noted in outcomes:
            by_reminder.setdefault(reminder_id, []).append(outcome)
            if not noted:
                attempts.append(self._attempt(reminder_id, sub_id, outcome, now))
            if outcome.delete_subscription:
                gone.add(sub_id)
            elif outcome.status == "sent":
                sent_to.add(sub_id)
        if attempts:
            db.session.execute(insert(ReminderAttempt), attempts)
        if gone:
            db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
        if sent_to:
            db.session.execute(
                update(PushSubscription)
                .where(PushSubscription.id.in_(sent_to))
                .values(last_sent_at=now)
            )
        settled = [
            self._settlement(reminder_id, status, now, "stale before sending")
            for reminder_id, status in finished.items()
        ]
        for job in jobs:
            again = [
                o
                for o in by_reminder.get(job.claimed.id, [])
                if o.status in ("retry", "rate_limited")
            ]
            if not again:
                settled.append(self._settlement(job.claimed.id, ReminderStatus.SENT, now, None))
                continue
            wait = self._backoff(job.claimed.attempts)
            for o in again:
                if o.retry_after:
                    wait = max(wait, timedelta(seconds=o.retry_after))
            retry_at = now + wait
            error = again[0].detail[:300]
            if retry_at >= job.claimed.stale_at:
                # No point trying after it is stale; the notification centre still shows it.
                settled.append(self._settlement(job.claimed.id, ReminderStatus.MISSED, now, error))
            else:
                settled.append(
                    self._settlement(job.claimed.id, ReminderStatus.PENDING, retry_at, error)
                )
        self._settle(settled)
        db.session.commit()

    @staticmethod
    def _settlement(reminder_id: str, status: str, at: datetime, error: str | None) -> dict:
        # `at`: when it was sent, or when to try again; kept in next_attempt_at either way.
        return {
            "rid": reminder_id,
            "new_status": status,
            "next_at": at,
            "sent": at if status == ReminderStatus.SENT else None,
            "error": error,
        }

    def _settle(self, settlements: list[dict]) -> None:
        """Write every outcome in one statement, each only while its lease is still ours: if we
        were too slow and another dispatcher took a reminder over, its word counts, not ours."""
        if not settlements:
            return
        table = Reminder.__table__
        db.session.execute(
            update(table)
            .where(
                table.c.id == bindparam("rid"),
                table.c.claimed_by == self.name,
                table.c.status == ReminderStatus.SENDING,
            )
            .values(
                status=bindparam("new_status"),
                next_attempt_at=bindparam("next_at"),
                sent_at=bindparam("sent"),
                last_error=bindparam("error"),
                lease_until=None,
                updated_at=utcnow(),
            ),
            settlements,
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
            audit.chain_quietly(db.engine)  # the audit trail's chainer: logs, never raises
            if claimed < self.batch_size:
                stop.wait(idle_seconds)
        log.info("reminder dispatcher %s stopped", self.name)


_held_locks: list = []


def claim_sqlite_slot(app) -> bool:
    """On SQLite, only one dispatcher per database: SQLite has no row locks, so two would send
    the same reminders. An OS file lock in the instance folder says who it is (released when the
    process ends, however it ends). PostgreSQL needs no slot: SKIP LOCKED shares the work."""
    import fcntl

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return True
    handle = open(Path(app.instance_path) / "reminders-dispatcher.lock", "a")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _held_locks.append(handle)  # kept open for the life of the process
    return True


def from_app(app, **kwargs) -> Dispatcher | None:
    """A dispatcher configured from the app, or None when push is not set up (no VAPID key)."""
    keys = app.extensions.get("homeward_vapid")
    if keys is None:
        return None
    return Dispatcher(keys=keys, policy=endpoint_policy(app.config), **kwargs)
