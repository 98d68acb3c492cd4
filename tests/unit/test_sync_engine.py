"""The sync engine against the in-memory store: idempotency, conflicts, scoping and cursors."""

import base64
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.engine import (
    BadCursor,
    RunOneByOne,
    UnsupportedProtocol,
    apply_batch,
    decode_cursor,
    decode_position,
    encode_cursor,
    fingerprint,
    pull,
)
from sync.memory import MemoryHandler, MemoryStore
from sync.protocol import MAX_PAYLOAD_BYTES, ErrorCode, Mutation, PushRequest
from sync.store import PayloadError

SECRET = b"cursor-secret-for-tests"
DEVICE = uuid.UUID("00000000-0000-4000-8000-00000000d001")


def owned(actor, state):
    return state.payload.get("owner") == actor


def unlocked(actor, state):
    return not state.payload.get("locked")


def make_store(*extra_handlers):
    notes = MemoryHandler(
        "note", visible_to=owned, writable_by=unlocked, required_fields=("owner",)
    )
    return MemoryStore(notes, *extra_handlers)


@pytest.fixture
def store():
    return make_store()


def notes(store):
    return store.handler("note")


def mut(record_id, base=None, op="upsert", record_type="note", mid=None, **payload):
    return Mutation(
        mutation_id=mid or uuid.uuid4(),
        record_type=record_type,
        record_id=record_id,
        op=op,
        base_version=base,
        payload=payload,
    )


def push(store, actor, *mutations):
    # As the webapp does: one transaction per batch.
    with store.transaction():
        request = PushRequest(protocol=1, device_id=DEVICE, mutations=list(mutations))
        return apply_batch(store, actor, request)


def create(store, actor="a", **payload):
    rid = uuid.uuid4()
    (r,) = push(store, actor, mut(rid, None, owner=actor, **payload))
    assert r.status == "applied", r
    return rid


def drain(store, actor, cursor=None, limit=200):
    """Pull every page; returns (changes, final cursor, pages)."""
    changes, pages = [], []
    while True:
        page = pull(store, actor, cursor, SECRET, limit)
        pages.append(page)
        changes += page.changes
        cursor = page.cursor
        if not page.has_more:
            return changes, cursor, pages


# --- push -----------------------------------------------------------------------------------


def test_create_then_update_with_the_right_base_version(store):
    rid = uuid.uuid4()
    (created,) = push(store, "a", mut(rid, None, owner="a", text="first"))
    assert (created.status, created.http_status, created.version) == ("applied", 200, 1)
    assert created.client_action == "delete_local" and created.error is None
    (updated,) = push(store, "a", mut(rid, 1, owner="a", text="second"))
    assert (updated.status, updated.version) == ("applied", 2)
    state = notes(store).state(rid)
    assert state.version == 2 and state.payload == {"owner": "a", "text": "second"}
    assert [(e.version, e.deleted) for e in store.log] == [(1, False), (2, False)]


def test_stale_base_version_is_a_conflict_that_keeps_both_copies(store):
    rid = create(store, text="v1")
    push(store, "a", mut(rid, 1, owner="a", text="from phone"))
    log_before = list(store.log)
    (r,) = push(store, "a", mut(rid, 1, owner="a", text="from tablet"))
    assert (r.status, r.http_status, r.client_action) == ("conflict", 409, "keep_and_show")
    assert r.version == 2 and r.server_payload == {"owner": "a", "text": "from phone"}
    assert r.error.code == ErrorCode.CONFLICT and "version 1" in r.error.message
    kept = notes(store).conflicts[r.conflict_id]
    assert kept.payload == {"owner": "a", "text": "from tablet"}
    assert (kept.base_version, kept.server_version, kept.actor) == (1, 2, "a")
    # The server's copy is untouched and nothing new is logged.
    assert notes(store).state(rid).payload["text"] == "from phone"
    assert store.log == log_before


def test_creating_an_id_that_exists_is_a_conflict(store):
    rid = create(store, text="mine")
    (r,) = push(store, "a", mut(rid, None, owner="a", text="again"))
    assert r.status == "conflict" and r.version == 1 and "already exists" in r.error.message


