"""House rules that keep the code easy to see."""

import ast
import re
from pathlib import Path

from webapp.security import AUTH_ATTR

ROOT = Path(__file__).resolve().parents[2]


def test_every_view_declares_who_may_call_it(app):
    undeclared = [
        name
        for name, view in app.view_functions.items()
        if name != "static" and not hasattr(view, AUTH_ATTR)
    ]
    assert undeclared == []


# ---------------------------------------------------------------- the import graph
#
# Built from the source with ast, not by importing it, so a broken tree can be checked too (the
# tests at the end feed the checkers deliberately broken trees). Every import counts, the ones
# inside functions included: an import moved into a function hides a cycle, it does not remove
# it. Imports under `if TYPE_CHECKING:` never run and do not count.

PACKAGES = ("webapp", "sync")
# The web framework (flask and its extensions) and the database: what a pure rule module must
# never reach. (Werkzeug's URL helpers are plain functions and may be used.)
FRAMEWORKS = ("flask", "sqlalchemy", "alembic", "psycopg")


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            # Alembic loads migrations by file path; nothing imports them.
            if "migrations" not in path.relative_to(root).parts:
                found[_module_name(root, path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def _raw_imports(mod: str, path: Path, modules) -> set[str]:
    """Every dotted name the module imports (absolute, relative ones resolved)."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_package else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    # `from pkg import sub` imports the submodule pkg.sub, not what pkg's
                    # __init__ holds (Python runs that either way: no choice of the module).
                    sub = f"{target}.{alias.name}"
                    names.add(sub if sub in modules else target)
            visit(ast.iter_child_nodes(node))

    visit(ast.parse(path.read_text()).body)
    return names


def import_graph(root: Path, packages=PACKAGES) -> tuple[dict[str, set[str]], dict[str, set]]:
    """(our module -> our modules it imports, our module -> top-level outside packages)."""
    modules = _modules(root, packages)
    internal: dict[str, set[str]] = {}
    external: dict[str, set[str]] = {}
    for mod, path in modules.items():
        raw = _raw_imports(mod, path, modules)
        # A package's own __init__ runs whenever a submodule is imported, but that is Python's
        # doing, not a dependency the module chose: only the names it imports count.
        internal[mod] = {name for name in raw if name in modules and name != mod}
        external[mod] = {
            name.split(".")[0] for name in raw if name.split(".")[0] not in packages and name
        }
    return internal, external


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path a -> b -> ... -> a) for each group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return [_a_cycle_in(graph, group) for group in groups]


def _a_cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    # Breadth-first from start back to start, inside the group: the shortest cycle through it.
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & group):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    raise AssertionError(f"no cycle in {group}")  # a strongly connected group always has one


def _reachable(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Every module start imports, directly or not, with the chain of imports that gets there."""
    chains = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w not in chains:
                chains[w] = chains[v] + [w]
                queue.append(w)
    return chains


def framework_imports(root: Path, modules: list[str], packages=PACKAGES) -> list[str]:
    """Each way one of `modules` reaches flask, sqlalchemy & co, as 'a -> b -> flask'."""
    internal, external = import_graph(root, packages)
    found = []
    for start in modules:
        for mod, chain in _reachable(internal, start).items():
            for name in sorted(external[mod]):
                if name.startswith(FRAMEWORKS):
                    found.append(" -> ".join([*chain, name]))
    return found


def cross_imports(root: Path, package: str, forbidden: tuple[str, ...], packages=PACKAGES):
    """Each module of `package` importing one of `forbidden` (top-level names), directly."""
    modules = _modules(root, packages)
    found = []
    for mod, path in modules.items():
        if mod == package or mod.startswith(package + "."):
            names = {name.split(".")[0] for name in _raw_imports(mod, path, modules)}
            found += [f"{mod} -> {name}" for name in sorted(names) if name.startswith(forbidden)]
    return sorted(found)


# Modules of rules alone: the app, the standalone dispatcher and the unit tests use them without
# a request or a database, and the field client's twins are tested against them.
PURE_MODULES = [
    "webapp.deadlines",
    "webapp.reminders.schedule",
    "webapp.interviews.workflow",
    "webapp.interviews.questions",
    "webapp.crypto",
    "webapp.push.client",
    "webapp.push.vapid",
    "webapp.secretfile",
    "webapp.carers.plan_rules",
    "webapp.carers.photos",
    "webapp.schools.days",
    "webapp.oversight.ssda903",
    "webapp.oversight.csvsafe",
]


def test_no_import_cycles():
    internal, _ = import_graph(ROOT)
    cycles = [" -> ".join(cycle) for cycle in find_cycles(internal)]
    assert cycles == [], "import cycles (move the shared piece down, or register it):\n" + (
        "\n".join(cycles)
    )


def side_effect_imports(root: Path, packages=PACKAGES) -> list[str]:
    """Imports kept only for what importing does ('# noqa: F401' silences ruff's unused-import
    check): registration belongs in an explicit call, such as a feature's init_app."""
    found = []
    for mod, path in _modules(root, packages).items():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "import" in line and re.search(r"#\s*noqa:[^#]*F401", line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


# The table registry Alembic reads: importing the models is what it is for.
SIDE_EFFECT_IMPORTS_ALLOWED = ("webapp/models.py",)


def test_no_import_is_kept_only_for_its_side_effects():
    found = side_effect_imports(ROOT)
    assert [f for f in found if not f.startswith(SIDE_EFFECT_IMPORTS_ALLOWED)] == []


def test_pure_rule_modules_reach_no_framework_or_database():
    modules = _modules(ROOT)
    assert set(PURE_MODULES) <= set(modules), set(PURE_MODULES) - set(modules)
    assert framework_imports(ROOT, PURE_MODULES) == []


def test_sync_engine_knows_nothing_of_the_app_or_its_database():
    # sync/ is the protocol and the engine: the app plugs into it, never the other way round.
    assert cross_imports(ROOT, "sync", ("flask", "sqlalchemy", "webapp")) == []


# ---------------------------------------------------------------- thin views
#
# A view reads the request, calls its feature's service and renders: the queries live in
# service.py, where the access rules are applied and the tests can call them without HTTP.

SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "exists", "func", "union"}
# A refused write rolls back so the page can be shown again with what was typed: that is the
# view answering an error, not the view reading or writing data.
SESSION_ALLOWED = {"rollback"}


def _is_views_module(path: Path) -> bool:
    return path.name.endswith("views.py")


def _sql_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names bound to SQL builders imported from sqlalchemy, aliases of sqlalchemy itself)."""
    builders, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            builders |= {a.asname or a.name for a in node.names if a.name in SQL_BUILDERS}
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "sqlalchemy"}
    return builders, modules


def _database_use(node: ast.AST, builders: set[str], modules: set[str]) -> str | None:
    if isinstance(node, ast.Attribute):
        base = node.value
        if isinstance(base, ast.Attribute) and ast.unparse(base) == "db.session":
            return None if node.attr in SESSION_ALLOWED else f"db.session.{node.attr}"
        if ast.unparse(node) == "db.engine":
            return "db.engine"
        # Model.query (Flask-SQLAlchemy's legacy query property) and session.query(...)
        if node.attr == "query" and (
            isinstance(base, ast.Name) and base.id[:1].isupper() or "session" in ast.unparse(base)
        ):
            return ast.unparse(node)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in builders:
            return f"{func.id}(...)"
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in modules
            and func.attr in SQL_BUILDERS
        ):
            return f"{ast.unparse(func)}(...)"
    return None


def views_querying_the_database(root: Path, packages=("webapp",)) -> list[str]:
    """'path: function() uses ...' for each view function that queries the database itself."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if not _is_views_module(path):
                continue
            tree = ast.parse(path.read_text())
            builders, modules = _sql_names(tree)
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                uses = sorted(
                    {
                        use
                        for node in ast.walk(fn)
                        if (use := _database_use(node, builders, modules)) is not None
                    }
                )
                if uses:
                    rel = path.relative_to(root)
                    found.append(f"{rel}: {fn.name}() uses {', '.join(uses)}")
    return found


def test_views_do_not_query_the_database():
    assert views_querying_the_database(ROOT) == [], "move these queries into the service"


# ---------------------------------------------------------------- the field client's seams
#
# Only static/js/store/db.js opens IndexedDB and only static/js/api.js calls fetch: every other
# module goes through them, so timeouts, CSRF, signed-out handling and the database's upgrades
# each live in one place. The service worker (static/sw.js) keeps its own fetch.

JS_ROOT = "static/js"
JS_OWNERS = {
    "indexedDB": ("static/js/store/db.js", re.compile(r"\bindexedDB\b")),
    "fetch": (
        "static/js/api.js",
        re.compile(r"(?:\b(?:window|self|globalThis)\.|(?<![\w$.]))fetch\s*\("),
    ),
}
_JS_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\\])//[^\n]*", re.S)


