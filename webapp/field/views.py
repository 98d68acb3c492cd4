"""Field mode: the service worker, the generic app shell it precaches, and the offline page.

Nothing served here carries personal data, which is why these are the only pages the service
worker may keep in Cache Storage. Field mode renders everything about children from the
encrypted store on the device.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, render_template

from webapp.interviews.questions import to_json_schema
from webapp.security import public

bp = Blueprint("field", __name__)

# The app shell: every file field mode needs with no signal. Changing any of them changes the
# service worker's version, which is how phones learn that an update is ready.
SHELL_PAGES = ["/app/", "/offline"]
SHELL_STATIC = [
    "dist/app.css",
    "dist/htmx.min.js",
    "dist/govuk-frontend.min.js",
    "js/app.js",
    "js/push.js",
    "js/field/main.js",
    "js/field/views.js",
    "js/crypto/vault.js",
    "js/store/db.js",
    "js/sync/client.js",
    "manifest.webmanifest",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/favicon.svg",
]
SCHEMA_URL = "/api/v1/schema/interview"


def shell_version() -> str:
    return _shell_version(current_app.static_folder, current_app.config["HOMEWARD_RELEASE"])


@cache
def _shell_version(static_folder: str, release: str) -> str:
    digest = hashlib.sha256(release.encode())
    for rel in SHELL_STATIC + ["sw.js"]:
        path = Path(static_folder, rel)
        digest.update(rel.encode())
        digest.update(path.read_bytes() if path.exists() else b"missing")
    for template in ("field/shell.html", "field/offline.html", "base.html"):
        digest.update(Path(current_app.root_path, "..", "templates", template).read_bytes())
    digest.update(repr(to_json_schema()).encode())
    return digest.hexdigest()[:16]


def shell_urls() -> list[str]:
    return SHELL_PAGES + [f"/static/{rel}" for rel in SHELL_STATIC] + [SCHEMA_URL]


@bp.route("/sw.js")
@public
def service_worker():
    source = Path(current_app.static_folder, "sw.js").read_text()
    body = source.replace('"__HOMEWARD_VERSION__"', f'"{shell_version()}"').replace(
        "[] /* __HOMEWARD_SHELL__ */", repr(shell_urls()).replace("'", '"')
    )
    response = current_app.response_class(body, mimetype="text/javascript")
    g.cache_control = "no-cache"  # always revalidated, so updates are found promptly
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.route("/app/")
@public
def shell():
    g.cache_control = "no-cache"
    return render_template("field/shell.html", generic=True, version=shell_version())


@bp.route("/offline")
@public
def offline():
    g.cache_control = "no-cache"
    return render_template("field/offline.html", generic=True)


@bp.route("/api/v1/schema/interview")
@public
def interview_schema():
    g.cache_control = "no-cache"
    return jsonify(version=1, sections=to_json_schema())


@bp.route("/install")
@public
def install_guide():
    return render_template("field/install.html")
