"""Structured logs without personal data: one JSON object a line, one line a request.

A log outlives the records it mentions (retention deletes a case; the log shipped to a
monitoring service stays) and is read by people who may not see the records at all. So what a
line may hold is decided here, not at each call site:

- a request is its route's endpoint and rule (`children.show`, `/children/<child_id>`), never
  the URL: no ids, no query string (a search for a child's name is a query string);
- the person is a keyed pseudonym of their account id (HMAC with the app's secret key) and
  their role: lines from one person can be followed, and only someone holding the secret key and
  the database can say who it was (`pseudonym()` below);
- an exception is its type and where it was raised, never its message or the values in its
  frames (a message can quote what a child said, or a connection string);
- no client address: the audit trail holds that, with the access rules that go with it.

HOMEWARD_LOG_FORMAT=json (the default in production) or text (elsewhere: a person reading a
terminal). Either way the request line carries the same fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

log = logging.getLogger("homeward.request")

# An id the reverse proxy made (nginx's $request_id is 32 hex digits) joins its log to ours;
# anything else a client sends is replaced, so a request id can never carry text into the log.
REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{16,64}$")
REQUEST_ID_HEADER = "X-Request-ID"


def pseudonym(secret_key: str, user_id: str) -> str:
    """The name an account goes by in the logs: stable, and meaningless without the secret key.

    To find whose lines they are: compute this for each user id in the database and compare.
    """
    digest = hmac.new(secret_key.encode(), b"log:" + user_id.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def _where(exc_info) -> list[str]:
    """Where an exception went, frame by frame (file:line in function), without its message."""
    frames = traceback.extract_tb(exc_info[2])
    return [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} in {f.name}" for f in frames][-12:]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "homeward", {}))
        if "request_id" not in entry and has_request_context():
            entry["request_id"] = g.get("request_id")
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["where"] = _where(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """The same facts for a terminal; exceptions also without their messages."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "homeward", {}).items())
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info and record.exc_info[0] is not None:
            line += f" exception={record.exc_info[0].__name__} at " + " < ".join(
                reversed(_where(record.exc_info))
            )
        return line


def configure(fmt: str, stream=None) -> logging.Handler:
    """Send every logger's records (gunicorn's error log included) through our formatter.

    Replaces only a handler this function installed before, so calling it twice (two apps in
    one process, as tests make) does not print every line twice.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler._homeward = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_homeward", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    # Alembic's env.py (run by `homeward init-db`, and by tests) disables every logger that
    # existed before it; ours must keep speaking.
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("homeward") or name.startswith("webapp"):
            logging.getLogger(name).disabled = False
    return handler


def init_app(app: Flask, environ) -> None:
    fmt = (
        app.config.get("HOMEWARD_LOG_FORMAT")
        or environ.get("HOMEWARD_LOG_FORMAT")
        or ("json" if app.config["HOMEWARD_ENV"] == "production" else "text")
    )
    if fmt not in ("json", "text"):
        raise ValueError(f"HOMEWARD_LOG_FORMAT must be json or text, not {fmt!r}")
    if not app.testing or app.config.get("HOMEWARD_LOG_FORMAT"):
        configure(fmt)

    def start():
        if "request_started" in g:
            return  # dbretry's second run of the same request: one line, timed from the first
        g.request_started = time.perf_counter()
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex

    # First of all before-request functions: a request refused by one of them is logged too.
    app.before_request_funcs.setdefault(None, []).insert(0, start)

    @app.after_request
    def request_line(response):
        if request.endpoint == "static" or "request_started" not in g:
            return response
        response.headers[REQUEST_ID_HEADER] = g.request_id
        fields = {
            "event": "request",
            "request_id": g.request_id,
            "method": request.method,
            "endpoint": request.endpoint,
            # The rule with its placeholders, never the path with the ids filled in.
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
        }
        # Noted by the user loader (accounts.views.load_user) rather than read from current_user:
        # after the commit the user's attributes are expired, and reading them reloads the row.
        who = g.get("log_user")
        if who is None and "_login_user" in g:
            # Signed in by this very request (no loader ran): read it, once.
            user = g._login_user
            if getattr(user, "is_authenticated", False):
                who = (user.id, user.role)
        if who is not None:
            fields["user"] = pseudonym(app.config["SECRET_KEY"], str(who[0]))
            fields["role"] = str(who[1])
        log.info("request", extra={"homeward": fields})
        return response