def js_calls_outside_their_module(root: Path) -> list[str]:
    found = []
    for path in sorted((root / JS_ROOT).rglob("*.js")):
        rel = path.relative_to(root).as_posix()
        code = _JS_COMMENT.sub("", path.read_text())
        for name, (owner, pattern) in JS_OWNERS.items():
            if rel != owner and pattern.search(code):
                found.append(f"{rel} uses {name} (only {owner} may)")
    return found


def test_field_client_calls_indexeddb_and_fetch_only_from_their_modules():
    assert js_calls_outside_their_module(ROOT) == []


def test_services_do_not_touch_the_request():
    for path in (ROOT / "webapp").glob("*/service.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "flask":
                assert "request" not in {a.name for a in node.names}, path


# ---------------------------------------------------------------- the checkers catch what they say
#
# Each checker above, run over a small broken tree: a checker that cannot fail proves nothing.


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_is_found_and_named_even_through_an_import_inside_a_function(tmp_path):
    root = _tree(
        tmp_path,
        {
            "webapp/__init__.py": "",
            "webapp/uow.py": "def run():\n    from webapp.reminders import hooks\n",
            "webapp/reminders/__init__.py": "",
            "webapp/reminders/hooks.py": "from webapp import uow\n",
            # Never runs: not a cycle.
            "webapp/typed.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from webapp import uow\n"
            ),
            "webapp/tidy.py": "from . import typed\n",
            "sync/__init__.py": "",
        },
    )
    internal, _ = import_graph(root)
    assert find_cycles(internal) == [
        ["webapp.reminders.hooks", "webapp.uow", "webapp.reminders.hooks"]
    ]
    assert internal["webapp.tidy"] == {"webapp.typed"}  # relative imports resolved
    assert internal["webapp.typed"] == set()


