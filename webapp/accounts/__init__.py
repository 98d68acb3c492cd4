"""Accounts: signing in and out, passwords, and the administrators' user pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.accounts import admin_views, mfa_views, views

    app.register_blueprint(views.bp)  # with the second factor's pages (mfa_views) on it
    # After security's own before_request (the device cookie that loading the user needs).
    app.before_request(mfa_views.second_factor_gate)
    app.register_blueprint(admin_views.bp)
