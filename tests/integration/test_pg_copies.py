"""The suite's own PostgreSQL copies (tests/conftest.py PgCopies): each test's database is made
ahead by a thread, so its failures must still reach a test, and no copy may be given twice or
left behind."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from tests.conftest import PG_ADMIN_URL, PgCopies, _libpq, _pg_url

pytestmark = pytest.mark.postgres


def _databases(prefix: str = "hw_t_") -> set[str]:
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"])
        return {name for (name,) in rows}


def test_copies_are_distinct_and_all_dropped_at_the_end(pg_template):
    copies = PgCopies(pg_template[0])
    try:
        taken = [copies.take() for _ in range(3)]
        assert len(set(taken)) == 3
        assert set(taken) <= _databases()
        with psycopg.connect(_libpq(_pg_url(taken[0]))) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0  # the demo data
        for name in taken:
            copies.give_back(name)
        deadline = time.monotonic() + 30
        while copies._ready.qsize() < PgCopies.AHEAD and time.monotonic() < deadline:
            time.sleep(0.05)
        ahead = set(copies._ready.queue)  # made for tests that never came
        assert len(ahead) == PgCopies.AHEAD
    finally:
        copies.close()
    # Other test processes make and drop copies of their own meanwhile: only this pool's count.
    assert not _databases() & (set(taken) | ahead)


def test_a_copy_that_cannot_be_made_fails_the_test_that_waits(pg_template):
    copies = PgCopies(f"hw_missing_{uuid.uuid4().hex[:8]}")
    try:
        with pytest.raises(RuntimeError, match="copying the template database failed") as failed:
            copies.take()
        assert isinstance(failed.value.__cause__, psycopg.errors.InvalidCatalogName)
    finally:
        copies.close()
