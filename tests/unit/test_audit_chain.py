"""The audit trail's hash chain on its own (webapp/audit_chain.py): the key, the encoding, and
the walk that finds the first entry that does not fit."""

from __future__ import annotations

import base64
import os
import pickle
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from webapp import audit_chain
from webapp.audit_chain import AuditKeyError, ChainKey

KEY = ChainKey(b"k" * 32, "test")
T0 = datetime(2026, 3, 29, 0, 30, 0, 123456, tzinfo=UTC)  # the night the clocks go forward


def entry(n: int, **kw) -> dict:
    values = {
        "id": n,
        "at": T0 + timedelta(seconds=n),
        "user_id": f"user-{n % 3}",
        "action": "view",
        "object_type": "child",
        "object_id": f"child-{n % 5}",
        "child_id": f"child-{n % 5}",
        "device_id": None,
        "user_agent": "Mozilla/5.0 (Linux; Android 14) Chrome/126",
        "ip": "192.0.2.7",
        "detail": None,
    }
    values.update(kw)
    return values


def chain(n: int, key: ChainKey = KEY) -> list[dict]:
    rows = [entry(i) for i in range(1, n + 1)]
    audit_chain.seal(key, rows, audit_chain.GENESIS)
    return rows


def test_fields_are_every_column_of_the_table_but_the_hash():
    from webapp.audit import AuditEvent

    columns = {c.name for c in AuditEvent.__table__.columns}
    assert set(audit_chain.FIELDS) == columns - {"entry_hash"}
    assert len(audit_chain.FIELDS) == len(set(audit_chain.FIELDS))


def test_an_intact_chain_holds_and_names_its_head():
    rows = chain(10)
    verdict = audit_chain.walk(KEY, rows)
    assert verdict.intact and verdict.count == 10
    assert (verdict.head_id, verdict.head_hash) == (10, rows[-1]["entry_hash"])


def test_an_empty_trail_is_intact():
    verdict = audit_chain.walk(KEY, [])
    assert verdict.intact and verdict.count == 0 and verdict.head_id is None


@pytest.mark.parametrize(
    "column,value",
    [
        ("at", T0 + timedelta(days=1)),
        ("at", T0 + timedelta(microseconds=1)),
        ("user_id", "user-other"),
        ("user_id", None),
        ("action", "update"),
        ("object_type", "episode"),
        ("object_id", "child-4"),
        ("child_id", None),
        ("device_id", "0f2c1a9e-0000-4000-8000-000000000000"),
        ("user_agent", ""),
        ("ip", "192.0.2.8"),
        ("detail", "name"),
        ("id", 40),
    ],
)
def test_any_column_changed_breaks_the_chain_at_that_entry(column, value):
    rows = chain(8)
    rows[4][column] = value
    verdict = audit_chain.walk(KEY, sorted(rows, key=lambda r: r["id"]))
    # An entry renumbered past its successors is found where the walk meets it: entry 6 no
    # longer follows entry 4.
    assert verdict.broken_id == (6 if column == "id" else 5)
    assert verdict.count == 4 and verdict.head_id == 4


def test_an_entry_removed_from_the_middle_breaks_the_chain_at_its_successor():
    rows = chain(8)
    del rows[3]  # entry 4
    verdict = audit_chain.walk(KEY, rows)
    assert verdict.broken_id == 5
    assert "removed" in verdict.reason


def test_two_hashes_swapped_break_the_chain_at_the_first():
    rows = chain(8)
    rows[2]["entry_hash"], rows[3]["entry_hash"] = rows[3]["entry_hash"], rows[2]["entry_hash"]
    assert audit_chain.walk(KEY, rows).broken_id == 3


def test_a_forged_entry_without_the_key_is_found():
    rows = chain(6)
    thief = ChainKey(os.urandom(32), "thief")
    forged = entry(7, action="update", detail="name")
    audit_chain.seal(thief, [forged], rows[-1]["entry_hash"])
    assert audit_chain.walk(KEY, [*rows, forged]).broken_id == 7
    # Re-chaining the whole trail under another key fails at the first entry.
    assert audit_chain.walk(KEY, chain(6, thief)).broken_id == 1


def test_an_entry_without_a_proper_hash_is_found():
    rows = chain(3)
    rows[1]["entry_hash"] = None
    verdict = audit_chain.walk(KEY, rows)
    # The caller walks up to the chained head: an unhashed entry there sits in the past.
    assert (verdict.broken_id, verdict.reason) == (
        2,
        "has no hash, yet entries after it are chained",
    )
    rows = chain(3)
    rows[2]["entry_hash"] = rows[2]["entry_hash"].upper()
    assert audit_chain.walk(KEY, rows).broken_id == 3


def test_cutting_off_the_newest_entries_leaves_a_valid_chain():
    """What the chain alone cannot see: why verify prints the head to be kept elsewhere."""
    rows = chain(8)
    verdict = audit_chain.walk(KEY, rows[:5])
    assert verdict.intact and verdict.head_id == 5


