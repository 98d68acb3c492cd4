"""The domain's errors, and the one place the app turns them (and HTTP errors) into answers.

Services raise these and never call `abort()`: they know nothing of HTTP. Views catch the ones
they can show beside a form field (RuleError) or answer with what was typed kept
(ChangedMeanwhile); whatever they leave is answered here, as an HTML page or, under /api/, as
JSON. The API blueprint answers its own routes in its own problem shape (webapp/api/problems.py)
and hands the domain errors back to `describe` so both say the same thing.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError


class DomainError(Exception):
    """A refusal by the domain's rules, not a fault."""


class NotFound(DomainError, LookupError):
    """No such record, or one the user may not see: the two are never told apart."""


class NotAllowed(DomainError, PermissionError):
    """The user may see the record but not do this to it; answered as if it did not exist."""


class RuleError(DomainError, ValueError):
    """The facts break a rule; views show the message beside the field."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class ChangedMeanwhile(DomainError):
    """The record moved on since the person read it: saving now would silently replace someone
    else's change (views answer 409 and keep what was typed)."""


NOT_FOUND = "Page not found."
CHANGED = "Someone else changed this record. Reload the page and try again."

HTTP_MESSAGES = {
    400: "The request could not be understood.",
    401: "Sign in to continue.",
    404: NOT_FOUND,
    405: "That action is not allowed here.",
    409: CHANGED,
    413: "The request was too large.",
}


def describe(err: Exception) -> tuple[int, str, str] | None:
    """(status, code, message) for a domain error (or a version clash caught by the database);
    None for anything else."""
    if isinstance(err, NotFound | NotAllowed):
        return 404, "not_found", NOT_FOUND
    if isinstance(err, ChangedMeanwhile | StaleDataError):
        # Two people changed one record at once: a conflict to reload, not a server fault.
        return 409, "conflict", CHANGED
    if isinstance(err, RuleError):
        return 422, "invalid_payload", err.message
    return None


def _answer(status: int, code: str, message: str):
    if request.path.startswith("/api/"):
        return jsonify(error=code, message=message), status
    return render_template("errors/error.html", code=status, message=message), status


def init_app(app: Flask) -> None:
    from webapp.extensions import db

    @app.errorhandler(DomainError)
    @app.errorhandler(StaleDataError)
    def domain_error(err):
        # An error handler that called abort() would raise out of Flask's handling (a 500).
        db.session.rollback()
        return _answer(*describe(err))

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        return _answer(400, "csrf_failed", err.description)

    for code, message in HTTP_MESSAGES.items():

        def http_error(err, code=code, message=message):
            return _answer(code, err.name.lower().replace(" ", "_"), message)

        app.register_error_handler(code, http_error)
