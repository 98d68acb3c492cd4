"""The second factor in Chromium against `homeward serve`: a manager with none sets up an
authenticator app straight after their password (the QR code page), keeps the recovery codes, and
signs in with a code next time; a worker is offered it on their account page. Every page is
scanned with axe."""

from __future__ import annotations

from tests import factories
from tests.e2e.conftest import DESKTOP, PHONE, clean, instance_app, open_page


def _person(server, role_maker) -> str:
    """A new account in the demo authority, made with the test factories."""
    from sqlalchemy import select

    from webapp.accounts.models import Organisation
    from webapp.extensions import db

    with instance_app(server["env"]).app_context():
        la = db.session.scalar(select(Organisation).where(Organisation.ons_code == "E06009901"))
        person = role_maker(la)
        db.session.commit()
        email = person.email
        db.session.remove()
    return email


def _password(page, email):
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.locator("#password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _setup_key(page) -> str:
    page.get_by_text("I cannot scan the QR code").click()
    return page.locator("#setup-key").inner_text().replace(" ", "")


def test_a_manager_sets_up_the_app_at_first_sign_in_then_signs_in_with_a_code(chromium, server):
    email = _person(server, lambda la: factories.manager(la, second_factor=False))
    page = open_page(chromium, server["url"], DESKTOP)
    try:
        _password(page, email)
        assert page.url.endswith("/sign-in/set-up")
        qr = page.get_by_role("img", name="QR code for your authenticator app")
        assert qr.is_visible() and qr.bounding_box()["width"] >= 150
        clean(page)
        # Nothing else before the app is set up: the manager's page sends back to sign in.
        page.goto("/manage/")
        assert "/sign-in" in page.url
        page.goto("/sign-in/set-up")
        secret = _setup_key(page)
        page.get_by_label("Security code").fill("000000")
        page.get_by_role("button", name="Set up").click()
        assert page.locator(".govuk-error-summary").is_visible()
        clean(page)
        page.wait_for_timeout(2100)  # the wrong code's wait
        page.get_by_label("Security code").fill(factories.fresh_code(secret))
        page.get_by_role("button", name="Set up").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="Your recovery codes").is_visible()
        assert page.locator(".hw-recovery-codes li").count() == 10
        clean(page)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
        assert "/sign-in" not in page.url
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_load_state()

        _password(page, email)
        assert page.url.endswith("/sign-in/code")
        clean(page)
        page.get_by_label("Security code").fill(factories.fresh_code(secret))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
        assert "/sign-in" not in page.url
        assert not page.errors
    finally:
        page.context.close()


def test_a_worker_is_offered_it_on_the_account_page(chromium, server):
    email = _person(server, lambda la: factories.worker(la))
    page = open_page(chromium, server["url"], PHONE)
    try:
        _password(page, email)
        assert "/sign-in" not in page.url  # a password alone while they have none
        page.goto("/account")
        page.get_by_role("link", name="Set up a second factor").click()
        page.wait_for_load_state()
        clean(page)
        page.get_by_role("button", name="Set up an authenticator app").click()
        page.wait_for_load_state()
        clean(page)  # the QR code fits a phone's screen
        secret = _setup_key(page)
        page.get_by_label("Security code").fill(factories.fresh_code(secret))
        page.get_by_role("button", name="Set up").click()
        page.wait_for_load_state()
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
        assert "10 recovery codes left" in page.content()
        clean(page)
        page.get_by_role("link", name="Turn off the second factor").click()
        page.wait_for_load_state()
        clean(page)
        assert not page.errors
    finally:
        page.context.close()
