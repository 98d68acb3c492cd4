"""The webapp's side of the sync engine: the store, the record types, the change log."""

from __future__ import annotations

from flask import Flask

# Last of all before a commit: the change log's PostgreSQL lock is then held only from there to
# the commit (reminders, which may add rows, come before).
CHANGE_LOG_ORDER = 100


def init_app(app: Flask) -> None:
    # Imported when the app is built: changes.py imports the models of the record types it logs.
    from webapp import uow
    from webapp.fieldsync import changes

    uow.register_after_flush(app, "change_log", changes.note_changes)
    uow.register_before_commit(app, "change_log", changes.append_log, order=CHANGE_LOG_ORDER)
