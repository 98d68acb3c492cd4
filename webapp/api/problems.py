"""The API's error shape (sync.protocol's ProblemResponse), for every route under /api/v1.

Each part of the API answers an unexpected failure in its own words: a sync push is sent again
by the phone, so its 500 says so; a push subscription or a session check is not, and must not.
"""

from __future__ import annotations

from flask import current_app, jsonify
from werkzeug.exceptions import HTTPException

from sync.protocol import ErrorCode, ProblemResponse
from webapp import errors
from webapp.devices import revocation
from webapp.extensions import db

API_MESSAGES = {
    ErrorCode.NOT_FOUND: "No such record, or you do not have access to it",
    ErrorCode.CONFLICT: "Someone else changed this record at the same moment",
}
SERVER_ERROR = "Something went wrong on the server; try again in a moment."


def problem(status: int, code: ErrorCode | str, message: str, details: list | None = None):
    body = ProblemResponse(error=ErrorCode(code), message=message, details=details or [])
    return jsonify(body.model_dump(mode="json")), status


def revoked():
    """The device was revoked: the one answer that tells the field client to wipe itself."""
    return jsonify(revocation.GONE), 410


def failure_handler(part: str, server_error: str = SERVER_ERROR):
    """An error handler for one part of the API (a blueprint's errorhandler(Exception), which
    Flask finds before the app's own handlers).

    HTTP errors (404 for what the user may not see, 405, ...) keep their own status and the
    domain's refusals keep their meaning (errors.describe). The log gets the exception type and
    traceback only: request bodies carry interview content.
    """

    def handle(err: Exception):
        if isinstance(err, HTTPException):
            return err
        db.session.rollback()
        described = errors.describe(err)
        if described is not None:
            status, code, message = described
            return problem(status, code, API_MESSAGES.get(ErrorCode(code), message))
        current_app.logger.error("%s API failure: %s", part, type(err).__name__, exc_info=err)
        return problem(500, ErrorCode.SERVER_ERROR, server_error)

    return handle
