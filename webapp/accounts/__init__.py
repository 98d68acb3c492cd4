"""Accounts: signing in and out, passwords, and the administrators' user pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.accounts import admin_views, views

    app.register_blueprint(views.bp)
    app.register_blueprint(admin_views.bp)
