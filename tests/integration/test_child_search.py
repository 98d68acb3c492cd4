"""Finding a child (issue 12): by the start of a name in any case (first, last, or both), the
authority's identifier, a UPN or the date of birth in either form; only among the children this
person may see; the search is posted, never in the address, and the audit keeps no query."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests import factories
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.extensions import db

pytestmark = pytest.mark.both_databases


@pytest.fixture
def world(app):
    authority = factories.local_authority()
    other = factories.local_authority()
    people = {
        "manager": factories.manager(authority),
        "wilhelmina": factories.child(
            authority,
            first_name="Wilhelmina",
            last_name="Ashdown",
            date_of_birth=date(2012, 3, 27),
            authority_child_id="LA-7781",
        ),
        "william": factories.child(authority, first_name="William", last_name="Brierley"),
        "percent": factories.child(authority, first_name="Per%cy", last_name="Dunmore"),
        "elsewhere": factories.child(other, first_name="Wilhelmina", last_name="Ashdown"),
        "sw": factories.user(Role.SOCIAL_WORKER, authority=authority),
    }
    db.session.commit()
    return people


def names(browser, query: str) -> list[str]:
    page = browser.post("/children/", {"q": query}).get_data(as_text=True)
    return [
        n
        for n in ("Wilhelmina Ashdown", "William Brierley", "Per%cy Dunmore")
        if f">{n}</a>" in page
    ]


def test_a_manager_finds_a_child_every_way_a_person_types_it(as_user, world):
    manager = as_user(world["manager"])
    assert names(manager, "wil") == ["Wilhelmina Ashdown", "William Brierley"]
    assert names(manager, "ASH") == ["Wilhelmina Ashdown"]
    assert names(manager, "wil ash") == ["Wilhelmina Ashdown"]
    assert names(manager, "27/03/2012") == ["Wilhelmina Ashdown"]
    assert names(manager, "2012-03-27") == ["Wilhelmina Ashdown"]
    assert names(manager, "LA-7781") == ["Wilhelmina Ashdown"]
    assert names(manager, "per%") == ["Per%cy Dunmore"]  # % is a letter here, not a wildcard
    assert names(manager, "%") == []
    page = manager.post("/children/", {"q": "Ashdown"}).get_data(as_text=True)
    assert page.count(">Wilhelmina Ashdown</a>") == 1  # not the other authority's child
    assert "No child you can see matches" in manager.post("/children/", {"q": "zzz"}).get_data(
        as_text=True
    )


def test_the_search_is_posted_and_the_audit_keeps_no_query(as_user, world):
    manager = as_user(world["manager"])
    page = manager.get("/children/").get_data(as_text=True)
    assert 'method="post"' in page and 'name="q"' in page
    manager.post("/children/", {"q": "Wilhelmina"})
    details = db.session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "search")
    ).all()
    assert details and not any("Wilhelmina" in (d or "") for d in details)


def test_a_social_worker_finds_only_their_own_children(as_user, world):
    world["william"].social_worker_id = world["sw"].id
    db.session.commit()
    sw = as_user(world["sw"])
    assert names(sw, "wil") == ["William Brierley"]
