"""The sync protocol's messages, limits and error codes: the contract between device and server.

Everything a device and the server say to each other about sync is one of these models. They
forbid unknown fields so that a device built for another protocol version fails loudly instead of
having half its message ignored. The JSON Schemas served in the OpenAPI document come from here
too, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

PROTOCOL_VERSION = 1

MAX_BATCH = 100
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_PULL_LIMIT = 200
MAX_PULL_LIMIT = 500
# Versions are 32-bit integers in the database (and exact in every JavaScript number): a larger
# base_version can only be a bad value, and must be refused alone rather than fail the batch.
MAX_VERSION = 2**31 - 1
# No record type nests deeper than a few levels; a payload nested deeper is refused alone, before
# any recursive code (fingerprint, JSON columns) could overflow the stack on it.
MAX_PAYLOAD_DEPTH = 16


class ErrorCode(StrEnum):
    PROTOCOL_VERSION = "protocol_version"
    BATCH_TOO_LARGE = "batch_too_large"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_PAYLOAD = "invalid_payload"
    UNKNOWN_RECORD_TYPE = "unknown_record_type"
    # Missing and not visible share one code so that ids cannot be probed.
    NOT_FOUND = "not_found"
    FORBIDDEN_OPERATION = "forbidden_operation"
    MUTATION_ID_REUSED = "mutation_id_reused"
    CONFLICT = "conflict"
    BAD_CURSOR = "bad_cursor"
    # The device was revoked and this change was made after that (or cannot show it was not).
    DEVICE_REVOKED = "device_revoked"
    SERVER_ERROR = "server_error"
    # A whole request the server had no time for: nothing applied; resend after Retry-After.
    SERVER_BUSY = "server_busy"


# The HTTP status that goes with each code, whether it answers one mutation or a whole request.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.PROTOCOL_VERSION: 400,
    ErrorCode.BATCH_TOO_LARGE: 413,
    ErrorCode.PAYLOAD_TOO_LARGE: 422,
    ErrorCode.INVALID_PAYLOAD: 422,
    ErrorCode.UNKNOWN_RECORD_TYPE: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN_OPERATION: 403,
    ErrorCode.MUTATION_ID_REUSED: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.BAD_CURSOR: 400,
    ErrorCode.DEVICE_REVOKED: 410,
    ErrorCode.SERVER_ERROR: 500,
    ErrorCode.SERVER_BUSY: 503,
}

RecordType = Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]
Status = Literal["applied", "replayed", "conflict", "rejected"]
ClientAction = Literal["delete_local", "keep_and_show", "retry"]


def canonical_json(value: Any) -> str:
    """The one serialisation used for fingerprints and size limits.

    Sorted keys and no whitespace make equal content give equal bytes whatever order the device
    wrote its keys in; NaN and Infinity are refused because JSON has no such numbers and two
    parsers would disagree about them.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def check_plain_json(value: Any, max_depth: int = MAX_PAYLOAD_DEPTH) -> None:
    """Raise ValueError unless `value` is JSON that every database and parser agrees on.

    Walked without recursion, so a hostile nesting depth cannot overflow the stack here. Refuses
    NUL characters (PostgreSQL text cannot hold them) and unpaired surrogates (not Unicode:
    nothing can encode them as UTF-8), in keys as in values, and non-finite numbers.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise ValueError(f"nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, sub in item.items():
                    if not isinstance(key, str):
                        raise ValueError("object keys must be text")
                    _check_text(key)
                    stack.append((sub, depth + 1))
            else:
                stack.extend((sub, depth + 1) for sub in item)
        elif isinstance(item, str):
            _check_text(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError("numbers must be finite")
        elif item is not None and not isinstance(item, bool | int):
            raise ValueError(f"{type(item).__name__} is not a JSON value")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it has an unpaired surrogate)") from None


def client_action_for(status: Status, http_status: int) -> ClientAction:
    """What the device must do with its local copy after this answer."""
    if status in ("applied", "replayed"):
        return "delete_local"
    if status == "rejected" and http_status >= 500:
        return "retry"
    # A conflict or a permanent refusal: the work stays on the device, visible to the user, and
    # never blocks the mutations queued behind it.
    return "keep_and_show"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Mutation(_Model):
    """One change a device made offline, queued in its outbox until the server acknowledges it."""

    mutation_id: UUID = Field(
        description="Generated by the device once per change and kept across retries: the "
        "idempotency key."
    )
    record_type: RecordType
    record_id: UUID = Field(description="Generated by the device when it creates a record.")
    op: Literal["upsert", "delete"] = "upsert"
    base_version: int | None = Field(
        ge=1,
        le=MAX_VERSION,
        description="The server version the change was made on; null when the device believes "
        "it is creating the record.",
    )
    payload: dict[str, Any] = Field(default_factory=dict)
    client_time: AwareDatetime | None = Field(
        default=None,
        description="When the change was last made on the device. A revoked device's changes "
        "are accepted only with a time before the revocation.",
    )

    @field_validator("payload")
    @classmethod
    def _plain_json(cls, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            check_plain_json(payload)
        except ValueError as exc:
            raise ValueError(f"payload must be plain JSON: {exc}") from None
        return payload


class PushRequest(_Model):
    protocol: int
    device_id: UUID
    mutations: list[Mutation] = Field(min_length=1, max_length=MAX_BATCH)

    @field_validator("mutations")
    @classmethod
    def _distinct_ids(cls, mutations: list[Mutation]) -> list[Mutation]:
        # Within one batch a repeated id can only be a device bug; across batches it is a replay.
        seen: set[UUID] = set()
        for m in mutations:
            if m.mutation_id in seen:
                raise ValueError(f"mutation_id {m.mutation_id} appears twice in one batch")
            seen.add(m.mutation_id)
        return mutations


class PushEnvelope(_Model):
    """A push as first read: the batch's own fields valid, each mutation still raw, so that one
    bad mutation is refused alone instead of taking the whole batch (and the device's queue
    behind it) down with it."""

    protocol: int
    device_id: UUID
    mutations: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class _MutationIdentity(BaseModel):
    # What a device needs to match an answer to its mutation; the rest may be invalid.
    mutation_id: UUID
    record_type: RecordType
    record_id: UUID


@dataclass(frozen=True)
class Refused:
    """A mutation refused before the engine looked at it: answered alone, never applied."""

    mutation_id: UUID
    record_type: str
    record_id: UUID
    code: ErrorCode
    message: str
    field: str | None


@dataclass(frozen=True)
class PushBatch:
    protocol: int
    device_id: UUID
    items: list[Mutation | Refused]


class BatchInvalid(ValueError):
    """The batch as a whole cannot be answered mutation by mutation (422, nothing applied)."""

    def __init__(self, message: str, details: list[dict[str, Any]]):
        super().__init__(message)
        self.message = message
        self.details = details


def _describe(loc: tuple) -> str:
    # Locations are field names and indexes, never the device's values; keys inside a payload
    # are not named (they are the device's text, and could be anything).
    names = [str(part) for part in loc if isinstance(part, int) or part in Mutation.model_fields]
    return ".".join(names) or "mutation"


def read_push(data: Any) -> PushBatch:
    """Read a push body. Raises pydantic's ValidationError when the envelope is invalid, and
    BatchInvalid when a mutation cannot even be identified or an id repeats; otherwise every
    invalid mutation becomes a `Refused` item in its place."""
    envelope = PushEnvelope.model_validate(data)
    items: list[Mutation | Refused] = []
    seen: set[UUID] = set()
    for index, raw in enumerate(envelope.mutations):
        try:
            item: Mutation | Refused = Mutation.model_validate(raw)
            ident = item
        except ValidationError as exc:
            try:
                ident = _MutationIdentity.model_validate(
                    {k: raw.get(k) for k in ("mutation_id", "record_type", "record_id")}
                )
            except ValidationError as unidentifiable:
                raise BatchInvalid(
                    f"Mutation {index} has no valid mutation_id, record_type and record_id",
                    [
                        {"loc": ["mutations", index, *e["loc"]], "message": e["msg"]}
                        for e in unidentifiable.errors(include_input=False, include_url=False)
                    ],
                ) from None
            first = exc.errors(include_input=False, include_url=False)[0]
            where = _describe(first["loc"])
            item = Refused(
                mutation_id=ident.mutation_id,
                record_type=ident.record_type,
                record_id=ident.record_id,
                code=ErrorCode.INVALID_PAYLOAD,
                message=f"{where}: {first['msg']}",
                field=where,
            )
        if ident.mutation_id in seen:
            # Within one batch a repeated id can only be a device bug; across batches it is a
            # replay.
            raise BatchInvalid(
                f"mutation_id {ident.mutation_id} appears twice in one batch",
                [{"loc": ["mutations", index, "mutation_id"], "message": "repeated"}],
            )
        seen.add(ident.mutation_id)
        items.append(item)
    return PushBatch(envelope.protocol, envelope.device_id, items)


class ErrorDetail(_Model):
    code: ErrorCode
    message: str
    field: str | None = None


class MutationResult(_Model):
    """The server's answer to one mutation. Stored, so that a replay gets the same answer."""

    mutation_id: UUID
    record_type: RecordType
    record_id: UUID
    status: Status
    http_status: int = Field(ge=200, le=599)
    version: int | None = Field(
        default=None,
        description="The server version after applying, or the current server version on conflict.",
    )
    error: ErrorDetail | None = None
    conflict_id: UUID | None = None
    server_payload: dict[str, Any] | None = Field(
        default=None,
        description="On conflict: the server's current copy, so the device can show both.",
    )
    client_action: ClientAction

    @model_validator(mode="after")
    def _consistent(self) -> MutationResult:
        # A device acts on client_action alone; a contradictory result could make it delete
        # unsent work, so such a result cannot even be built.
        expected = client_action_for(self.status, self.http_status)
        if self.client_action != expected:
            raise ValueError(
                f"client_action {self.client_action!r} does not match status {self.status!r} "
                f"with HTTP {self.http_status}; expected {expected!r}"
            )
        if self.status in ("applied", "replayed") and (self.http_status != 200 or self.error):
            raise ValueError(f"{self.status} results are HTTP 200 without an error")
        if self.status == "conflict" and (self.http_status != 409 or self.conflict_id is None):
            raise ValueError("conflict results are HTTP 409 with a conflict_id")
        if self.status == "rejected" and (self.error is None or self.http_status < 400):
            raise ValueError("rejected results carry an error and a 4xx or 5xx status")
        return self


