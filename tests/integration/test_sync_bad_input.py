"""Bad values in a sync batch are refused one mutation at a time, with a reason, and the rest of
the batch is applied: before, each of these answered 500 for the whole batch, the phone resent it
for ever and everything queued behind it was stuck."""

import json
import uuid

import pytest

from tests import factories
from tests.integration.helpers import fresh
from tests.integration.test_sync_api import Device, mutation
from webapp.extensions import db
from webapp.fieldsync.models import SyncMutation

# NUL bytes and odd JSON reach the database (PostgreSQL refuses NUL in text).
pytestmark = pytest.mark.both_databases


@pytest.fixture
def phone(as_user, me):
    return Device(as_user(me))


def _allocated(worker):
    interview = factories.interview(worker_=worker)
    db.session.commit()
    return interview


def _nested(depth):
    return "[" * depth + '"deep"' + "]" * depth


# Raw JSON fragments for the bad mutation's payload or base version, as a hostile or broken
# device would send them (json.dumps cannot write a lone surrogate, so the text is spelled out).
BAD_MUTATIONS = {
    "lone surrogate in a value": ('"payload": {"answers": {"why_details": "\\ud800"}}', "payload"),
    "lone surrogate in a key": ('"payload": {"answers": {"\\udfff": "x"}}', "payload"),
    "NUL in a value": ('"payload": {"answers": {"why_details": "a\\u0000b"}}', "payload"),
    "NUL in a key": ('"payload": {"answers": {"why\\u0000": "x"}}', "payload"),
    "nesting 60 deep": (
        '"payload": {"answers": {"why_details": ' + _nested(60) + "}}",
        "payload",
    ),
    "a huge version number": ('"base_version": 10000000000000000000000', "base_version"),
    "a version past 32 bits": ('"base_version": 2147483648', "base_version"),
}


@pytest.mark.parametrize("case", sorted(BAD_MUTATIONS))
def test_a_bad_value_is_refused_alone_and_the_rest_of_the_batch_applies(phone, me, case):
    fragment, field = BAD_MUTATIONS[case]
    mine, also_mine = _allocated(me), _allocated(me)
    bad = mutation(mine.id, mine.version, {})
    fine = mutation(also_mine.id, also_mine.version, {"why_details": "went to a friend's"})
    bad_json = json.dumps(bad)
    key = fragment.split(":", 1)[0]  # "payload" or "base_version": replace that member
    start = bad_json.index(key)
    end = bad_json.index(', "', start) if key == '"base_version"' else len(bad_json) - 1
    bad_json = bad_json[:start] + fragment + bad_json[end:]
    envelope = {"protocol": 1, "device_id": phone.device_id, "mutations": ["BAD", fine]}
    body = json.dumps(envelope).replace('"BAD"', bad_json)
    r = phone.raw_push(body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    refused, applied = r.json["results"]
    assert refused["mutation_id"] == bad["mutation_id"]
    assert (refused["status"], refused["http_status"], refused["client_action"]) == (
        "rejected",
        422,
        "keep_and_show",
    )
    assert refused["error"]["code"] == "invalid_payload"
    assert refused["error"]["field"] == field
    assert applied["status"] == "applied"
    assert fresh(mine).version == mine.version
    # Sent again (the phone's retry), the same answers come back: nothing is stuck or doubled.
    again = phone.raw_push(body)
    assert again.status_code == 200
    assert [m["status"] for m in again.json["results"]] == ["rejected", "replayed"]


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_a_body_nested_past_what_json_parsing_allows_is_a_clear_400(phone, depth):
    """Deeper than Python's JSON parser goes, no mutation can be read out of the body: a clear
    400, which the field client answers by sending that batch's mutations one at a time."""
    body = '{"protocol": 1, "mutations": [' + _nested(depth) + "]}"
    r = phone.raw_push(body)
    assert r.status_code == 400
    assert r.json["error"] == "invalid_payload"


def test_a_mutation_that_cannot_be_identified_fails_the_batch_with_a_422_naming_it(phone, me):
    mine = _allocated(me)
    unnamed = mutation(mine.id, mine.version, {})
    unnamed["mutation_id"] = "not-a-uuid"
    r = phone.push([unnamed])
    assert r.status_code == 422
    assert r.json["details"][0]["loc"][:3] == ["mutations", 0, "mutation_id"]


def test_no_value_reaches_the_stored_answers(phone, me):
    """The refusal that is remembered for a replay (stored in clear) quotes nothing of the
    device's: neither a value nor the name of an answer the form does not have."""
    mine = _allocated(me)
    m = mutation(mine.id, mine.version, {"key canary 5512": "secret canary 7781"})
    (result,) = phone.push([m]).json["results"]
    assert result["status"] == "rejected"
    assert "secret canary" not in json.dumps(result)
    assert "key canary" not in json.dumps(result)
    stored = db.session.get(SyncMutation, result["mutation_id"])
    assert "canary" not in json.dumps(stored.result)
    assert uuid.UUID(result["mutation_id"])
