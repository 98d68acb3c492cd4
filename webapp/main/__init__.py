"""The start page and the pages every role shares."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package: they pull in services
    # whose models import sibling packages, which must not be a cycle back to here.
    from webapp.main import views

    app.register_blueprint(views.bp)
