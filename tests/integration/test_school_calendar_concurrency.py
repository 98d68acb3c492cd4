"""Two DSLs of one school changing its terms at the same instant, on PostgreSQL (SQLite has one
writer at a time): the calendar's lock keeps a second, overlapping term out."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from tests import factories
from tests.integration.test_school_calendar import PAGE, D, term_form, terms_of
from webapp.accounts.models import OrgKind, Role
from webapp.db_types import new_id
from webapp.extensions import db

# PostgreSQL only, whatever the test matrix: the backend below is pinned, not chosen.
pytestmark = pytest.mark.postgres


@pytest.fixture
def backend():
    return "postgresql"


@pytest.fixture
def school(app):
    school = factories.organisation(OrgKind.SCHOOL, factories.local_authority())
    people = {"school": school, "dsl": factories.user(Role.DSL, organisation_=school)}
    db.session.commit()
    return people


def test_two_dsls_adding_overlapping_terms_at_once_keep_only_one(school, as_user):
    """Another DSL's term is being saved (its transaction holds the school's calendar and has
    not committed) while this DSL adds one that overlaps it. This one waits, then reads the other
    term and is refused; without the lock both were checked against no terms and both kept.
    PostgreSQL only: SQLite has one writer at a time."""
    school_id = school["school"].id
    dsl = as_user(school["dsl"])  # signed in first: the post must come while the other saves
    engine = create_engine(db.engine.url)
    saving = threading.Event()

    def other_dsl_saves():
        with engine.begin() as conn:
            conn.execute(
                text("SELECT id FROM organisations WHERE id = :id FOR UPDATE"), {"id": school_id}
            )
            conn.execute(
                text(
                    "INSERT INTO school_terms (id, school_id, name, starts_on, ends_on, created_at)"
                    " VALUES (:id, :school, 'Autumn 1', :start, :end, now())"
                ),
                {
                    "id": new_id(),
                    "school": school_id,
                    "start": D(2026, 9, 2),
                    "end": D(2026, 10, 23),
                },
            )
            saving.set()
            time.sleep(1.0)  # still saving while this DSL submits

    other = threading.Thread(target=other_dsl_saves)
    other.start()
    assert saving.wait(5)
    r = dsl.post(f"{PAGE}/terms", term_form("Autumn A", (1, 10, 2026), (30, 10, 2026)))
    other.join()
    engine.dispose()
    assert r.status_code == 422, r.status_code
    assert "These dates overlap Autumn 1" in r.get_data(as_text=True)
    assert [t.name for t in terms_of(school_id)] == ["Autumn 1"]
