"""Schools: the designated safeguarding lead's absence and children-missing-education work, the
school calendar it is counted in, and the authority's children-missing-education officer."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Views are imported when the app is built, not with the package (see webapp.main).
    from webapp.fieldsync import registry
    from webapp.schools import absence_views, calendar_views, cme_views, pupil_views, sync

    for views in (calendar_views, pupil_views, absence_views, cme_views):
        app.register_blueprint(views.bp)
    # What a DSL's tablet keeps in field mode: the school's calendar, its pupils, and the work
    # done on the tablet until the server has it.
    for record_type in (sync.SCHOOL_RECORD, sync.PUPIL_RECORD, sync.ENTRY_RECORD):
        registry.register(app, record_type)
