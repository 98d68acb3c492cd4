"""Who viewed or changed a child's record (issue 15), end to end in Debian's Chromium: the demo
manager opens Mia Cole's record, follows its link to the history, and finds their own visit at
the top (name, role, what, the device as Chromium on Linux), the worker's visit below it; the
page is axe-clean and fits a desktop and a phone. The worker has no such link and no such page.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, clean, instance_app, open_page, sign_in

LINK = "Who viewed or changed this record"


def _mia_id(env) -> str:
    from sqlalchemy import select

    from webapp.children.models import Child
    from webapp.extensions import db

    with instance_app(env).app_context():
        return db.session.scalars(select(Child.id).where(Child.first_name == "Mia")).one()


def test_a_manager_sees_who_viewed_a_childs_record(chromium, server):
    mia = _mia_id(server["env"])

    worker = open_page(chromium, server["url"], DESKTOP)
    sign_in(worker, "worker@demo.test")
    worker.goto(f"/children/{mia}")
    expect(worker.get_by_role("heading", level=1)).to_have_text("Mia Cole")
    expect(worker.get_by_role("link", name=LINK)).to_have_count(0)
    assert worker.goto(f"/children/{mia}/audit").status == 404
    worker.context.close()

    page = open_page(chromium, server["url"], DESKTOP)
    sign_in(page, "manager@demo.test")
    page.goto(f"/children/{mia}")
    page.get_by_role("link", name=LINK).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(LINK)
    assert "Mia" not in page.title()
    rows = page.locator("tbody tr")
    # Newest first: the manager's own visit to the record, from this browser.
    expect(rows.first).to_contain_text("Morgan Reed")
    expect(rows.first).to_contain_text("Manager")
    expect(rows.first).to_contain_text("Viewed: Child record")
    expect(rows.first).to_contain_text("Chrome on Linux")
    expect(page.locator("tbody")).to_contain_text("Sam Okafor")
    expect(page.locator("tbody")).to_contain_text("Return interview worker")
    clean(page)
    assert page.errors == []

    # Opening the history is on the history too, the next time it is opened.
    page.reload()
    expect(rows.first).to_contain_text("Viewed: Who saw this record")
    page.context.close()

    phone = open_page(chromium, server["url"], PHONE)
    sign_in(phone, "manager@demo.test")
    phone.goto(f"/children/{mia}/audit")
    expect(phone.get_by_role("heading", level=1)).to_have_text(LINK)
    clean(phone)
    phone.context.close()