def test_a_pure_module_reaching_flask_through_a_helper_is_named(tmp_path):
    root = _tree(
        tmp_path,
        {
            "webapp/__init__.py": "import flask\n",  # the package's own __init__ may
            "webapp/deadlines.py": "from webapp import helpers\n",
            "webapp/helpers.py": "from flask import current_app\n",
            "webapp/clean.py": "import datetime\nfrom webapp import deadlines2\n",
            "webapp/deadlines2.py": "from werkzeug.urls import iri_to_uri\n",
            "sync/__init__.py": "",
        },
    )
    assert framework_imports(root, ["webapp.deadlines", "webapp.clean"]) == [
        "webapp.deadlines -> webapp.helpers -> flask"
    ]


def test_sync_importing_the_app_or_its_database_is_named(tmp_path):
    root = _tree(
        tmp_path,
        {
            "webapp/__init__.py": "",
            "sync/__init__.py": "",
            "sync/engine.py": "import sqlalchemy.orm\n",
            "sync/store.py": "def load():\n    from webapp.extensions import db\n",
            "sync/protocol.py": "import json\nfrom . import engine\n",
        },
    )
    assert cross_imports(root, "sync", ("flask", "sqlalchemy", "webapp")) == [
        "sync.engine -> sqlalchemy",
        "sync.store -> webapp",
    ]


def test_a_view_that_queries_is_named(tmp_path):
    root = _tree(
        tmp_path,
        {
            "webapp/children/views.py": (
                "from sqlalchemy import select as sel\n"
                "import sqlalchemy as sa\n"
                "from webapp.extensions import db\n"
                "def show(child_id):\n"
                "    return db.session.scalars(sel(Child)).all()\n"
                "def index():\n"
                "    return Child.query.all()\n"
                "def count():\n"
                "    return db.session.execute(sa.text('select 1'))\n"
                "def save():\n"
                "    try:\n        service.save()\n"
                "    except StaleDataError:\n        db.session.rollback()\n"
            ),
            "webapp/children/service.py": (
                "from webapp.extensions import db\ndef rows():\n    return db.session.scalars(1)\n"
            ),
        },
    )
    assert views_querying_the_database(root) == [
        "webapp/children/views.py: show() uses db.session.scalars, sel(...)",
        "webapp/children/views.py: index() uses Child.query",
        "webapp/children/views.py: count() uses db.session.execute, sa.text(...)",
    ]


def test_an_import_kept_for_its_side_effects_is_named(tmp_path):
    root = _tree(
        tmp_path,
        {
            "webapp/__init__.py": "from webapp import hooks  # noqa: F401  (registers itself)\n",
            "webapp/hooks.py": "import os  # noqa: S404\n",
            "sync/__init__.py": "",
        },
    )
    assert side_effect_imports(root) == [
        "webapp/__init__.py:1: from webapp import hooks  # noqa: F401  (registers itself)"
    ]


def test_field_code_calling_indexeddb_or_fetch_itself_is_named(tmp_path):
    root = _tree(
        tmp_path,
        {
            "static/js/store/db.js": "const open = indexedDB.open('homeward', 3);\n",
            "static/js/api.js": "export const get = (url) => fetch(url);\n",
            "static/js/field/main.js": "const r = await window.fetch('/api/v1/x');\n",
            "static/js/store/outbox.js": "const req = indexedDB.open('x');\n",
            # Comments and other objects' fetch methods are not calls.
            "static/js/sync/client.js": (
                "// fetch(url) goes through api.js, never indexedDB here\n"
                "/* indexedDB */ const x = cache.fetch(1); const url = 'https://x';\n"
            ),
        },
    )
    assert js_calls_outside_their_module(root) == [
        "static/js/field/main.js uses fetch (only static/js/api.js may)",
        "static/js/store/outbox.js uses indexedDB (only static/js/store/db.js may)",
    ]