def test_a_second_mutation_in_a_batch_sees_the_first(store):
    rid = uuid.uuid4()
    results = push(
        store,
        "a",
        mut(rid, None, owner="a", n=1),
        mut(rid, 1, owner="a", n=2),
        mut(rid, 1, owner="a", n=3),  # made on version 1 too: now stale
    )
    assert [(r.status, r.version) for r in results] == [
        ("applied", 1),
        ("applied", 2),
        ("conflict", 2),
    ]


def test_replaying_a_whole_batch_answers_identically_and_applies_nothing(store):
    existing = create(store, text="v1")
    locked = create(store, locked=True)
    batch = [
        mut(uuid.uuid4(), None, owner="a", text="new"),
        mut(existing, 1, owner="a", text="v2"),
        mut(existing, 1, owner="a", text="stale"),
        mut(locked, 1, owner="a", locked=False),
        mut(uuid.uuid4(), 3, owner="a"),
        mut(uuid.uuid4(), None, text="no owner"),
        mut(uuid.uuid4(), None, record_type="spaceship"),
    ]
    first = push(store, "a", *batch)
    assert [r.status for r in first] == [
        "applied",
        "applied",
        "conflict",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    snapshot = (dict(notes(store).records), dict(notes(store).conflicts), list(store.log))

    again = push(store, "a", *batch)

    assert [r.status for r in again[:2]] == ["replayed", "replayed"]
    for before, after in zip(first, again, strict=True):
        expected = before.model_copy(
            update={"status": "replayed"} if before.status == "applied" else {}
        )
        assert after == expected
    # No second write, log entry or conflict copy.
    assert (dict(notes(store).records), dict(notes(store).conflicts), list(store.log)) == snapshot
    assert len(store.mutations) == len(batch) + 2


def test_a_replay_survives_storage_as_json(store):
    rid = uuid.uuid4()
    m = mut(rid, None, owner="a")
    push(store, "a", m)
    (r,) = push(store, "a", m.model_copy(update={"client_time": None}))
    assert r.status == "replayed" and r.version == 1


def test_same_id_different_content_is_refused_and_not_remembered(store):
    rid = uuid.uuid4()
    original = mut(rid, None, owner="a", text="original")
    push(store, "a", original)
    reused = original.model_copy(update={"payload": {"owner": "a", "text": "other"}})
    (r,) = push(store, "a", reused)
    assert (r.status, r.http_status, r.client_action) == ("rejected", 409, "keep_and_show")
    assert r.error.code == ErrorCode.MUTATION_ID_REUSED and r.error.field == "mutation_id"
    assert notes(store).state(rid).payload["text"] == "original"
    # The id still means the original change.
    (again,) = push(store, "a", original)
    assert again.status == "replayed"


def test_another_users_mutation_id_reveals_nothing(store):
    m = mut(uuid.uuid4(), None, owner="a", secret="about a child")
    push(store, "a", m)
    (r,) = push(store, "b", m.model_copy(update={"payload": {"owner": "b"}}))
    assert r.error.code == ErrorCode.MUTATION_ID_REUSED
    (same,) = push(store, "b", m)  # even the identical content
    assert same.error.code == ErrorCode.MUTATION_ID_REUSED
    assert same.version is None and same.server_payload is None


def test_fingerprint_ignores_time_id_and_key_order():
    rid = uuid.uuid4()
    a = mut(rid, 2, owner="a", text="x")
    b = Mutation.model_validate(
        {
            "mutation_id": str(uuid.uuid4()),
            "record_type": "note",
            "record_id": str(rid),
            "base_version": 2,
            "payload": {"text": "x", "owner": "a"},
            "client_time": "2025-06-01T12:00:00+01:00",
        }
    )
    assert fingerprint(a) == fingerprint(b)
    assert len(fingerprint(a)) == 64
    for changed in (
        {"base_version": 3},
        {"op": "delete"},
        {"record_id": uuid.uuid4()},
        {"payload": {"owner": "a", "text": "y"}},
        {"record_type": "other"},
    ):
        assert fingerprint(a.model_copy(update=changed)) != fingerprint(a), changed


def test_a_record_the_actor_cannot_see_looks_exactly_like_a_missing_one(store):
    theirs = create(store, actor="b", text="b's")
    hidden, missing = push(store, "a", mut(theirs, 1, owner="a"), mut(uuid.uuid4(), 1, owner="a"))
    for r in (hidden, missing):
        assert (r.status, r.http_status, r.client_action) == ("rejected", 404, "keep_and_show")
        assert r.version is None and r.server_payload is None
    assert hidden.error == missing.error and hidden.error.code == ErrorCode.NOT_FOUND
    (deleting,) = push(store, "a", mut(theirs, 1, op="delete"))
    assert deleting.error == missing.error


def test_creating_over_someone_elses_id_is_not_found_and_changes_nothing(store):
    theirs = create(store, actor="b", text="b's")
    (r,) = push(store, "a", mut(theirs, None, owner="a", text="hijack"))
    assert r.http_status == 404 and r.error.code == ErrorCode.NOT_FOUND
    assert notes(store).state(theirs).payload == {"owner": "b", "text": "b's"}


def test_a_create_the_actor_may_not_make_is_not_found(store):
    (r,) = push(store, "a", mut(uuid.uuid4(), None, owner="b"))
    assert r.http_status == 404 and r.error.code == ErrorCode.NOT_FOUND
    assert notes(store).records == {}


def test_writing_a_record_one_may_only_read_is_forbidden(store):
    rid = create(store, locked=True)
    update, delete = push(
        store, "a", mut(rid, 1, owner="a", locked=False), mut(rid, 1, op="delete")
    )
    for r in (update, delete):
        assert (r.status, r.http_status, r.client_action) == ("rejected", 403, "keep_and_show")
        assert r.error.code == ErrorCode.FORBIDDEN_OPERATION
    assert notes(store).state(rid).payload["locked"] is True and len(store.log) == 1


def test_an_invalid_payload_names_the_field(store):
    (r,) = push(store, "a", mut(uuid.uuid4(), None, text="no owner"))
    assert (r.status, r.http_status, r.client_action) == ("rejected", 422, "keep_and_show")
    assert r.error.code == ErrorCode.INVALID_PAYLOAD and r.error.field == "owner"
    assert notes(store).records == {}


def test_an_unknown_record_type(store):
    (r,) = push(store, "a", mut(uuid.uuid4(), None, record_type="spaceship", owner="a"))
    assert (r.http_status, r.error.code, r.error.field) == (
        422,
        ErrorCode.UNKNOWN_RECORD_TYPE,
        "record_type",
    )


def test_payload_size_is_measured_in_bytes_of_canonical_json():
    store = make_store(MemoryHandler("blob"))
    overhead = len('{"b":""}')
    at_limit = mut(uuid.uuid4(), None, record_type="blob", b="x" * (MAX_PAYLOAD_BYTES - overhead))
    # "é" is two bytes in UTF-8: half as many characters reach the limit.
    over = mut(uuid.uuid4(), None, record_type="blob", b="é" * ((MAX_PAYLOAD_BYTES // 2) - 3))
    ok, too_big = push(store, "a", at_limit, over)
    assert ok.status == "applied"
    assert (too_big.http_status, too_big.error.code, too_big.error.field) == (
        422,
        ErrorCode.PAYLOAD_TOO_LARGE,
        "payload",
    )
    assert f"{MAX_PAYLOAD_BYTES:,}" in too_big.error.message


class Submitting(MemoryHandler):
    """A rule only checkable while writing: the record is written, then refused."""

    def write(self, actor, record_id, payload, new_version, *, create):
        super().write(actor, record_id, payload, new_version, create=create)
        if payload.get("submit"):
            raise PayloadError("held_at", "When was the interview held?")


def test_a_write_that_fails_its_rules_midway_is_undone_alone():
    store = make_store(Submitting("form"))
    form = store.handler("form")
    fine, bad = uuid.uuid4(), uuid.uuid4()
    r_bad, r_fine = push(
        store,
        "a",
        mut(bad, None, record_type="form", submit=True),
        mut(fine, None, "upsert", "form"),
    )
    assert (r_bad.http_status, r_bad.error.field) == (422, "held_at")
    assert r_fine.status == "applied"
    assert bad not in form.records and fine in form.records
    assert [e.record_id for e in store.log] == [fine]


def test_tried_with_no_savepoint_a_mutation_to_undo_asks_for_a_fresh_transaction():
    """roll_back_instead: the caller will roll its transaction back, so the first try takes no
    savepoint; a mutation that must be undone raises RunOneByOne (the caller's rollback undoes
    the first try), and the second call, one_by_one, answers as a savepoint per mutation does."""

    store = make_store(Submitting("form"))
    ok = [mut(uuid.uuid4(), None, "upsert", "form")]
    request = PushRequest(protocol=1, device_id=DEVICE, mutations=ok)
    with store.transaction():
        [done] = apply_batch(store, "a", request, roll_back_instead=True)
    assert done.status == "applied" and len(store.log) == 1

    bad = mut(uuid.uuid4(), None, record_type="form", submit=True)
    request = PushRequest(protocol=1, device_id=DEVICE, mutations=[bad])
    with pytest.raises(RunOneByOne), store.transaction():
        apply_batch(store, "a", request, roll_back_instead=True)
    assert bad.record_id not in store.handler("form").records and len(store.log) == 1
    with store.transaction():
        [refused] = apply_batch(store, "a", request, one_by_one=True)
    assert (refused.http_status, refused.error.field) == (422, "held_at")
    assert bad.record_id not in store.handler("form").records and len(store.log) == 1


def test_a_handler_may_assign_versions_itself():
    class Bumping(MemoryHandler):
        def write(self, actor, record_id, payload, new_version, *, create):
            super().write(actor, record_id, payload, new_version + 1, create=create)
            return new_version + 1

    store = make_store(Bumping("form"))
    rid = uuid.uuid4()
    (r,) = push(store, "a", mut(rid, None, record_type="form"))
    assert r.version == 2 and store.log[-1].version == 2
    (r,) = push(store, "a", mut(rid, 2, record_type="form"))
    assert r.version == 4


def test_a_version_that_does_not_rise_is_a_server_error():
    class Stuck(MemoryHandler):
        def write(self, actor, record_id, payload, new_version, *, create):
            super().write(actor, record_id, payload, 1, create=create)
            return 1

    store = make_store(Stuck("form"))
    rid = uuid.uuid4()
    push(store, "a", mut(rid, None, record_type="form"))
    with pytest.raises(RuntimeError, match="not above"):
        push(store, "a", mut(rid, 1, record_type="form"))


def test_another_protocol_version_is_refused(store):
    request = PushRequest(protocol=2, device_id=DEVICE, mutations=[mut(uuid.uuid4(), None)])
    with pytest.raises(UnsupportedProtocol, match="speaks 1"):
        apply_batch(store, "a", request)


def test_a_crash_mid_batch_applies_nothing_and_the_retry_applies_everything_once():
    class Flaky(MemoryHandler):
        calls = 0
        broken = True

        def write(self, *args, **kwargs):
            type(self).calls += 1
            if self.broken and type(self).calls == 3:
                raise RuntimeError("disk full")
            return super().write(*args, **kwargs)

    store = MemoryStore(Flaky("note", visible_to=owned))
    batch = [mut(uuid.uuid4(), None, owner="a", n=i) for i in range(4)]
    with pytest.raises(RuntimeError, match="disk full"):
        push(store, "a", *batch)
    assert notes(store).records == {} and store.log == [] and store.mutations == {}

    Flaky.broken = False
    results = push(store, "a", *batch)
    assert [(r.status, r.version) for r in results] == [("applied", 1)] * 4
    assert len(notes(store).records) == 4 and len(store.log) == 4
    assert [r.status for r in push(store, "a", *batch)] == ["replayed"] * 4
    assert len(store.log) == 4


def test_delete_leaves_a_tombstone_that_pulls_deliver(store):
    rid = create(store, text="x")
    changes, cursor, _ = drain(store, "a")
    assert [(c.record_id, c.deleted) for c in changes] == [(rid, False)]

    (r,) = push(store, "a", mut(rid, 1, op="delete"))
    assert (r.status, r.version, r.client_action) == ("applied", 2, "delete_local")
    (tomb,) = pull(store, "a", cursor, SECRET).changes
    assert (tomb.record_id, tomb.version, tomb.deleted, tomb.payload) == (rid, 2, True, None)
    # Deleting again is already true: acknowledged, nothing logged.
    (again,) = push(store, "a", mut(rid, 2, op="delete"))
    assert (again.status, again.version) == ("applied", 2) and len(store.log) == 2


def test_editing_a_deleted_record_is_a_conflict_not_a_resurrection(store):
    rid = create(store)
    push(store, "a", mut(rid, 1, op="delete"))
    (r,) = push(store, "a", mut(rid, 1, owner="a", text="late edit"))
    assert r.status == "conflict" and r.server_payload is None and r.version == 2
    assert "deleted" in r.error.message
    # Even made on the tombstone's own version: a person decides whether it comes back.
    (r,) = push(store, "a", mut(rid, 2, owner="a", text="revive"))
    assert r.status == "conflict"
    assert notes(store).state(rid).deleted and len(store.log) == 2


def test_a_stale_delete_is_a_conflict(store):
    rid = create(store)
    push(store, "a", mut(rid, 1, owner="a", text="edited"))
    (r,) = push(store, "a", mut(rid, 1, op="delete"))
    assert r.status == "conflict" and not notes(store).state(rid).deleted


def test_a_delete_carries_no_payload(store):
    rid = create(store)
    (r,) = push(store, "a", mut(rid, 1, op="delete", owner="a"))
    assert (r.http_status, r.error.code, r.error.field) == (
        422,
        ErrorCode.INVALID_PAYLOAD,
        "payload",
    )


# --- pull -----------------------------------------------------------------------------------


def test_pulls_are_scoped_to_what_the_actor_may_see(store):
    mine = {create(store, actor="a", n=i) for i in range(2)}
    theirs = create(store, actor="b")
    push(store, "b", mut(theirs, 1, op="delete"))
    changes, _, pages = drain(store, "a")
    assert pages[0].reset is True
    assert {c.record_id for c in changes} == mine  # not even b's tombstone
    assert {c.record_id for c in drain(store, "b")[0]} == {theirs}


def test_losing_sight_of_a_record_sends_a_tombstone(store):
    rid = create(store, actor="a")
    cursor_a = drain(store, "a")[1]
    cursor_b = drain(store, "b")[1]
    push(store, "a", mut(rid, 1, owner="b"))  # handed over
    (gone,) = pull(store, "a", cursor_a, SECRET).changes
    assert gone.deleted and gone.payload is None
    (arrived,) = pull(store, "b", cursor_b, SECRET).changes
    assert not arrived.deleted and arrived.payload == {"owner": "b"}


def test_cursors_move_forward_even_past_changes_one_cannot_see(store):
    create(store, actor="a")
    first = pull(store, "a", None, SECRET)
    for _ in range(3):
        create(store, actor="b")
    later = pull(store, "a", first.cursor, SECRET)
    assert later.changes == [] and later.reset is False and not later.has_more
    assert decode_cursor(later.cursor, SECRET) == 4 > decode_cursor(first.cursor, SECRET)
    # Nothing new: the same position comes back, never an earlier one.
    assert pull(store, "a", later.cursor, SECRET).cursor == later.cursor


def test_paging_with_has_more(store):
    ids = [create(store, n=i) for i in range(5)]
    changes, _, pages = drain(store, "a", limit=2)
    assert [(len(p.changes), p.has_more, p.reset) for p in pages] == [
        (2, True, True),
        (2, True, False),
        (1, False, False),
    ]
    assert [c.record_id for c in changes] == ids


def test_cursors_are_opaque_and_url_safe():
    cursor = encode_cursor(123456, SECRET)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "123456" not in cursor and encode_cursor(123456, b"other") != cursor
    assert decode_cursor(cursor, SECRET) == 123456


def test_a_full_copys_cursor_round_trips_its_position():
    rid = uuid.uuid4()
    cursor = encode_cursor(77, SECRET, (3, rid))
    assert len(cursor) <= 64
    assert decode_position(cursor, SECRET) == (77, (3, rid))
    assert decode_cursor(cursor, SECRET) == 77
    assert decode_position(encode_cursor(77, SECRET), SECRET) == (77, None)


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_cursors_round_trip(seq):
    assert decode_cursor(encode_cursor(seq, SECRET), SECRET) == seq


def test_every_single_character_change_is_detected():
    cursor = encode_cursor(42, SECRET)
    for i, ch in enumerate(cursor):
        for other in "AQgw_-":
            if other != ch:
                with pytest.raises(BadCursor):
                    decode_cursor(cursor[:i] + other + cursor[i + 1 :], SECRET)


def _raw_cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor, message",
    [
        ("", "wrong characters"),
        ("abc def", "wrong characters"),
        ("a" * 65, "wrong characters"),
        ("abcde", "base64url"),
        (_raw_cursor(b"not-a-cursor"), "not one this server issues"),
        (_raw_cursor(b"v3" + bytes(24)), "format v3"),
        (_raw_cursor(b"v2" + bytes(24)), "wrong length"),  # a full copy's cursor is longer
        (_raw_cursor(b"v2" + bytes(41)), "signature"),
        (_raw_cursor(b"v1" + bytes(8)), "wrong length"),
        (_raw_cursor(b"v1" + bytes(24)), "signature"),
    ],
)
def test_bad_cursors_say_what_is_wrong(cursor, message):
    with pytest.raises(BadCursor, match=message):
        decode_cursor(cursor, SECRET)


def test_a_cursor_from_another_key_or_ahead_of_the_log_is_refused(store):
    with pytest.raises(BadCursor, match="signature"):
        pull(store, "a", encode_cursor(0, b"previous-key"), SECRET)
    with pytest.raises(BadCursor, match="ahead of this server's change log"):
        pull(store, "a", encode_cursor(5, SECRET), SECRET)


@given(st.text(max_size=80))
def test_arbitrary_text_is_never_taken_for_a_cursor(text):
    with pytest.raises(BadCursor):
        decode_cursor(text, SECRET)


# --- properties -----------------------------------------------------------------------------

RECORDS = [uuid.UUID(int=i + 1) for i in range(3)]


@dataclass(frozen=True)
class Planned:
    mutation: Mutation
    variant: Mutation  # same id, different content


planned_mutation = st.builds(
    lambda mid, rid, op, base, n: Planned(
        mut(rid, base, op, mid=mid, **({} if op == "delete" else {"owner": "a", "n": n})),
        mut(rid, base, "upsert", mid=mid, owner="a", n=n + 100),
    ),
    st.uuids(version=4),
    st.sampled_from(RECORDS),
    st.sampled_from(["upsert", "upsert", "delete"]),
    st.sampled_from([None, 1, 2, 3]),
    st.integers(0, 3),
)


def oracle(distinct: list[Mutation]):
    """The rules, restated simply: what applying each distinct mutation once must give."""
    records: dict = {}
    outcomes = {}
    changes = 0
    for m in distinct:
        cur = records.get(m.record_id)
        if cur is None:
            ok = m.op == "upsert" and m.base_version is None
            outcomes[m.mutation_id] = "applied" if ok else "rejected"
            if ok:
                records[m.record_id] = (1, m.payload, False)
                changes += 1
        elif m.op == "delete" and cur[2]:
            outcomes[m.mutation_id] = "applied"
        elif cur[2] or cur[0] != m.base_version:
            outcomes[m.mutation_id] = "conflict"
        else:
            outcomes[m.mutation_id] = "applied"
            payload = cur[1] if m.op == "delete" else m.payload
            records[m.record_id] = (cur[0] + 1, payload, m.op == "delete")
            changes += 1
    return records, outcomes, changes


def server_records(store):
    return {
        rid: (row.version, row.payload, row.deleted) for rid, row in notes(store).records.items()
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pool=st.lists(planned_mutation, min_size=1, max_size=8),
    batches=st.lists(
        st.lists(st.tuples(st.integers(0, 7), st.booleans()), min_size=1, max_size=6),
        min_size=1,
        max_size=6,
    ),
)
def test_any_mix_of_replays_applies_each_distinct_mutation_at_most_once(pool, batches):
    store = make_store()
    first_sent: dict = {}  # mutation id -> the content sent first, which the id then means
    first_result: dict = {}
    for picks in batches:
        batch, seen = [], set()
        for index, use_variant in picks:
            planned = pool[index % len(pool)]
            m = planned.variant if use_variant else planned.mutation
            if m.mutation_id not in seen:  # a repeat within one batch is a schema error
                seen.add(m.mutation_id)
                batch.append(m)
        for m, r in zip(batch, push(store, "a", *batch), strict=True):
            original = first_sent.setdefault(m.mutation_id, m)
            if m.mutation_id not in first_result:
                first_result[m.mutation_id] = r
                assert r.status != "replayed"
            elif fingerprint(m) != fingerprint(original):
                assert r.error.code == ErrorCode.MUTATION_ID_REUSED
            else:
                before = first_result[m.mutation_id]
                status = "replayed" if before.status == "applied" else before.status
                assert r == before.model_copy(update={"status": status})

    distinct = list(first_sent.values())
    records, outcomes, changes = oracle(distinct)
    assert server_records(store) == records
    assert {mid: r.status for mid, r in first_result.items()} == outcomes
    # One log entry per real change: replays wrote nothing twice.
    assert len(store.log) == changes
    assert len(store.mutations) == len(distinct)

    # The same distinct mutations applied once each, on a fresh store, in one pass.
    fresh = make_store()
    for start in range(0, len(distinct), 100):
        push(fresh, "a", *distinct[start : start + 100])
    assert server_records(fresh) == server_records(store)
    assert len(fresh.log) == len(store.log)
    assert len(notes(fresh).conflicts) == len(notes(store).conflicts)


ACTORS = ("a", "b")

step = st.one_of(
    st.tuples(
        st.just("edit"),
        st.sampled_from(ACTORS),
        st.integers(0, 4),
        st.sampled_from(["put", "give", "delete", "stale"]),
    ),
    st.tuples(st.just("pull"), st.sampled_from(ACTORS), st.integers(1, 4), st.booleans()),
)


def act(store, actor, rid, kind, counter):
    state = notes(store).load(actor, rid)
    other = "b" if actor == "a" else "a"
    if state is None:
        if notes(store).state(rid) is None and kind == "put":
            push(store, actor, mut(rid, None, owner=actor, n=counter))
        return
    if state.deleted:
        return
    if kind == "put":
        push(store, actor, mut(rid, state.version, owner=actor, n=counter))
    elif kind == "give":
        push(store, actor, mut(rid, state.version, owner=other, n=counter))
    elif kind == "delete":
        push(store, actor, mut(rid, state.version, "delete"))
    else:
        push(store, actor, mut(rid, state.version - 1 or None, owner=actor, n=counter))


class Device:
    def __init__(self, actor):
        self.actor = actor
        self.cursor = None
        self.cache: dict = {}
        self.positions: list[int] = []

    def pull_once(self, store, limit):
        page = pull(store, self.actor, self.cursor, SECRET, limit)
        if page.reset:
            self.cache.clear()
        for c in page.changes:
            if c.deleted:
                self.cache.pop(c.record_id, None)
            else:
                self.cache[c.record_id] = (c.version, c.payload)
        self.cursor = page.cursor
        self.positions.append(decode_cursor(page.cursor, SECRET))
        return page

    def catch_up(self, store, limit):
        while self.pull_once(store, limit).has_more:
            pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, max_size=30), final_limit=st.integers(1, 5))
def test_pulls_rebuild_exactly_what_each_actor_may_see(steps, final_limit):
    store = make_store()
    rids = [uuid.uuid4() for _ in range(5)]
    devices = {actor: Device(actor) for actor in ACTORS}
    for counter, (kind, actor, arg, extra) in enumerate(steps):
        if kind == "edit":
            act(store, actor, rids[arg], extra, counter)
        else:
            device = devices[actor]
            if extra:
                device.catch_up(store, arg)
            else:
                device.pull_once(store, arg)
    for device in devices.values():
        device.catch_up(store, final_limit)
        expected = {
            rid: (s.version, s.payload) for rid, s in notes(store).visible(device.actor).items()
        }
        assert device.cache == expected
        assert device.positions == sorted(device.positions)
        assert device.positions[-1] == store.latest_seq()