class PushResponse(_Model):
    protocol: int
    results: list[MutationResult] = Field(description="One per mutation, in the request's order.")
    cursor: str | None = Field(
        default=None,
        description="Reserved. Protocol 1 servers send null: a cursor at the end of the change "
        "log would skip other people's changes that the device has not pulled yet.",
    )


class Change(_Model):
    """The current state of one record the puller may see, or a tombstone."""

    record_type: RecordType
    record_id: UUID
    version: int
    deleted: bool
    payload: dict[str, Any] | None = Field(description="Null when deleted: a tombstone.")
    changed_at: AwareDatetime

    @model_validator(mode="after")
    def _tombstone(self) -> Change:
        if self.deleted != (self.payload is None):
            raise ValueError("a change has a payload exactly when it is not deleted")
        return self


class PullResponse(_Model):
    protocol: int
    changes: list[Change]
    cursor: str = Field(description="Opaque; send it back as the next pull's cursor.")
    has_more: bool = Field(description="Pull again at once with the new cursor.")
    reset: bool = Field(
        description="Drop every server-derived record before applying these changes (a full "
        "pull). Never drop the outbox of unsent mutations."
    )


class ProblemResponse(_Model):
    """The answer when a whole request is refused (nothing in it was applied)."""

    error: ErrorCode
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


