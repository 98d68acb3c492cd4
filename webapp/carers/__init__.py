"""Carers' work: reporting a child missing and back, the standing profile with its photo, the
police handover, and the risk assessment and action plan with its reminders."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.carers import hooks, plan_views, sync, views
    from webapp.fieldsync import registry

    hooks.init_app(app)  # every new child gets its profile row
    app.register_blueprint(views.bp)
    app.register_blueprint(plan_views.bp)
    # What a carer's phone keeps in field mode: the children placed with them, their reports.
    registry.register(app, sync.CHILD_RECORD)
    registry.register(app, sync.EPISODE_RECORD)
