"""Field mode: the service worker, the generic app shell it precaches, and the offline page.

Nothing served here carries personal data, which is why these are the only pages the service
worker may keep in Cache Storage. Field mode renders everything about children from the
encrypted store on the device.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from functools import cache
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, render_template

from webapp.episodes.models import found_place_choices
from webapp.field import records
from webapp.interviews.forms import section_form_class
from webapp.interviews.questions import SECTIONS, required_rules, to_json_schema
from webapp.security import public

bp = Blueprint("field", __name__)

# The app shell: every file field mode needs with no signal. Changing any of them changes the
# service worker's version, which is how phones learn that an update is ready. The JavaScript
# is not listed by hand: it is every module the entry points import, followed transitively
# (module_graph), so a new module can never be missing from the phone when it has no signal.
SHELL_PAGES = ["/app/", "/offline"]
SHELL_ENTRIES = ["js/app.js", "js/field/main.js"]
SHELL_ASSETS = [
    "dist/app.css",
    "dist/htmx.min.js",
    "dist/govuk-frontend.min.js",
    "manifest.webmanifest",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/favicon.svg",
]
SCHEMA_URL = "/api/v1/schema/interview"
SW_MESSAGES = "js/sw-messages.js"


# Which record types a role keeps on a phone. A role with none is not invited to set one up:
# its phone would hold nothing. Carers and school DSLs get theirs with their own record types.
def field_record_types(role: str) -> tuple[str, ...]:
    # Each record type says which roles keep it (webapp.fieldsync.registry).
    return tuple(records.field_record_types(role))


# `import x from "y"`, `import "y"`, `export {x} from "y"`, at the start of a line (so JSDoc
# `import("./db.js")` types and comments do not count).
_IMPORT = re.compile(
    r"""^\s*(?:import|export)\s(?:[^;"']*?\sfrom\s*)?["']([^"']+)["']""", re.MULTILINE
)


def module_imports(source: str) -> list[str]:
    return _IMPORT.findall(source)


@cache
def module_graph(static_folder: str, entries: tuple[str, ...]) -> tuple[str, ...]:
    """Every static file the entry modules import, directly or not, as paths under /static/."""
    seen: list[str] = []
    todo = list(entries)
    while todo:
        rel = todo.pop(0)
        if rel in seen:
            continue
        seen.append(rel)
        if rel.startswith("dist/"):
            continue  # built vendor bundles are self-contained
        source = Path(static_folder, rel).read_text()
        for spec in module_imports(source):
            if spec.startswith("/static/"):
                target = spec.removeprefix("/static/")
            elif spec.startswith("."):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), spec))
            else:
                raise ValueError(f"{rel} imports {spec!r}: only /static/ or relative paths work")
            todo.append(target)
    return tuple(seen)


def shell_static() -> list[str]:
    modules = module_graph(current_app.static_folder, tuple(SHELL_ENTRIES))
    return SHELL_ASSETS + [m for m in modules if m not in SHELL_ASSETS]


def _thresholds_json() -> dict:
    t = current_app.config["HOMEWARD_THRESHOLDS"]
    return {"due_soon_hours": t.due_soon_hours, "rhi_hours": t.rhi_hours}


def shell_version() -> str:
    return _shell_version(
        current_app.static_folder,
        current_app.config["HOMEWARD_RELEASE"],
        tuple(shell_static()),
        # The choices the schema carries are the phone's words: a change to them is an update.
        repr((_thresholds_json(), found_place_choices())),
    )


@cache
def _shell_version(static_folder: str, release: str, files: tuple[str, ...], extra: str) -> str:
    digest = hashlib.sha256(release.encode())
    for rel in (*files, "sw.js"):
        path = Path(static_folder, rel)
        digest.update(rel.encode())
        digest.update(path.read_bytes() if path.exists() else b"missing")
    templates = Path(current_app.root_path, "..", "templates")
    for template in (
        "field/shell.html",
        "field/_questions.html",
        "field/offline.html",
        "base.html",
    ):
        digest.update((templates / template).read_bytes())
    digest.update(repr(to_json_schema()).encode())
    digest.update(extra.encode())
    return digest.hexdigest()[:16]


def shell_urls() -> list[str]:
    return SHELL_PAGES + [f"/static/{rel}" for rel in shell_static()] + [SCHEMA_URL]


@bp.route("/sw.js")
@public
def service_worker():
    source = Path(current_app.static_folder, "sw.js").read_text()
    # The worker is a classic script (module workers are not everywhere yet): the message names
    # it shares with the pages are inlined from the one module that defines them.
    messages = Path(current_app.static_folder, SW_MESSAGES).read_text()
    messages = re.sub(r"^export ", "", messages, flags=re.MULTILINE)
    body = (
        source.replace('"__HOMEWARD_VERSION__"', f'"{shell_version()}"')
        .replace("[] /* __HOMEWARD_SHELL__ */", repr(shell_urls()).replace("'", '"'))
        .replace("/* __HOMEWARD_MESSAGES__ */", messages)
    )
    response = current_app.response_class(body, mimetype="text/javascript")
    g.cache_control = "no-cache"  # always revalidated, so updates are found promptly
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.route("/app/")
@public
def shell():
    g.cache_control = "no-cache"
    # The question markup is the web form's own (the same WTForms fields and GOV.UK macros),
    # rendered empty: field mode clones it and fills in the answers from the device.
    forms = [
        (section, section_form_class(section.slug)(formdata=None, meta={"csrf": False}))
        for section in SECTIONS
    ]
    return render_template(
        "field/shell.html", generic=True, version=shell_version(), question_forms=forms
    )


@bp.route("/offline")
@public
def offline():
    g.cache_control = "no-cache"
    return render_template("field/offline.html", generic=True)


def interview_schema():
    """Served by the API blueprint at SCHEMA_URL (webapp/api/views.py)."""
    g.cache_control = "no-cache"
    # Generic, and precached: the question set (labels and rules for checking answers before
    # they are queued), the configured clock thresholds, and which roles keep which record types.
    roles = records.record_types_by_role()
    return jsonify(
        version=1,
        sections=to_json_schema(),
        required=required_rules(),
        thresholds=_thresholds_json(),
        record_types=roles,
        # The words of the choices a carer's phone asks with the return (episode.js).
        episode={"found_place": found_place_choices()},
    )


@bp.route("/install")
@public
def install_guide():
    return render_template("field/install.html")
