"""Homeward: return home interviews for children who went missing."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from sqlalchemy import event
from sqlalchemy.engine import Engine

from webapp import dbretry, errors, logs, proxy, security
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
    logs.init_app(app, os.environ if environ is None else environ)  # JSON lines, no personal data

    from govuk_frontend_wtf.main import WTFormsHelpers

    WTFormsHelpers(app)

    # Each feature registers its own routes and its own work before every commit (uow); the
    # order of before-commit work is each registration's `order`, not this list's.
    from webapp import (
        accounts,
        api,
        audit,
        carers,
        children,
        devices,
        episodes,
        field,
        fieldsync,
        interviews,
        main,
        models,
        oversight,
        reminders,
        schools,
        uow,
    )

    uow.init_app(app)
    for feature in (
        main,
        audit,
        accounts,
        children,
        episodes,
        interviews,
        carers,
        oversight,
        field,
        devices,
        reminders,
        schools,
        fieldsync,
        api,
    ):
        feature.init_app(app)
    models.configure()

    from webapp import templating

    templating.init_app(app)
    errors.init_app(app)  # the domain's errors and HTTP errors, as pages or (under /api/) JSON
    dbretry.init_app(app)  # a connection lost mid-request: GET retried once, else 503

    # Before any view reads the request: values no database column can hold (NUL, surrogates).
    from webapp import inputguard

    inputguard.init_app(app)
    return app


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
