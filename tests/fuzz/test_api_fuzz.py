"""The JSON API under fuzzing: schemathesis drives every operation the OpenAPI document
describes (valid and invalid requests), hypothesis drives the API routes it does not describe.
No answer may be a 500, on SQLite or PostgreSQL, signed in as a field worker with a CSRF token,
as the field client calls it."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.fuzz.support import assert_sane, fuzz_settings, nasty_text

# Fuzzed values (NUL bytes, surrogates, huge numbers) reach each database's columns.
pytestmark = pytest.mark.both_databases

OPENAPI = "/api/v1/openapi.json"
SYNC_PUSH = "POST /sync/push"


def _schema(app):
    return schemathesis.openapi.from_wsgi(OPENAPI, app)


def _operations(app, wanted):
    ops = [result.ok() for result in _schema(app).get_all_operations()]
    chosen = [op for op in ops if wanted(op.label)]
    assert chosen, "the OpenAPI document no longer describes these operations"
    return chosen


def _fuzz_operation(app, worker, operation, examples: int) -> None:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @fuzz_settings(examples)
    def run(case):
        # A fresh app context per request, as a real server has (g must not leak between them).
        with app.app_context():
            response = case.call(session=worker.client, headers={"X-CSRFToken": worker.csrf})
        case.validate_response(response, checks=[not_a_server_error])

    run()


def test_fuzz_openapi_operations(app, as_user):
    """Every described operation except the sync push (its own target below)."""
    worker = as_user("worker@demo.test")
    for operation in _operations(app, lambda label: label != SYNC_PUSH):
        _fuzz_operation(app, worker, operation, examples=40)


DEEP = re.compile(r'"__deep_(\d+)__"')


def _with_deep_nesting(text: str) -> str:
    # Deeper than Python's own encoder can go, so the nesting is written into the JSON text.
    return DEEP.sub(lambda m: '{"a":[' * int(m[1]) + '"deep"' + "]}" * int(m[1]), text)


def _sync_batches(device_id: str, interview_ids: list[str]):
    """Batches shaped like the field client's, with a bad value somewhere: what the schema-led
    cases rarely reach (the right protocol, this device, a real interview)."""
    from webapp.interviews.questions import QUESTIONS

    value = st.one_of(
        st.sampled_from(["Y", "N", "accepted", "declined", "Some words", "2026-01-02T10:00"]),
        st.lists(st.sampled_from(["bored", "planned", "none"]), max_size=3),
        nasty_text,
        json_values,
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([1e308, -0.0, 2**63, 10**400]),
        st.sampled_from([100, 990, 1100, 5000, 100_000]).map("__deep_{}__".format),
    )
    mutation = st.fixed_dictionaries(
        {
            "mutation_id": st.uuids().map(str),
            "record_type": st.sampled_from(["interview", "child", "x"]),
            "record_id": st.sampled_from(interview_ids) | st.uuids().map(str),
            "base_version": st.none()
            | st.integers(min_value=1, max_value=4)
            | st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**63, 10**30, "1", 1.5]),
            "op": st.sampled_from(["upsert", "delete"]),
            "client_time": st.none() | nasty_text | st.just("2026-01-01T00:00:00Z"),
            "payload": st.fixed_dictionaries(
                {
                    "answers": st.dictionaries(
                        st.sampled_from(sorted(QUESTIONS)) | nasty_text, value, max_size=6
                    ),
                    "submit": st.booleans() | value,
                }
            )
            | st.dictionaries(nasty_text, value, max_size=3),
        }
    )
    return st.fixed_dictionaries(
        {
            "protocol": st.just(1),
            "device_id": st.just(device_id),
            "mutations": st.lists(mutation, min_size=1, max_size=6),
        }
    )


def test_fuzz_sync_push(app, as_user, ids):
    """Batches of mutations as the schema allows them and as it does not, and batches like the
    phone's with one bad value in them: never a 500 that the phone would resend for ever, and
    no single mutation answered as a server fault."""
    from sqlalchemy import select

    from webapp.audit import DEVICE_COOKIE
    from webapp.extensions import db
    from webapp.interviews.models import Interview

    worker = as_user("worker@demo.test")
    [push] = _operations(app, lambda label: label == SYNC_PUSH)
    device_id = worker.client.get_cookie(DEVICE_COOKIE).value
    interview_ids = list(db.session.scalars(select(Interview.id)))
    schema_cases = st.one_of(
        push.as_strategy(generation_mode=GenerationMode.POSITIVE),
        push.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @given(data=st.data())
    @fuzz_settings(60)
    def run(data):
        headers = {"X-CSRFToken": worker.csrf}
        with app.app_context():
            if data.draw(st.booleans(), label="from the schema"):
                case = data.draw(schema_cases, label="case")
                response = case.call(session=worker.client, headers=headers)
                case.validate_response(response, checks=[not_a_server_error])
                return
            body = data.draw(_sync_batches(device_id, interview_ids), label="batch")
            response = worker.client.post(
                "/api/v1/sync/push",
                data=_with_deep_nesting(json.dumps(body)),
                content_type="application/json",
                headers=headers,
            )
        assert_sane(response, "POST /api/v1/sync/push")
        if response.status_code == 200:
            for result in response.json["results"]:
                assert result["http_status"] < 500, result

    run()


def _undocumented_routes(app):
    documented = {"/api/v1/sync/pull", "/api/v1/sync/push", OPENAPI}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule not in documented:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | nasty_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            nasty_text | st.sampled_from(["endpoint", "keys", "p256dh", "auth"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def test_fuzz_api_routes_the_document_does_not_describe(app, as_user, ids):
    """Session, episode, device and push routes: any path value and any JSON body."""
    worker = as_user("worker@demo.test")
    routes = list(_undocumented_routes(app))
    assert routes
    known_ids = [str(v) for v in ids.values()]

    @given(
        route=st.sampled_from(routes),
        arg=st.sampled_from(known_ids) | nasty_text.filter(lambda s: "/" not in s),
        body=st.none() | json_values,
        raw=st.none() | st.binary(max_size=64),
    )
    @fuzz_settings(80)
    def run(route, arg, body, raw):
        method, rule = route
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", quote(arg.encode("utf-8", "surrogatepass"), safe=""))
        kwargs = {"data": raw, "content_type": "application/json"} if raw is not None else {}
        if raw is None and body is not None:
            kwargs = {"json": body}
        with app.app_context():
            response = worker.client.open(
                path, method=method, headers={"X-CSRFToken": worker.csrf}, **kwargs
            )
        assert_sane(response, f"{method} {path}")

    run()
