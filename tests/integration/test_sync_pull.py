"""A fresh phone's pull served from what it may see (issue 14): each record once, in pages, in a
few queries whatever the size of the change log; then the log from the position the copy was
made at, so nothing changed meanwhile is missed. Through the real sync API, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from tests import factories
from tests.integration.test_sync_api import Device, allocated_to, mutation
from webapp.extensions import db
from webapp.fieldsync.models import ChangeLog, SyncDelivery

pytestmark = pytest.mark.both_databases


@pytest.fixture
def phone(as_user, me):
    return Device(as_user(me))


def _pages(phone, limit):
    pages, cursor = [], None
    while True:
        r = phone.pull(cursor=cursor, limit=limit)
        assert r.status_code == 200, r.get_data(as_text=True)
        pages.append(r.json)
        cursor = r.json["cursor"]
        if not r.json["has_more"]:
            return pages, cursor


def test_a_fresh_phone_gets_each_of_its_records_once_in_pages(phone, me):
    mine = {allocated_to(me).id for _ in range(7)}
    # Everyone else's work fills the log; none of it is this phone's.
    other = factories.worker(me.organisation)
    for _ in range(12):
        factories.interview(worker_=other)
    db.session.commit()
    pages, _cursor = _pages(phone, limit=3)
    assert [p["reset"] for p in pages] == [True] + [False] * (len(pages) - 1)
    got = [c["record_id"] for p in pages for c in p["changes"]]
    assert sorted(got) == sorted(mine)  # each once, nobody else's
    assert all(len(p["changes"]) <= 3 for p in pages)
    delivered = set(
        db.session.scalars(select(SyncDelivery.record_id).where(SyncDelivery.user_id == me.id))
    )
    assert delivered == mine


def test_what_changes_while_the_copy_is_paged_arrives_next(phone, me, as_user):
    first, second = allocated_to(me), allocated_to(me)
    page = phone.pull(limit=1).json
    assert page["has_more"] and len(page["changes"]) == 1
    # Between the pages: a third allocation, and a change to the record already given.
    third = allocated_to(me)
    given = page["changes"][0]
    (r,) = phone.push(
        [mutation(given["record_id"], given["version"], {"why_details": "meanwhile"})]
    ).json["results"]
    assert r["status"] == "applied"
    pages, cursor = _pages_from(phone, page["cursor"])
    held = {given["record_id"]: given["version"]}
    for c in (c for p in pages for c in p["changes"]):
        held[c["record_id"]] = c["version"]
    # The log from the copy's position brings what the copy may have missed.
    for c in phone.pull(cursor=cursor).json["changes"]:
        assert not c["deleted"]
        held[c["record_id"]] = c["version"]
    assert set(held) == {first.id, second.id, third.id}
    assert held[given["record_id"]] == r["version"]


def _pages_from(phone, cursor):
    pages = []
    while True:
        r = phone.pull(cursor=cursor, limit=1)
        assert r.status_code == 200, r.get_data(as_text=True)
        pages.append(r.json)
        cursor = r.json["cursor"]
        if not r.json["has_more"]:
            return pages, cursor


def test_a_full_pull_costs_the_same_whatever_the_size_of_the_log(phone, me):
    for _ in range(20):
        allocated_to(me)
    other = factories.worker(me.organisation)
    for _ in range(30):
        factories.interview(worker_=other)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ChangeLog)) >= 50
    phone.pull(limit=1)  # the session and the device's first contact out of the way
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement[:60])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        r = phone.pull(limit=200)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(r.json["changes"]) == 20 and not r.json["has_more"]
    # A handful: the session, the log's position, the ids, the interviews with their children
    # and episodes, the deliveries, the device; never one per record or per logged change.
    assert len(statements) <= 15, statements


def test_a_tampered_copy_cursor_is_refused(phone, me):
    allocated_to(me), allocated_to(me)
    cursor = phone.pull(limit=1).json["cursor"]
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    r = phone.pull(cursor=flipped)
    assert r.status_code == 400 and r.json["error"] == "bad_cursor"
