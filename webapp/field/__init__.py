"""Field mode: the service worker, the app shell and what each role keeps on a phone."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.field import views

    app.register_blueprint(views.bp)
