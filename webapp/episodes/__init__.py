"""Missing episodes: reported, returned, and the escalations they start."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.episodes import escalation_views, views

    app.register_blueprint(views.bp)
    app.register_blueprint(escalation_views.bp)