def test_naive_and_aware_times_encode_alike_and_other_types_are_refused():
    aware = entry(1)
    naive = dict(aware, at=aware["at"].replace(tzinfo=None))
    assert audit_chain.canonical(aware, "0" * 64) == audit_chain.canonical(naive, "0" * 64)
    with pytest.raises(TypeError):
        audit_chain.canonical(dict(aware, detail=True), "0" * 64)
    with pytest.raises(TypeError):
        audit_chain.canonical(dict(aware, detail=1.5), "0" * 64)


def test_the_encoding_keeps_each_value_in_its_own_place():
    a = entry(1, object_id="a,b", detail=None)
    b = entry(1, object_id="a", detail="b")
    c = entry(1, object_id='a","b')
    encodings = {audit_chain.canonical(e, "0" * 64) for e in (a, b, c)}
    assert len(encodings) == 3
    assert audit_chain.canonical(entry(1, detail=""), "0" * 64) != audit_chain.canonical(
        entry(1, detail=None), "0" * 64
    )


def test_the_walk_streams_and_stops_at_the_first_broken_entry():
    rows = chain(10)
    rows[2]["action"] = "update"
    calls = []

    def fetch(after, size):
        calls.append(after)
        start = 0 if after is None else after
        return rows[start : start + size]

    verdict = audit_chain.walk(KEY, audit_chain.batches(fetch, 2))
    assert verdict.broken_id == 3
    assert calls == [None, 2]  # the later batches were never asked for


def test_batches_reads_every_row_once_with_no_lower_bound_first():
    rows = chain(7)
    seen = []

    def fetch(after, size):
        seen.append(after)
        return [r for r in rows if after is None or r["id"] > after][:size]

    assert [r["id"] for r in audit_chain.batches(fetch, 3)] == list(range(1, 8))
    assert seen == [None, 3, 6]


def test_parse_head():
    digest = "ab" * 32
    assert audit_chain.parse_head(f" 12:{digest.upper()} ") == (12, digest)
    for bad in ("12", f"x:{digest}", "12:abc", f"-1:{digest}"):
        with pytest.raises(ValueError):
            audit_chain.parse_head(bad)


# ---------------------------------------------------------------- the key


def test_a_key_is_made_once_owner_only_and_read_back(tmp_path):
    first = audit_chain.load_key({}, tmp_path, allow_generate=True)
    assert first.created
    path = tmp_path / audit_chain.KEY_FILE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    again = audit_chain.load_key({}, tmp_path, allow_generate=True)
    assert not again.created
    assert first.mac(b"x") == again.mac(b"x")


def test_racing_processes_share_one_key(tmp_path):
    keys, barrier = [], threading.Barrier(8)

    def load():
        barrier.wait()
        keys.append(audit_chain.load_key({}, tmp_path, allow_generate=True).mac(b"x"))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_no_key_and_no_leave_to_make_one_is_an_error(tmp_path):
    with pytest.raises(AuditKeyError, match="HOMEWARD_AUDIT_KEY"):
        audit_chain.load_key({}, tmp_path, allow_generate=False)
    assert not (tmp_path / audit_chain.KEY_FILE_NAME).exists()


def test_the_environment_key_wins_over_the_file(tmp_path):
    audit_chain.load_key({}, tmp_path, allow_generate=True)
    raw = os.urandom(32)
    env = {audit_chain.ENV_KEY: base64.b64encode(raw).decode()}
    key = audit_chain.load_key(env, tmp_path, allow_generate=False)
    assert key.source == "environment"
    assert key.mac(b"x") == ChainKey(raw, "x").mac(b"x")


@pytest.mark.parametrize("value", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_key_is_refused_without_being_echoed(tmp_path, value):
    with pytest.raises(AuditKeyError) as err:
        audit_chain.load_key({audit_chain.ENV_KEY: value}, tmp_path, allow_generate=True)
    if value:
        assert value not in str(err.value)
    assert not (tmp_path / audit_chain.KEY_FILE_NAME).exists()  # never a fallback key
    (tmp_path / audit_chain.KEY_FILE_NAME).write_text(value or "x")
    with pytest.raises(AuditKeyError):
        audit_chain.load_key({}, tmp_path, allow_generate=True)


def test_the_key_stays_out_of_reprs_and_pickles():
    secret = b"S" * 32
    key = ChainKey(secret, "somewhere")
    assert "S" * 8 not in repr(key) and base64.b64encode(secret).decode() not in repr(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(AuditKeyError):
        ChainKey(b"short", "x")


def test_the_chain_module_reaches_no_framework_or_database():
    from tests.integration.test_architecture import ROOT, framework_imports

    assert framework_imports(Path(ROOT), ["webapp.audit_chain"]) == []
