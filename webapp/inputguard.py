"""Characters no database column can hold are refused at the door, once for every route.

PostgreSQL text cannot hold a NUL character and no UTF-8 column can hold a lone surrogate: a
value carrying one would reach the database and answer 500 (on PostgreSQL only, so a test on
SQLite would never see it). No person types either of them, so the request is refused whole with
a 400 that says why; the browser's Back button still has the form as it was typed.

Only the address (path and query) and HTML form bodies are checked here. JSON bodies are left to
their endpoints: a sync batch must refuse the one mutation carrying such a value and go on with
the rest, not lose the whole batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask, jsonify, render_template, request

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

MESSAGE = (
    "What was sent contains a character that cannot be stored (a NUL or a broken character). "
    "Go back, remove it and send it again: what you typed is still in the form."
)
ADDRESS_MESSAGE = "The web address contains a character that is not allowed."

FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _any_unstorable(values: Iterable[str]) -> bool:
    return any(_UNSTORABLE.search(v) for v in values)


def _multidict_values(md) -> Iterable[str]:
    for key, values in md.lists():
        yield key
        yield from values


def _refuse(message: str):
    if request.path.startswith("/api/"):
        return jsonify(error="bad_request", message=message), 400
    return render_template("errors/bad_input.html", message=message), 400


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_unstorable_characters():
        if _any_unstorable([request.path]) or _any_unstorable(_multidict_values(request.args)):
            return _refuse(ADDRESS_MESSAGE)
        if request.mimetype in FORM_MIMETYPES and _any_unstorable(_multidict_values(request.form)):
            return _refuse(MESSAGE)
        return None