# Requests are described as the server validates them, responses as the server writes them.
_REQUEST_MODELS: tuple[type[BaseModel], ...] = (PushRequest, Mutation)
_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    PushResponse,
    MutationResult,
    ErrorDetail,
    PullResponse,
    Change,
    ProblemResponse,
)


def openapi_components() -> dict[str, Any]:
    """JSON Schemas of the protocol's models, keyed by model name, for `components.schemas`."""
    schemas: dict[str, Any] = {}
    for models, mode in ((_REQUEST_MODELS, "validation"), (_RESPONSE_MODELS, "serialization")):
        for model in models:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
            for name, sub in schema.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas[model.__name__] = schema
    return schemas


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("ProblemResponse")}


def openapi_document(server_url: str = "/api/v1") -> dict[str, Any]:
    """An OpenAPI 3.1 description of the sync endpoints."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Homeward sync API",
            "version": str(PROTOCOL_VERSION),
            "description": "Offline-first sync: devices push queued mutations and pull changes "
            "since an opaque cursor. See the `sync` package docstring for the rules.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/sync/push": {
                "post": {
                    "operationId": "syncPush",
                    "summary": "Apply a batch of mutations; each gets its own result",
                    "requestBody": {"required": True, "content": _json("PushRequest")},
                    "responses": {
                        "200": {
                            "description": "Every mutation answered (some may be conflicts or "
                            "rejections; see each result's client_action)",
                            "content": _json("PushResponse"),
                        },
                        "400": _problem("Not JSON, or an unsupported protocol version"),
                        "413": _problem(
                            f"More than {MAX_BATCH} mutations or a body over {MAX_BODY_BYTES} bytes"
                        ),
                        "422": _problem("The batch does not match the schema; nothing applied"),
                        "500": _problem("Nothing was applied; send the same batch again"),
                    },
                }
            },
            "/sync/pull": {
                "get": {
                    "operationId": "syncPull",
                    "summary": "Changes the caller may see since a cursor",
                    "parameters": [
                        {
                            "name": "cursor",
                            "in": "query",
                            "required": False,
                            "description": "From the previous pull; omit for a full pull.",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_PULL_LIMIT,
                                "default": DEFAULT_PULL_LIMIT,
                            },
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of changes",
                            "content": _json("PullResponse"),
                        },
                        "400": _problem(
                            "bad_cursor: pull again without a cursor (a full pull); unsent "
                            "mutations on the device are not affected"
                        ),
                    },
                }
            },
        },
        "components": {"schemas": openapi_components()},
    }
