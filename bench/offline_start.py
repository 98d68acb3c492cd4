"""What field mode costs a phone: bytes on first load, bytes and time for an offline start.

In Debian's Chromium (headless, a 390x844 phone) against the real server with demo data:

1. sign in as worker@demo.test, then open field mode (/app/) for the first time: set a
   passphrase, let the first sync and the service worker's precache finish. Bytes are counted
   twice: on the wire by a loopback relay between browser and server (headers included), and by
   the server itself (gunicorn's access log: response bodies only, per path);
2. cut the network for real (the relay stops listening, as tests/e2e/netcut.py does) and reload:
   the server must see nothing. Time the boot to the unlock screen, the unlock (PBKDF2 with
   600,000 iterations dominates it), and opening an interview until its form is on screen;
3. the same from a cold start: the browser closed and opened again on the same profile, offline;
4. PBKDF2-SHA256 at 600,000 iterations alone in the same browser, to show what unlock costs
   before any of the app's own work.

Timings are taken inside the page (performance.now() and MutationObserver), so Playwright's
polling does not inflate them; the person's typing is not part of any figure.

    .venv/bin/python bench/offline_start.py              # SQLite in a temp folder (default)
    .venv/bin/python bench/offline_start.py --runs 5 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness import (
    DEMO_PASSWORD,
    ROOT,
    Hit,
    Server,
    app_env,
    cli,
    fresh_database,
    instance_folder,
    machine,
    remove_tree,
    serve,
)
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

# The e2e tests' browser settings and their network relay (which also counts bytes).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE  # noqa: E402
from tests.e2e.netcut import NetCut as CountingRelay  # noqa: E402

WORKER = "worker@demo.test"
PASSPHRASE = "blue kettle on the stairs"  # noqa: S105  (a throwaway browser profile)
CHILD = "Kai Turner"  # demo data: allocated to worker@demo.test

# Runs at document start on every navigation: note when the unlock screen first appears, in
# milliseconds since the navigation began (performance.now()'s origin).
MARK_UNLOCK_SCREEN = """
(() => {
  const seen = () => {
    const h1 = document.querySelector("#hw-field-view h1");
    if (h1 && h1.textContent.trim() === "Unlock field mode" && !window.__hwUnlockScreen) {
      window.__hwUnlockScreen = performance.now();
    }
  };
  new MutationObserver(seen).observe(document, { subtree: true, childList: true });
})();
"""

# Click something, then resolve with the milliseconds until the field view shows heading
# `heading` (and, if given, an element matching `ready`) and the next frame has been drawn.
CLICK_UNTIL = """
async ([clickSelector, clickText, heading, ready]) => {
  const view = document.getElementById("hw-field-view");
  const target = [...document.querySelectorAll(clickSelector)]
    .find((el) => el.textContent.trim() === clickText);
  if (!target) throw new Error(`nothing to click: ${clickSelector} "${clickText}"`);
  return await new Promise((resolve) => {
    let started;
    const check = () => {
      const h1 = view.querySelector("h1");
      if (h1 && h1.textContent.trim() === heading && (!ready || view.querySelector(ready))) {
        observer.disconnect();
        requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - started)));
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(view, { subtree: true, childList: true });
    started = performance.now();
    target.click();
  });
}
"""

PBKDF2 = """
async () => {
  const key = await crypto.subtle.importKey(
    "raw", new TextEncoder().encode("blue kettle on the stairs"), "PBKDF2", false, ["deriveBits"]);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const started = performance.now();
  await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations: 600000 }, key, 256);
  return performance.now() - started;
}
"""


@dataclass
class Traffic:
    """What crossed the network during one phase, seen from both ends."""

    hits: list[Hit]
    down: int
    up: int
    connections: int

    @property
    def body_bytes(self) -> int:
        return sum(body_bytes(h) for h in self.hits)


STATIC = ROOT / "static"


def body_bytes(hit: Hit) -> int:
    """The response body's size. gunicorn logs 0 for a file it sends with sendfile() (Flask's
    static files), so a full static response is counted as the file's size on disk."""
    if hit.bytes == 0 and hit.status == 200 and hit.path.startswith("/static/"):
        path = (STATIC / hit.path.removeprefix("/static/")).resolve()
        if path.is_relative_to(STATIC) and path.is_file():
            return path.stat().st_size
    return hit.bytes


class Meter:
    """A mark in the server's log and the relay's counters; `traffic()` is what came since."""

    def __init__(self, server: Server, relay: CountingRelay):
        self.server, self.relay = server, relay
        self.hits = len(server.hits())
        self.down, self.up, self.connections = relay.down, relay.up, relay.connections

    def traffic(self) -> Traffic:
        return Traffic(
            self.server.hits()[self.hits :],
            self.relay.down - self.down,
            self.relay.up - self.up,
            self.relay.connections - self.connections,
        )


