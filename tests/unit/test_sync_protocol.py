"""The sync protocol's schemas: what a device may send and what it is told."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sync.protocol import (
    HTTP_STATUS,
    MAX_BATCH,
    PROTOCOL_VERSION,
    Change,
    ErrorCode,
    ErrorDetail,
    Mutation,
    MutationResult,
    PullResponse,
    PushRequest,
    canonical_json,
    client_action_for,
    openapi_components,
    openapi_document,
)


def mutation(**overrides):
    body = {
        "mutation_id": str(uuid.uuid4()),
        "record_type": "interview",
        "record_id": str(uuid.uuid4()),
        "base_version": None,
        "payload": {"answers": {}},
    }
    return body | overrides


def push(mutations, **overrides):
    return {"protocol": 1, "device_id": str(uuid.uuid4()), "mutations": mutations} | overrides


def errors(data, model=PushRequest):
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    return exc.value.errors()


def test_protocol_constants():
    assert PROTOCOL_VERSION == 1
    assert MAX_BATCH == 100
    assert {c.value for c in ErrorCode} == {
        "protocol_version",
        "batch_too_large",
        "payload_too_large",
        "invalid_payload",
        "unknown_record_type",
        "not_found",
        "forbidden_operation",
        "mutation_id_reused",
        "conflict",
        "bad_cursor",
        "server_error",
        "device_revoked",
        "server_busy",
    }
    assert set(HTTP_STATUS) == set(ErrorCode)


def test_a_minimal_push_parses_with_defaults():
    req = PushRequest.model_validate(push([mutation()]))
    (m,) = req.mutations
    assert m.op == "upsert" and m.client_time is None and m.base_version is None


def test_batch_limits():
    (empty,) = errors(push([]))
    assert empty["loc"] == ("mutations",) and empty["type"] == "too_short"
    (many,) = errors(push([mutation() for _ in range(MAX_BATCH + 1)]))
    # The webapp turns exactly this error into 413 batch_too_large.
    assert many["loc"] == ("mutations",) and many["type"] == "too_long"
    assert len(PushRequest.model_validate(push([mutation() for _ in range(MAX_BATCH)])).mutations)


def test_a_mutation_id_twice_in_one_batch_is_invalid():
    first = mutation()
    (err,) = errors(push([first, mutation(mutation_id=first["mutation_id"])]))
    assert err["loc"] == ("mutations",) and first["mutation_id"] in err["msg"]


@pytest.mark.parametrize(
    "overrides, loc",
    [
        ({"record_type": "Interview"}, "record_type"),
        ({"record_type": "x" * 41}, "record_type"),
        ({"record_type": "../etc"}, "record_type"),
        ({"record_id": "not-a-uuid"}, "record_id"),
        ({"op": "patch"}, "op"),
        ({"base_version": 0}, "base_version"),
        ({"client_time": "2025-03-30T01:30:00"}, "client_time"),  # naive: whose clock?
        ({"surprise": True}, "surprise"),
        ({"payload": []}, "payload"),
    ],
)
def test_malformed_mutations_are_refused(overrides, loc):
    errs = errors(mutation(**overrides), Mutation)
    assert loc in {e["loc"][0] for e in errs}


def test_base_version_must_be_stated():
    body = mutation()
    del body["base_version"]
    (err,) = errors(body, Mutation)
    assert err["loc"] == ("base_version",) and err["type"] == "missing"


def test_nan_is_not_json():
    (err,) = errors(mutation(payload={"x": float("nan")}), Mutation)
    assert "plain JSON" in err["msg"]


def test_unknown_top_level_fields_are_refused():
    assert errors(push([mutation()], extra=1))[0]["loc"] == ("extra",)


def test_canonical_json_ignores_key_order_and_keeps_unicode():
    assert canonical_json({"b": 1, "a": "é"}) == canonical_json({"a": "é", "b": 1})
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def result(**overrides):
    body = {
        "mutation_id": uuid.uuid4(),
        "record_type": "interview",
        "record_id": uuid.uuid4(),
        "status": "applied",
        "http_status": 200,
        "version": 2,
        "client_action": "delete_local",
    }
    return body | overrides


def test_client_action_matrix():
    assert client_action_for("applied", 200) == "delete_local"
    assert client_action_for("replayed", 200) == "delete_local"
    assert client_action_for("conflict", 409) == "keep_and_show"
    for status in (403, 404, 409, 422):
        assert client_action_for("rejected", status) == "keep_and_show"
    assert client_action_for("rejected", 503) == "retry"


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_action": "keep_and_show"},  # would leave acknowledged work on the device
        {"status": "conflict", "http_status": 409, "client_action": "keep_and_show"},  # no id
        {"status": "rejected", "http_status": 422, "client_action": "delete_local"},
        {"status": "rejected", "http_status": 422, "client_action": "keep_and_show"},  # no error
        {"status": "applied", "http_status": 201},
    ],
)
def test_contradictory_results_cannot_be_built(overrides):
    with pytest.raises(ValidationError):
        MutationResult(**result(**overrides))


def test_a_rejection_result():
    r = MutationResult(
        **result(
            status="rejected",
            http_status=422,
            version=None,
            client_action="keep_and_show",
            error=ErrorDetail(code=ErrorCode.INVALID_PAYLOAD, message="x", field="offered"),
        )
    )
    assert r.model_dump(mode="json")["error"] == {
        "code": "invalid_payload",
        "message": "x",
        "field": "offered",
    }


def test_a_change_has_a_payload_exactly_when_it_is_not_deleted():
    base = {
        "record_type": "interview",
        "record_id": uuid.uuid4(),
        "version": 3,
        "changed_at": datetime.now(UTC),
    }
    Change(**base, deleted=True, payload=None)
    Change(**base, deleted=False, payload={"a": 1})
    with pytest.raises(ValidationError):
        Change(**base, deleted=True, payload={"a": 1})
    with pytest.raises(ValidationError):
        Change(**base, deleted=False, payload=None)
    with pytest.raises(ValidationError):
        Change(**(base | {"changed_at": datetime(2025, 1, 1)}), deleted=True, payload=None)


def test_pull_response_round_trips_through_json():
    resp = PullResponse(
        protocol=1,
        changes=[
            Change(
                record_type="interview",
                record_id=uuid.uuid4(),
                version=1,
                deleted=True,
                payload=None,
                changed_at=datetime.now(UTC),
            )
        ],
        cursor="abc",
        has_more=False,
        reset=True,
    )
    assert PullResponse.model_validate_json(resp.model_dump_json()) == resp


# Text every database stores: no NUL, no unpaired surrogates (both are refused, tested below).
plain_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | plain_text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain_text, inner, max_size=3),
    max_leaves=10,
)


@given(
    payload=st.dictionaries(plain_text, json_values, max_size=4),
    base=st.none() | st.integers(min_value=1, max_value=10**9),
    op=st.sampled_from(["upsert", "delete"]),
)
def test_mutations_round_trip_through_json(payload, base, op):
    m = Mutation(
        mutation_id=uuid.uuid4(),
        record_type="interview",
        record_id=uuid.uuid4(),
        op=op,
        base_version=base,
        payload=payload,
        client_time=datetime.now(UTC),
    )
    assert Mutation.model_validate_json(m.model_dump_json()) == m


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_components_are_self_contained():
    components = openapi_components()
    for name in (
        "PushRequest",
        "Mutation",
        "PushResponse",
        "MutationResult",
        "ErrorDetail",
        "ErrorCode",
        "PullResponse",
        "Change",
        "ProblemResponse",
    ):
        assert name in components, name
    assert "$defs" not in json.dumps(components)
    prefix = "#/components/schemas/"
    for ref in _refs(components):
        assert ref.startswith(prefix) and ref[len(prefix) :] in components, ref
    assert components["Mutation"]["additionalProperties"] is False


def test_openapi_document_describes_push_and_pull():
    doc = openapi_document(server_url="/api/v1")
    json.dumps(doc)  # serialisable as served
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": "/api/v1"}]
    push_op = doc["paths"]["/sync/push"]["post"]
    pull_op = doc["paths"]["/sync/pull"]["get"]
    assert push_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PushRequest"
    )
    assert {p["name"] for p in pull_op["parameters"]} == {"cursor", "limit"}
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc["paths"]):
        assert ref.rsplit("/", 1)[1] in schemas
