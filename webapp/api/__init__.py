"""The versioned JSON API: every route under /api/v1, and its error shape."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Imported here: the views import the services, which import this package's siblings.
    from webapp.api import admission, views

    admission.init_app(app)
    app.register_blueprint(views.bp, url_prefix="/api/v1")
