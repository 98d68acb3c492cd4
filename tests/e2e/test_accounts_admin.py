"""An administrator's account work in Chromium against `homeward serve`: find Users from the
first page, give someone a set-password link that they use, then deactivate them while they are
signed in. Each page scanned with axe."""

from __future__ import annotations

import subprocess
import sys
import uuid

from tests.e2e.conftest import PHONE, axe_violations, sign_in

NEW_PASSWORD = "heron-canal-tram-quay"


def test_admin_resets_a_password_and_deactivates_an_account(chromium, server):
    email = f"e2e.{uuid.uuid4().hex[:8]}@demo.test"
    subprocess.run(
        [sys.executable, "-m", "webapp.cli", "create-user", "--email", email, "--name"]
        + ["Rowan Test", "--role", "worker", "--organisation", "E06009901", "--link"],
        env=server["env"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    found = {}
    admin_ctx = chromium.new_context(base_url=server["url"], locale="en-GB")
    person_ctx = chromium.new_context(base_url=server["url"], **PHONE)
    try:
        admin = admin_ctx.new_page()
        sign_in(admin, "admin@demo.test")
        # The administrator's first page is the list of users, and it is in the navigation.
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
        admin.wait_for_load_state()
        found["users"] = axe_violations(admin)
        admin.get_by_role("link", name="Rowan Test").click()
        admin.wait_for_load_state()
        found["user"] = axe_violations(admin)
        user_page = admin.url
        admin.get_by_role("button", name="Create a set-password link").click()
        admin.wait_for_load_state()
        link = admin.get_by_label("Set-password link for Rowan Test").input_value()
        found["user with link"] = axe_violations(admin)
        assert "/set-password?code=" in link

        person = person_ctx.new_page()
        person.goto(link)
        found["set password"] = axe_violations(person)
        person.get_by_label("New password", exact=True).fill("password1234")
        person.get_by_label("Confirm new password").fill("password1234")
        person.get_by_role("button", name="Set password").click()
        person.wait_for_load_state()
        assert "common password" in person.content()
        found["set password error"] = axe_violations(person)
        person.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        person.get_by_label("Confirm new password").fill(NEW_PASSWORD)
        person.get_by_role("button", name="Set password").click()
        person.wait_for_load_state()
        assert "/sign-in" in person.url and "Your password is set" in person.content()
        sign_in(person, email, NEW_PASSWORD)
        person.goto("/account/password")
        found["change password"] = axe_violations(person)
        # Used once: the link is dead now.
        dead = person_ctx.new_page()
        assert dead.goto(link).status == 410
        dead.close()

        admin.goto(user_page)
        assert "set-password?code=" not in admin.content()  # the link was shown once only
        admin.once("dialog", lambda dialog: dialog.accept())
        admin.get_by_role("button", name="Deactivate account").click()
        admin.wait_for_load_state()
        assert "is deactivated" in admin.content()
        found["deactivated"] = axe_violations(admin)

        # The person's open session is over. (That the password no longer signs in is tested
        # in test_account_lifecycle.py: a wrong sign-in here would make the next test's sign-in
        # from 127.0.0.1 wait 2 s.)
        person.goto("/returns")
        assert "/sign-in" in person.url
    finally:
        admin_ctx.close()
        person_ctx.close()
    assert all(not v for v in found.values()), found
