"""A manager sees who viewed or changed a child's record, and when (issue 15): the page, who may
open it, its order and pages, and that opening it is itself audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests import factories
from webapp.accounts.models import User
from webapp.audit import AuditEvent
from webapp.children.audit_history import PAGE_SIZE
from webapp.extensions import db

HISTORY = "/children/{}/audit"


def rows_of(html: str) -> list[str]:
    body = html.split('<tbody class="govuk-table__body">', 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in body.split("</tr>")][
        :-1
    ]


def test_a_manager_sees_who_viewed_and_changed_the_record_newest_first(as_user, ids):
    as_user("worker@demo.test").get(f"/children/{ids['mia']}")
    manager = as_user("manager@demo.test")
    child_page = manager.get(f"/children/{ids['mia']}").get_data(as_text=True)
    assert HISTORY.format(ids["mia"]) in child_page
    assert "Who viewed or changed this record" in child_page
    # A change, with its field names (never the values), at a known instant in summer time.
    db.session.add(
        AuditEvent(
            at=datetime(2026, 7, 1, 12, 5, tzinfo=UTC),
            user_id=ids["sw"],
            action="update",
            object_type="child",
            object_id=ids["mia"],
            child_id=ids["mia"],
            detail="last_name,date_of_birth",
        )
    )
    db.session.commit()

    response = manager.get(HISTORY.format(ids["mia"]))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>Who viewed or changed this record" in html
    assert "Mia" not in html.split("<title>", 1)[1].split("</title>", 1)[0]
    rows = rows_of(html)
    assert rows[0] == (
        "Wed 1 Jul 2026, 13:05 Alex Brennan Social worker Changed: Child record "
        "last name, date of birth Not recorded"
    )
    # Then the manager's own visit to the child's page, then the worker's, each with the
    # device (the test client's user agent names no browser and no system).
    mine = [r for r in rows if "Morgan Reed Manager Viewed: Child record" in r]
    theirs = [r for r in rows if "Sam Okafor Return interview worker Viewed: Child record" in r]
    assert mine and theirs
    assert rows.index(mine[0]) < rows.index(theirs[0])
    assert mine[0].endswith("Browser on unknown system")


def test_opening_the_history_is_itself_audited(as_user, ids):
    manager = as_user("manager@demo.test")
    manager.get(HISTORY.format(ids["mia"]))
    db.session.rollback()
    entry = db.session.scalars(
        select(AuditEvent).where(AuditEvent.child_id == ids["mia"]).order_by(AuditEvent.id.desc())
    ).first()
    assert (entry.action, entry.object_type, entry.user_id) == (
        "view",
        "audit_history",
        ids["manager"],
    )
    html = manager.get(HISTORY.format(ids["mia"])).get_data(as_text=True)
    assert "Morgan Reed Manager Viewed: Who saw this record" in rows_of(html)[0]


@pytest.mark.parametrize(
    "email",
    [
        "worker@demo.test",
        "sw@demo.test",
        "carer@demo.test",
        "iro@demo.test",
        "dsl@demo.test",
        "cme@demo.test",
        "ad@demo.test",
        "admin@demo.test",
    ],
)
def test_no_one_but_a_manager_may_open_it(as_user, ids, email):
    person = as_user(email)
    assert person.get(HISTORY.format(ids["mia"])).status_code == 404
    child_page = person.get(f"/children/{ids['mia']}")
    assert HISTORY.format(ids["mia"]) not in child_page.get_data(as_text=True)


def test_a_manager_of_another_authority_or_the_host_authority_may_not(as_user, ids):
    # Finn is Southvale's child: Northbridge's manager cannot see him at all.
    assert as_user("manager@demo.test").get(HISTORY.format(ids["finn"])).status_code == 404
    # A child placed in Northbridge by another authority: Northbridge's manager sees the child
    # (the host authority) but who looked at the record is the responsible authority's.
    elsewhere = factories.local_authority()
    host = factories.local_authority()
    child = factories.child(elsewhere, host_authority_id=host.id)
    host_manager = factories.manager(host)
    responsible = factories.manager(elsewhere)
    db.session.commit()
    visitor = as_user(host_manager)
    assert visitor.get(f"/children/{child.id}").status_code == 200
    assert HISTORY.format(child.id) not in visitor.get(f"/children/{child.id}").get_data(
        as_text=True
    )
    assert visitor.get(HISTORY.format(child.id)).status_code == 404
    owner = as_user(responsible)
    assert owner.get(HISTORY.format(child.id)).status_code == 200
    assert "Viewed: Child record" in owner.get(HISTORY.format(child.id)).get_data(as_text=True)


def test_a_long_history_comes_in_pages(as_user, ids):
    authority = db.session.get(User, ids["manager"]).organisation
    child = factories.child(authority)
    db.session.commit()
    for n in range(PAGE_SIZE + 9):
        db.session.add(
            AuditEvent(action="view", object_type="episode", child_id=child.id, detail=f"n{n}")
        )
    db.session.commit()
    manager = as_user("manager@demo.test")

    first = manager.get(HISTORY.format(child.id)).get_data(as_text=True)
    assert len(rows_of(first)) == PAGE_SIZE
    assert "n58" in rows_of(first)[0]  # newest first
    assert "page 1 of 2" in first
    assert f'href="{HISTORY.format(child.id)}?page=2"' in first
    second = manager.get(HISTORY.format(child.id) + "?page=2").get_data(as_text=True)
    # The view of the first page came after: the ten oldest are left for the second.
    assert len(rows_of(second)) == 10
    assert "Episode n9 " in rows_of(second)[0] and "Episode n0 " in rows_of(second)[-1]
    assert f'href="{HISTORY.format(child.id)}?page=1"' in second
    # Out of range or not a number: the nearest page, never an error.
    assert "page 2 of 2" in manager.get(HISTORY.format(child.id) + "?page=99").get_data(
        as_text=True
    )
    assert "page 1 of 2" in manager.get(HISTORY.format(child.id) + "?page=x").get_data(as_text=True)
