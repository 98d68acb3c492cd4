"""The sync API: the thin HTTP face of the framework-free engine in sync/.

One push is one database transaction. A server error rolls the whole batch back and the device,
which deletes nothing until it has an acknowledgement, simply sends it again; replays are safe
because every mutation id is remembered with its answer.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request
from flask_login import current_user
from pydantic import BaseModel, ValidationError

from sync import engine
from sync.protocol import (
    MAX_BODY_BYTES,
    PROTOCOL_VERSION,
    BatchInvalid,
    ErrorCode,
    PushResponse,
    read_push,
)
from webapp import uow
from webapp.api import admission
from webapp.api.problems import failure_handler, problem
from webapp.devices import revocation
from webapp.devices import service as devices
from webapp.fieldsync.store import SqlStore
from webapp.security import login_required


def _cursor_secret() -> bytes:
    return ("homeward-sync-cursor:" + current_app.config["SECRET_KEY"]).encode()


bp = Blueprint("sync", __name__)


def _note_sync(user) -> None:
    """Record the device's last sync in the request's own transaction (a second one cost a
    commit per request): if it fails, the batch rolls back with it and the device sends it
    again, which its mutation ids make safe."""
    devices.touch(
        user,
        g.device_id,
        request.user_agent.string or "",
        synced=True,
        known=g.get("device_row"),
    )


def _busy(busy: admission.Busy):
    body, status = problem(
        503,
        ErrorCode.SERVER_BUSY,
        "The server is busy; nothing was saved. It will be sent again automatically.",
    )
    return body, status, {"Retry-After": str(busy.seconds)}


@bp.route("/sync/push", methods=["POST"])
@login_required
@revocation.still_allowed(revocation.UPLOAD)  # only changes made before the revocation
def push():
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return problem(413, ErrorCode.BATCH_TOO_LARGE, f"The body is over {MAX_BODY_BYTES} bytes")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # Deeper than Python's JSON parser goes: no mutation can be read out of it.
        return problem(400, ErrorCode.INVALID_PAYLOAD, "The body is nested too deeply")
    if not isinstance(data, dict):
        return problem(400, ErrorCode.INVALID_PAYLOAD, "The body must be a JSON object")
    if data.get("protocol") != PROTOCOL_VERSION:
        return problem(
            400,
            ErrorCode.PROTOCOL_VERSION,
            f"This server speaks sync protocol {PROTOCOL_VERSION}; reload the app to update it",
        )
    try:
        # Each mutation is read on its own: one that is invalid is answered alone, in its place.
        batch = revocation.refuse_late_changes(g.get("revoked_device"), read_push(data))
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        too_many = any(e["loc"][:1] == ("mutations",) and e["type"] == "too_long" for e in errors)
        if too_many:
            return problem(413, ErrorCode.BATCH_TOO_LARGE, "Too many mutations in one batch")
        details = [{"loc": list(e["loc"]), "message": e["msg"], "type": e["type"]} for e in errors]
        return problem(422, ErrorCode.INVALID_PAYLOAD, "The batch is not valid", details)
    except BatchInvalid as exc:
        return problem(422, ErrorCode.INVALID_PAYLOAD, exc.message, exc.details)

    user = current_user._get_current_object()
    try:
        with admission.gate("push").admit():
            try:
                results = _apply(user, batch, roll_back_instead=True)
            except engine.RunOneByOne:
                # Something had to be undone: rolled back whole (uow.batch), then run again,
                # each mutation in its own savepoint. Rare, and it answers exactly as before.
                results = _apply(user, batch, one_by_one=True)
    except admission.Busy as busy:
        return _busy(busy)
    response = PushResponse(
        protocol=PROTOCOL_VERSION,
        results=results,
        cursor=None,
    )
    return _answer(response)


def _answer(body: BaseModel) -> Response:
    # pydantic writes the JSON itself in one pass (its Rust serializer), where model_dump then
    # jsonify built every page's dicts and strings in Python and encoded them again: 12% of a
    # fresh phone's full copy (bench/profile_pull.py under py-spy). Same JSON to a reader; the
    # keys in the models' order, not sorted, and UTF-8 rather than \u escapes.
    return current_app.response_class(body.model_dump_json(), mimetype="application/json")


def _apply(user, batch, **how) -> list:
    """One transaction: this device's turn, the batch, the device's last sync noted. A store of
    its own each time: its handlers keep the rows they loaded for the transaction."""
    store = SqlStore(g.device_id)
    with uow.batch():
        store.serialise(user)
        results = engine.apply_batch(store, user, batch, **how)
        _note_sync(user)
    return results


@bp.route("/sync/pull")
@login_required
def pull():
    # A revoked device never gets here: load_user refuses it (revocation.may) for every view
    # that is not marked still_allowed, and the API answers 410 with wipe=true.
    user = current_user._get_current_object()
    try:
        limit = max(1, min(int(request.args.get("limit", "200")), 500))
    except ValueError:
        return problem(400, ErrorCode.INVALID_PAYLOAD, "limit must be a whole number")
    cursor = request.args.get("cursor") or None
    try:
        with admission.gate("pull").admit(), uow.batch():
            response = engine.pull(SqlStore(g.device_id), user, cursor, _cursor_secret(), limit)
            _note_sync(user)
    except admission.Busy as busy:
        return _busy(busy)
    except engine.BadCursor as exc:
        return problem(
            400,
            ErrorCode.BAD_CURSOR,
            f"{exc}. Pull again without a cursor for a full copy; unsent work on the device is "
            "not affected.",
        )
    return _answer(response)


# A failed push or pull is sent again by the phone on its own: the one place that says so.
bp.register_error_handler(
    Exception,
    failure_handler(
        "sync",
        "Something went wrong; nothing was saved. It will be sent again automatically.",
    ),
)