def wait_until_quiet(server: Server, quiet: float = 1.5, limit: float = 30) -> None:
    """Until the server's log has not moved for `quiet` seconds: the precache and the first sync
    run in the background, and their requests belong to the first load."""
    deadline = time.monotonic() + limit
    count, since = len(server.hits()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = len(server.hits())
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def wait_for_controller(page: Page, limit: float = 20) -> None:
    """Until the service worker controls the page, i.e. it installed (precached) and activated.

    Polled from here: page.wait_for_function() re-evaluates its predicate with eval(), which the
    app's Content-Security-Policy (no 'unsafe-eval') refuses.
    """
    deadline = time.monotonic() + limit
    while not page.evaluate("() => Boolean(navigator.serviceWorker?.controller)"):
        if time.monotonic() > deadline:
            raise SystemExit("The service worker never took control of the page")
        time.sleep(0.1)


def launch(playwright, profile: Path, relay: CountingRelay) -> tuple[BrowserContext, Page]:
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        base_url=relay.url,
        **PHONE,
    )
    context.set_default_timeout(20_000)
    context.add_init_script(MARK_UNLOCK_SCREEN)
    page = context.pages[0] if context.pages else context.new_page()
    return context, page


class PageRequests:
    """Requests the page itself made, and how each was answered (the offline phases)."""

    def __init__(self, page: Page):
        self.counts: Counter = Counter()
        page.on("request", lambda r: self.counts.update(["made"]))
        page.on("requestfailed", lambda r: self.counts.update(["failed (no network)"]))
        page.on(
            "response",
            lambda r: self.counts.update(
                ["answered by the service worker" if r.from_service_worker else "answered by HTTP"]
            ),
        )


def sign_in(page: Page) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(WORKER)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if "/sign-in" in page.url:
        raise SystemExit("Sign-in failed")


def first_load(page: Page, server: Server) -> dict[str, float]:
    """Field mode for the first time: set-up screen, passphrase, first sync, precache."""
    started = time.perf_counter()
    page.goto("/app/")
    expect(page.get_by_role("heading", name="Set up field mode")).to_be_visible()
    setup_screen = time.perf_counter() - started
    page.get_by_label("Offline passphrase").fill(PASSPHRASE)
    page.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    started = time.perf_counter()
    page.get_by_role("button", name="Set passphrase").click()
    expect(page.get_by_role("link", name=CHILD)).to_be_visible()
    expect(page.locator("#hw-field-status")).to_contain_text("Last synced")
    synced = time.perf_counter() - started
    wait_for_controller(page)
    wait_until_quiet(server)
    return {"to the set-up screen": setup_screen, "passphrase to returns listed": synced}


def offline_start(page: Page, navigate) -> dict[str, float]:
    """From navigation to an interview form on screen, offline; milliseconds per step."""
    navigate()
    expect(page.get_by_role("heading", name="Unlock field mode")).to_be_visible()
    boot = page.evaluate("window.__hwUnlockScreen")
    page.get_by_label("Offline passphrase").fill(PASSPHRASE)
    unlock = page.evaluate(CLICK_UNTIL, ["#hw-field-view button", "Unlock", "My returns", None])
    render = page.evaluate(
        CLICK_UNTIL, ["#hw-field-view a", CHILD, "Return home interview", "#hw-field-form textarea"]
    )
    expect(page.get_by_label("In the child's words")).to_be_editable()
    return {"boot to unlock screen": boot, "unlock": unlock, "open interview": render}


# ------------------------------------------------------------------------------------ report


