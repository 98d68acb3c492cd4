"""The manager's dashboard: the 72-hour clock across the authority."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.oversight import dashboard_views, export_views, meeting_views, views

    app.register_blueprint(views.bp)
    app.register_blueprint(export_views.bp)  # the statutory returns
    app.register_blueprint(meeting_views.bp)  # the monthly missing meeting pack
    dashboard_views.init_app(app)  # the figures: their blueprint and the factors' listener
