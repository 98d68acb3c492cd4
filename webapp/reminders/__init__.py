"""Push reminders: the one schedule table (schedule.py), pure and framework-free.

The Flask app recomputes reminders when facts change; a standalone dispatcher sends the due ones.
Neither flask nor sqlalchemy is imported here so both can use it and it can be unit-tested.
"""

# Before the change log (webapp.fieldsync.CHANGE_LOG_ORDER): the refresh may add rows.
REMINDERS_ORDER = 10


def init_app(app) -> None:
    # Imported here, not at the top: this package stays importable without Flask or SQLAlchemy
    # for the pure schedule; the pages and the hooks are the app's.
    from webapp import uow
    from webapp.reminders import hooks, views

    app.register_blueprint(views.bp)
    uow.register_after_flush(app, "reminders", hooks.note_subjects)
    uow.register_before_commit(app, "reminders", hooks.refresh_noted, order=REMINDERS_ORDER)