def kb(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def breakdown(hits: list[Hit]) -> dict[str, tuple[int, int]]:
    """Requests and body bytes by kind. A path already fetched in the same phase is its own kind:
    in the first load of field mode that is the service worker's precache, which asks with
    cache: "reload" and so downloads again what the page has just loaded."""
    seen: set[str] = set()
    out: dict[str, list[int]] = {}
    for hit in hits:
        if hit.status == 304:
            kind = "revalidated, not modified (304)"
        elif hit.path in seen and hit.method == "GET":
            kind = "downloaded again (same path)"
        elif hit.path.startswith("/static/"):
            kind = "static assets"
        elif hit.path.startswith("/api/"):
            kind = "API (session, schema, pull, ...)"
        else:
            kind = "pages (/app/, /sw.js, ...)"
        seen.add(hit.path)
        counts = out.setdefault(kind, [0, 0])
        counts[0] += 1
        counts[1] += body_bytes(hit)
    order = [
        "pages (/app/, /sw.js, ...)",
        "static assets",
        "API (session, schema, pull, ...)",
        "downloaded again (same path)",
        "revalidated, not modified (304)",
    ]
    return {k: (out[k][0], out[k][1]) for k in order if k in out}


def gzip_estimate(hits: list[Hit]) -> tuple[int, int]:
    """Static bodies as sent, and their size gzip-compressed: the app sends them uncompressed
    (neither Flask nor gunicorn compresses), which a reverse proxy in production might change."""
    sent = packed = 0
    for hit in hits:
        size = body_bytes(hit)
        if hit.status == 200 and hit.path.startswith("/static/") and size:
            data = (STATIC / hit.path.removeprefix("/static/")).read_bytes()
            sent += size
            packed += len(gzip.compress(data, compresslevel=6))
    return sent, packed


def print_traffic(title: str, traffic: Traffic, verbose: bool) -> None:
    print(
        f"  {title}: {len(traffic.hits)} requests, {kb(traffic.body_bytes)} of response bodies "
        f"(access log); on the wire {kb(traffic.down)} down, {kb(traffic.up)} up, "
        f"{traffic.connections} connections"
    )
    for kind, (count, size) in breakdown(traffic.hits).items():
        print(f"      {kind:<45} {count:>3} requests {kb(size):>10}")
    if verbose:
        for hit in traffic.hits:
            print(f"        {hit.method} {hit.path} {hit.status} {body_bytes(hit)}")


def print_timings(title: str, runs: list[dict[str, float]]) -> None:
    runs_label = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    print(f"  {title} ({runs_label}, median [min-max] ms):")
    steps = list(runs[0])
    for step in [*steps, "total"]:
        values = [sum(r.values()) if step == "total" else r[step] for r in runs]
        print(
            f"      {step:<28} {statistics.median(values):>7.0f}"
            f"   [{min(values):.0f}-{max(values):.0f}]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="scratch database, dropped and recreated (default: SQLite in a temp folder)",
    )
    parser.add_argument("--runs", type=int, default=3, help="offline starts of each kind (1-10)")
    parser.add_argument("--verbose", action="store_true", help="list every request")
    args = parser.parse_args()
    if not 1 <= args.runs <= 10:
        parser.error("--runs must be between 1 and 10")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}")

    instance = instance_folder()
    try:
        env = app_env(instance, fresh_database(args.database_url, instance))
        cli(["init-db"], env)
        cli(["demo-data"], env)
        with serve(env, instance, workers=1, threads=8) as server:
            relay = CountingRelay(int(server.url.rsplit(":", 1)[1]))
            try:
                run(args, server, relay, instance / "profile")
            finally:
                relay.cut()
    finally:
        remove_tree(instance)


def run(args, server: Server, relay: CountingRelay, profile: Path) -> None:
    print(f"Homeward offline start benchmark: Chromium headless at 390x844, {machine()}")
    with sync_playwright() as playwright:
        context, page = launch(playwright, profile, relay)
        print(f"  browser: {page.evaluate('navigator.userAgent')}")

        meter = Meter(server, relay)
        sign_in(page)
        print_traffic("sign-in (for reference)", meter.traffic(), args.verbose)

        meter = Meter(server, relay)
        timings = first_load(page, server)
        traffic = meter.traffic()
        print_traffic("first load of field mode", traffic, args.verbose)
        sent, packed = gzip_estimate(traffic.hits)
        print(
            f"      static bodies sent uncompressed: {kb(sent)}; "
            f"gzip -6 would make them {kb(packed)}"
        )
        print("      " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))

        # No signal from here on: the phone says it is offline and the relay stops listening.
        context.set_offline(True)
        relay.cut()
        meter = Meter(server, relay)
        requests = PageRequests(page)
        runs = [offline_start(page, page.reload) for _ in range(args.runs)]
        print_traffic("offline reloads", meter.traffic(), args.verbose)
        print(f"      the page's own requests: {dict(requests.counts)}")
        print_timings("offline reload to interview form", runs)
        pbkdf2 = [page.evaluate(PBKDF2) for _ in range(args.runs)]
        context.close()

        meter = Meter(server, relay)
        runs = []
        for _ in range(args.runs):
            context, page = launch(playwright, profile, relay)
            context.set_offline(True)
            runs.append(offline_start(page, lambda page=page: page.goto("/app/")))
            context.close()
        print_traffic("cold offline starts (browser reopened)", meter.traffic(), args.verbose)
        print_timings("cold offline start to interview form", runs)
        print(
            f"  PBKDF2-SHA256, 600,000 iterations alone: median {statistics.median(pbkdf2):.0f} ms"
            f" [{min(pbkdf2):.0f}-{max(pbkdf2):.0f}]"
        )


if __name__ == "__main__":
    main()
