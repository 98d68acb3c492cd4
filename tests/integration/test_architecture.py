"""House rules that keep the code easy to see."""

import ast
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


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_pure_modules_stay_pure():
    pure = (
        "webapp/deadlines.py",
        "webapp/crypto.py",
        "webapp/interviews/questions.py",
        # Used by the app and the standalone dispatcher, and unit-tested without either.
        "webapp/reminders/schedule.py",
        "webapp/push/client.py",
        "webapp/push/vapid.py",
        "webapp/secretfile.py",
    )
    for rel in pure:
        assert not _imports(ROOT / rel) & {"flask", "sqlalchemy", "flask_sqlalchemy"}, rel
    for path in (ROOT / "sync").rglob("*.py"):
        assert not _imports(path) & {"flask", "webapp"}, path


def test_services_do_not_touch_the_request():
    for path in (ROOT / "webapp").glob("*/service.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "flask":
                assert "request" not in {a.name for a in node.names}, path
