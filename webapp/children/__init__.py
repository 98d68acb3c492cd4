"""Children: who they are, where they live, and the people responsible for them."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.children import audit_views, views

    audit_views.add_routes(views.bp)
    app.register_blueprint(views.bp)
