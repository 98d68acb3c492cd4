"""Homeward: return home interviews for children who went missing."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from sqlalchemy import event
from sqlalchemy.engine import Engine

from webapp import dbretry, proxy, security
from webapp.config import build_config
from webapp.crypto import load_cipher
from webapp.extensions import compress, csrf, db, htmx, limiter, login_manager, migrate
from webapp.push.vapid import load_keys as load_vapid_keys

MIGRATIONS = str(Path(__file__).parent / "migrations")


def create_app(config: dict | None = None, environ: dict | None = None) -> Flask:
    settings = build_config(os.environ if environ is None else environ, **(config or {}))
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_path=settings["INSTANCE_PATH"],
        instance_relative_config=False,
    )
    app.config.update(settings)
    app.jinja_loader = ChoiceLoader(
        [
            app.jinja_loader,
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    # A missing or unreadable key is a startup error, never a silent new key.
    app.extensions["homeward_cipher"] = load_cipher(
        os.environ if environ is None else environ,
        app.instance_path,
        allow_generate=app.config["HOMEWARD_ALLOW_KEY_GENERATION"],
    )

    # Push: production refuses to start without the VAPID key (a new one would break every
    # subscription); elsewhere push is simply off until `homeward vapid-keys` makes one.
    app.extensions["homeward_vapid"] = load_vapid_keys(
        os.environ if environ is None else environ,
        app.instance_path,
        required=app.config["HOMEWARD_ENV"] == "production",
    )

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    compress.init_app(app)
    limiter.init_app(app)

    security.init_app(app)
    proxy.init_app(app)

    from govuk_frontend_wtf.main import WTFormsHelpers

    WTFormsHelpers(app)

    from webapp import (
        models,  # noqa: F401  (register every table with the metadata)
        uow,  # noqa: F401  (before every commit: reminders, then the change log)
    )
    from webapp.accounts.admin_views import bp as admin_bp
    from webapp.accounts.views import bp as accounts_bp
    from webapp.api import sync_views  # noqa: F401  (adds the sync routes to the API)
    from webapp.api.views import bp as api_bp
    from webapp.children.views import bp as children_bp
    from webapp.devices.views import bp as devices_bp
    from webapp.episodes.views import bp as episodes_bp
    from webapp.field.views import bp as field_bp
    from webapp.fieldsync import changes  # noqa: F401  (the change log listener)
    from webapp.main.views import bp as main_bp
    from webapp.oversight.views import bp as oversight_bp
    from webapp.push import views as push_views  # noqa: F401  (adds the push routes to the API)
    from webapp.reminders import hooks  # noqa: F401  (reminders follow the facts)
    from webapp.reminders.views import bp as reminders_bp

    for bp in (
        main_bp,
        accounts_bp,
        children_bp,
        episodes_bp,
        oversight_bp,
        field_bp,
        devices_bp,
        reminders_bp,
        admin_bp,
    ):
        app.register_blueprint(bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    from webapp import interviews

    interviews.init_app(app)

    from webapp import templating

    templating.init_app(app)
    _register_errors(app)
    dbretry.init_app(app)  # a connection lost mid-request: GET retried once, else 503

    # Before any view reads the request: values no database column can hold (NUL, surrogates).
    from webapp import inputguard

    inputguard.init_app(app)
    return app


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _register_errors(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError
    from sqlalchemy.orm.exc import StaleDataError

    @app.errorhandler(StaleDataError)
    def changed_meanwhile(_err):
        # Two people changed one record at once and the version column caught the second: a
        # conflict to reload, not a server fault. Forms that can keep what was typed catch it
        # themselves (interview sections).
        db.session.rollback()
        message = "Someone else changed this record. Reload the page and try again."
        if _wants_json():
            return jsonify(error="conflict", message=message), 409
        return render_template("errors/error.html", code=409, message=message), 409

    @app.errorhandler(PermissionError)
    def not_allowed(_err):
        # A service's NotAllowed: answered as if the record did not exist. (An error handler that
        # calls abort() instead raises out of Flask's handling and becomes a 500.)
        if _wants_json():
            return jsonify(error="not_found", message="Page not found."), 404
        return render_template("errors/error.html", code=404, message="Page not found."), 404

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        if _wants_json():
            return jsonify(error="csrf_failed", message=err.description), 400
        return render_template("errors/error.html", code=400, message=err.description), 400

    for code, message in (
        (400, "The request could not be understood."),
        (401, "Sign in to continue."),
        (404, "Page not found."),
        (405, "That action is not allowed here."),
        (409, "Someone else changed this record. Reload the page and try again."),
        (413, "The request was too large."),
    ):

        def handler(err, code=code, message=message):
            if _wants_json():
                return jsonify(error=err.name.lower().replace(" ", "_"), message=message), code
            return render_template("errors/error.html", code=code, message=message), code

        app.register_error_handler(code, handler)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # WAL lets the reminder dispatcher read while a request writes; SQLite only checks foreign
    # keys when asked.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # As long as a phone waits for an answer (the field client gives up after 15 s).
        cur.execute("PRAGMA busy_timeout=15000")
        cur.close()
        # The driver begins a transaction at the first write, not at reads. DEFERRED (its
        # default) would then have to upgrade to the write lock, which SQLite refuses at once when
        # another writer is busy ("database is locked", busy timeout or not: two phones pushing
        # together would get a 500). IMMEDIATE takes the write lock at that BEGIN, where the busy
        # timeout does wait. WAL keeps readers unblocked.
        dbapi_connection.isolation_level = "IMMEDIATE"


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint(conn, name):
    # The driver only begins a transaction at a write, so a SAVEPOINT before any write would
    # start one of its own, and its RELEASE would commit: a sync batch would no longer be one
    # transaction. Begin the real transaction first (IMMEDIATE, as above).
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
