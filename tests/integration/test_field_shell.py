"""What the server gives field mode: the precache list walked from the ES-module imports, the
message names inlined into the worker, the question markup rendered from the web form's fields,
and the configured clock threshold and record types in the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests import factories
from webapp.accounts.models import Role
from webapp.extensions import db
from webapp.field import views as field
from webapp.interviews.questions import QUESTIONS

STATIC = Path(__file__).resolve().parents[2] / "static"


def _shell(client) -> list[str]:
    body = client.get("/sw.js").get_data(as_text=True)
    return json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))


def test_every_module_the_app_imports_is_precached(app):
    shell = set(_shell(app.test_client()))
    modules = {f"/static/{p.relative_to(STATIC).as_posix()}" for p in (STATIC / "js").rglob("*.js")}
    # Every module in static/js is reached from an entry point, and every one is precached: a
    # module left out would be missing on a phone with no signal.
    assert modules <= shell, sorted(modules - shell)


def test_the_import_walk_follows_relative_and_absolute_imports(tmp_path):
    js = tmp_path / "js"
    (js / "a").mkdir(parents=True)
    (js / "entry.js").write_text(
        'import { x } from "./a/x.js";\nimport "/static/js/side.js";\n'
        "/** @type {import('./typedef.js').T} */\n// import nothing from './comment.js'\n"
    )
    (js / "a" / "x.js").write_text(
        'export { y } from "../y.js";\nimport {\n  z,\n} from "./z.js";\n'
    )
    for name in ("side.js", "y.js", "a/z.js"):
        (js / name).write_text("export const v = 1;\n")
    graph = field.module_graph.__wrapped__(str(tmp_path), ("js/entry.js",))
    assert sorted(graph) == ["js/a/x.js", "js/a/z.js", "js/entry.js", "js/side.js", "js/y.js"]


def test_the_worker_gets_the_message_names_the_pages_use(app):
    body = app.test_client().get("/sw.js").get_data(as_text=True)
    assert "__HOMEWARD_MESSAGES__" not in body
    source = (STATIC / "js" / "sw-messages.js").read_text()
    names = set(re.findall(r'^\s+(\w+): "(\w+)"', source, re.MULTILINE))
    assert names == {
        ("SKIP_WAITING", "SKIP_WAITING"),
        ("VERSION", "VERSION"),
        ("FLUSH_OUTBOX", "FLUSH_OUTBOX"),
    }
    assert source.replace("export ", "") in body
    assert "MSG.FLUSH_OUTBOX" in body and '"FLUSH_OUTBOX"' not in body.split("const MSG")[0]


def test_the_shell_carries_every_question_as_the_web_form_renders_it(app):
    page = app.test_client().get("/app/").get_data(as_text=True)
    template = re.search(
        r'<template id="hw-field-questions">(.*?)</template>', page, re.DOTALL
    ).group(1)
    for name, q in QUESTIONS.items():
        assert f'name="{name}"' in template, name
        assert q.label.replace("'", "&#39;") in template, name
    # Empty: the shell is the same for everyone and is cached.
    assert not re.search(r"<input[^>]*\schecked", template)
    assert re.findall(r"<textarea[^>]*>([^<]*)</textarea>", template) == [""] * len(
        re.findall(r"<textarea", template)
    )
    assert "datetime-local" in template


def test_the_schema_carries_the_configured_threshold_and_record_types(app):
    app.config["HOMEWARD_THRESHOLDS"] = type(app.config["HOMEWARD_THRESHOLDS"])(due_soon_hours=6)
    schema = app.test_client().get("/api/v1/schema/interview").get_json()
    assert schema["thresholds"]["due_soon_hours"] == 6
    assert schema["record_types"] == {
        "worker": ["interview"],
        "social_worker": ["interview"],
        "carer": ["child", "episode"],
        "dsl": ["school", "pupil", "school_entry"],
    }
    assert field.field_record_types("carer") == ("child", "episode")
    assert field.field_record_types("dsl") == ("school", "pupil", "school_entry")
    assert field.field_record_types("manager") == ()


def test_field_mode_is_offered_in_the_navigation_only_to_roles_with_records_on_a_phone(as_user):
    """The navigation asks the record-type registry, as /app/ does: workers and carers have
    types (a DSL's tablet too); managers have none, so nothing invites them to set up an empty
    phone."""
    authority = factories.local_authority()
    people = (
        (factories.worker(authority), True),
        (factories.user(Role.CARER, authority=authority), True),
        (factories.user(Role.DSL, authority=authority), True),
        (factories.manager(authority), False),
    )
    db.session.commit()
    for person, offered in people:
        page = as_user(person).get("/account").get_data(as_text=True)
        assert ('href="/app/"' in page) is offered, person.role
