"""The installable part of field mode as the server serves it: the service worker, its app shell
and the manifest. (The worker's behaviour is tested in Chromium in tests/e2e.)"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from tests import factories
from webapp.extensions import db

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_service_worker_is_served_from_the_root_uncached_and_versioned(as_user):
    person = factories.worker()
    db.session.commit()
    r = as_user(person).get("/sw.js")
    assert r.status_code == 200
    assert r.mimetype == "text/javascript"
    assert r.headers["Cache-Control"] == "no-cache"  # revalidated, so updates are found
    assert r.headers["Service-Worker-Allowed"] == "/"
    body = r.get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{16})"', body)
    assert version, "the version placeholder was not filled in"
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))
    assert {"/app/", "/offline", "/api/v1/schema/interview"} <= set(shell)
    # Only generic files: nothing that answers differently for different people.
    assert not [u for u in shell if u.startswith(("/returns", "/children", "/interviews"))]
    assert all(
        u.startswith("/static/")
        for u in shell
        if u not in ("/app/", "/offline", "/api/v1/schema/interview")
    )


def test_the_shell_pages_are_the_same_for_everyone(app, as_user):
    # Two workers of one team, each with an interview of their own.
    authority = factories.local_authority()
    first = factories.worker(authority)
    second = factories.worker(authority, team_=first.team)
    for person in (first, second):
        factories.interview(worker_=person)
    db.session.commit()
    pages = {}
    for person in (first, second):
        browser = as_user(person)
        pages[person.email] = browser.get("/app/").get_data(as_text=True)
        assert browser.get("/app/").headers["Cache-Control"] == "no-cache"
    anonymous = app.test_client().get("/app/").get_data(as_text=True)
    assert pages[first.email] == pages[second.email] == anonymous
    assert "csrf-token" not in anonymous
    assert first.name not in anonymous and second.name not in anonymous


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_manifest_makes_the_app_installable(app):
    r = app.test_client().get("/static/manifest.webmanifest")
    manifest = json.loads(r.get_data(as_text=True))
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    assert manifest["name"] == "Homeward" and manifest["theme_color"]
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        width, height = _png_size(STATIC / icon["src"].removeprefix("/static/"))
        assert f"{width}x{height}" == icon["sizes"], icon["src"]


def test_shell_files_are_compressed_and_revalidate_but_pages_and_api_never_compress(as_user):
    # A worker with an interview, so their returns page and sync pull carry personal data.
    person = factories.worker()
    factories.interview(worker_=person)
    db.session.commit()
    worker = as_user(person)
    accept = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    css = worker.get("/static/dist/app.css", headers=accept)
    assert css.headers["Content-Encoding"] in ("zstd", "br", "deflate", "gzip")
    assert "Accept-Encoding" in css.headers["Vary"]
    raw = (STATIC / "dist" / "app.css").stat().st_size
    assert len(css.get_data()) < raw / 3
    # The service worker's precache revalidates: an unchanged file costs no body.
    again = worker.get(
        "/static/dist/app.css", headers={**accept, "If-None-Match": css.headers["ETag"]}
    )
    assert again.status_code == 304 and again.get_data() == b""
    # A client that only speaks gzip (some proxies, older phones' HTTP stacks) gets it compressed
    # too: static files are streamed, and Flask-Compress leaves gzip out of streaming by default.
    for encoding in ("gzip", "br", "zstd"):
        r = worker.get("/static/dist/app.css", headers={"Accept-Encoding": encoding})
        assert r.headers.get("Content-Encoding") == encoding, encoding
        assert len(r.get_data()) < raw / 3
    # Anything with personal data or a CSRF token stays uncompressed (BREACH).
    for url in ("/returns", "/api/v1/sync/pull", "/app/"):
        r = worker.get(url, headers=accept)
        assert "Content-Encoding" not in r.headers, url
