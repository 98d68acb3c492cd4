"""End-to-end fixtures: the real server (gunicorn, `homeward serve`) on a free port with its own
instance folder and demo data, driven by Debian's Chromium through Playwright in a phone-sized
window.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HOMEWARD_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
    "timezone_id": "Europe/London",
}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    # tryfirst: pytest-xdist turns the group mark into the node id in its own hook of this name,
    # so the mark must be on before that runs. (Without it, and under pytest 9, the e2e tests
    # were spread over both workers: two servers and two Chromiums at once under full load,
    # and service workers that sometimes could not install in time.)
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            # One browser and server per xdist worker: keep the e2e tests together.
            item.add_marker(pytest.mark.xdist_group("e2e"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(args, env):
    subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def start_server(instance: Path, env: dict, log_name: str = "server.log"):
    """`homeward serve` (gunicorn) on a free port; returns (process, base URL)."""
    port = _free_port()
    log = open(instance / log_name, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((instance / log_name).read_text()) from None
            time.sleep(0.2)


def demo_instance(tmp_path_factory, name: str) -> tuple[Path, dict]:
    """A new instance folder with the demo data and push keys, and the environment naming it."""
    instance: Path = tmp_path_factory.mktemp(name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    env.pop("DATABASE_URL", None)
    env["HOMEWARD_INSTANCE_PATH"] = str(instance)
    _cli(["init-db"], env)
    _cli(["demo-data"], env)
    _cli(["vapid-keys", "--if-missing"], env)
    return instance, env


def stop_server(proc) -> None:
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    instance, env = demo_instance(tmp_path_factory, "e2e-instance")
    proc, base = start_server(instance, env)
    yield {"url": base, "instance": instance, "env": env}
    stop_server(proc)


@pytest.fixture(scope="session")
def browser_type():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as p:
        yield p.chromium


@pytest.fixture(scope="session")
def chromium(browser_type):
    browser = browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def phone(chromium, server):
    context = chromium.new_context(base_url=server["url"], **PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []

    def on_console(message):
        # Chromium reports every 4xx as a console error; a 422 for a form with a mistake is
        # expected. Script errors and CSP violations are what this list is for.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    yield page
    context.close()


def instance_app(env: dict):
    """The app of a test server's instance, for reading or adding facts in an app context."""
    from webapp import create_app

    return create_app(environ=env)


DESKTOP = {
    "viewport": {"width": 1280, "height": 900},
    "locale": "en-GB",
    "timezone_id": "Europe/London",
}


def open_page(chromium, base_url: str, options: dict):
    """A page in a new browser context, with the page's script errors kept in `page.errors`."""
    context = chromium.new_context(base_url=base_url, **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


def clean(page) -> None:
    """axe finds nothing, and nothing is wider than the screen."""
    assert axe_violations(page) == [], page.url
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def success_banner(page) -> str:
    return page.locator(".govuk-notification-banner--success").first.inner_text()


def local_input(dt) -> str:
    """An instant as a datetime-local input takes it: UK time, to the minute."""
    from webapp.deadlines import to_local

    return to_local(dt).strftime("%Y-%m-%dT%H:%M")


# The authenticator app of each account this session set up through the pages, by server
# origin and email (a later server may reuse a port with a new database: its set-up page then
# replaces the entry).
_APPS: dict[tuple[str, str], str] = {}


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# The browser's cookies after a sign-in, by server origin and email, for sign_in(reuse=True).
_BROWSERS: dict[tuple[str, str], list] = {}


def sign_in(page, email, password="homeward-demo", *, reuse=False):
    """Sign in as a person would. When the role requires a second factor, the helper is their
    phone: on the set-up page (the demo's managers set one up at their first sign-in) it reads
    the setup key shown for manual entry; on the code page it uses the key it set up, or the
    test data's own (tests/factories.second_factor_secret).

    `reuse`: the person comes back to the browser they signed in on earlier in this run (its
    cookies, the session and the device's), if that session still stands; otherwise they sign
    in. For a module that has one person act in case after case: the server takes each second
    factor code once, so a third sign-in within 30 s waited for the next code (nine managers'
    cases spent four of their five minutes asleep)."""
    from tests import factories

    page.goto("/sign-in")
    browser = (_origin(page.url), email.lower()) if reuse else None
    if browser in _BROWSERS:
        page.context.add_cookies(_BROWSERS[browser])
        page.goto("/")
        if "/sign-in" not in page.url:
            return
        page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    key = (_origin(page.url), email.lower())
    if "/sign-in/set-up" in page.url:
        secret = page.locator("#setup-key").text_content().replace(" ", "")
        _APPS[key] = secret
        page.locator("#code").fill(factories.fresh_code(secret))
        page.get_by_role("button", name="Set up").click()
        page.wait_for_load_state()
        assert "Your recovery codes" in page.content(), page.content()[:2000]
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
    elif "/sign-in/code" in page.url:
        secret = _APPS.get(key) or factories.second_factor_secret(email)
        page.locator("#code").fill(factories.fresh_code(secret))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
    assert "/sign-in" not in page.url, page.content()[:2000]
    if browser is not None:
        _BROWSERS[browser] = page.context.cookies()


def axe_violations(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    # Scan the page as a person sees it: stylesheets and scripts in, not mid-load (a half-laid-out
    # page once showed links on top of each other to axe's target-size rule under heavy load).
    page.wait_for_load_state("load")
    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results.response["violations"]
    ]
