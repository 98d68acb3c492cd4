"""Schools: the designated safeguarding lead's absence and children-missing-education work, the
school calendar it is counted in, and the authority's children-missing-education officer."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.schools import absence_views, calendar_views, cme_views, pupil_views

    for views in (calendar_views, pupil_views, absence_views, cme_views):
        app.register_blueprint(views.bp)
