"""The multi-server topology of docs/operations/deployment.md, without Docker: TWO `homeward
serve` processes and TWO `homeward reminders run` dispatchers on ONE PostgreSQL database, sharing
one instance folder (the secret key that signs sessions, the data keys, the VAPID key), as the
compose file runs them.

- A sign-in on server A is a session on server B (and a sign-out everywhere on B ends it on A).
- A push subscription registered through A, and a test notification asked for on B, reach the
  phone once; so do hundreds of due reminders raced for by the two dispatchers (the local fake
  push service verifies VAPID, decrypts and counts every delivery).

PostgreSQL only: several servers on one SQLite file is not a supported deployment.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
import requests

from tests.e2e.conftest import start_server, stop_server
from tests.integration.test_dispatcher_processes import (
    dispatcher_env,
    dispatchers,
    pg_database,  # noqa: F401  (fixture)
    seed,
    vapid_public_key,
)
from tests.support.fake_push import FakePushService

pytestmark = pytest.mark.postgres

WORKER = "worker@demo.test"  # no second factor required of the role
DUE = 300  # reminders due at once for the two dispatchers to share


@pytest.fixture
def push_service():
    with FakePushService(hang_seconds=1) as service:
        yield service


@pytest.fixture
def two_servers(pg_database, instance_dir):  # noqa: F811  (the imported fixture)
    url, engine = pg_database
    env = dispatcher_env(url, instance_dir)  # DATABASE_URL, instance, testing, local push
    env["HOMEWARD_DISPATCHER"] = "separate"  # the servers send nothing: the dispatchers do
    started = []
    try:
        for name in ("a", "b"):
            started.append(start_server(instance_dir, env, log_name=f"two-servers-{name}.log"))
        yield [base for _, base in started], url, engine
    finally:
        for proc, _ in started:
            stop_server(proc)


def sign_in(base: str) -> requests.Session:
    s = requests.Session()
    page = s.get(base + "/sign-in")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)[1]
    r = s.post(
        base + "/sign-in",
        data={"email": WORKER, "password": "homeward-demo", "csrf_token": token},
        allow_redirects=False,
    )
    assert r.status_code == 302, r.text[:500]
    return s


def csrf(s: requests.Session, url: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', s.get(url).text)[1]


def test_a_session_made_on_one_server_works_on_the_other(two_servers):
    (a, b), _, _ = two_servers
    s = sign_in(a)
    # The same cookie, sent to the other server (as a load balancer without stickiness does).
    on_b = s.get(b + "/returns", allow_redirects=False)
    assert on_b.status_code == 200, on_b.headers.get("Location")
    assert "Sign out" in on_b.text
    # A form read on B is posted to A: one CSRF token, one secret key, one session.
    token = csrf(s, b + "/account")
    r = s.post(
        a + "/account/sign-out-everywhere",
        data={"csrf_token": token},
        headers={"Origin": a},
        allow_redirects=False,
    )
    assert r.status_code == 302
    # Ended everywhere: the session kept in the database is gone for B too.
    stale = requests.Session()
    stale.cookies.update(s.cookies)
    assert stale.get(b + "/returns", allow_redirects=False).status_code == 302


def test_each_reminder_is_sent_once_by_two_dispatchers(
    two_servers, instance_dir, push_service, tmp_path
):
    (a, b), url, engine = two_servers
    ids = seed(engine, push_service, instance_dir, count=DUE)

    # One more person's phone, subscribed through server A; a test notification asked for on B.
    phone = push_service.browser(application_server_key=vapid_public_key(instance_dir))
    s = sign_in(a)
    token = csrf(s, a + "/notifications/settings")
    r = s.post(
        a + "/api/v1/push/subscriptions",
        json=phone.subscription_json(),
        headers={"X-CSRFToken": token, "Origin": a},
    )
    assert r.status_code == 201, r.text
    token = csrf(s, b + "/notifications/settings")
    r = s.post(
        b + "/notifications/test",
        data={"csrf_token": token},
        headers={"Origin": b},
        allow_redirects=False,
    )
    assert r.status_code == 302, r.text[:500]

    with dispatchers(url, instance_dir, tmp_path) as group:
        first, second = group.start(), group.start()  # loop mode, as deployed
        push_service.wait_for(DUE + 1, timeout=60)
        # Give them time to make a mistake: a second round, a retry, a lease taken over.
        time.sleep(3)
        outputs = [group.output(first), group.output(second)]
        assert first.poll() is None and second.poll() is None, outputs

    refs = Counter(d.payload["ref"] for d in push_service.deliveries)
    seeded = {ref: n for ref, n in refs.items() if ref in set(ids)}
    assert set(seeded) == set(ids), f"{len(set(ids) - set(seeded))} never delivered"
    twice = {ref: n for ref, n in refs.items() if n > 1}
    assert not twice, f"{len(twice)} delivered more than once"
    to_phone = [d for d in push_service.deliveries if d.token == phone.token]
    assert len(to_phone) == 1, f"the test notification reached the phone {len(to_phone)} times"
    assert len(push_service.deliveries) == DUE + 1

    from sqlalchemy import func, select

    from webapp.reminders.models import Reminder

    with engine.connect() as conn:
        by = dict(
            conn.execute(
                select(Reminder.claimed_by, func.count())
                .where(Reminder.id.in_(ids))
                .group_by(Reminder.claimed_by)
            ).all()
        )
    pids = {name.rsplit(":", 1)[1] for name in by}
    assert pids == {str(first.pid), str(second.pid)}, f"the work was not shared: {by}"
