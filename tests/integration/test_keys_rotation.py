"""`homeward keys generate / rotate / retire / list` on a real database, both SQLite and PostgreSQL.

The commands run as an operator runs them: through the `homeward` CLI with the environment
pointing at the test database and at a copy of the instance folder (so a new key never reaches
the instance the other tests share), and once as a separate process killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select, text, update

from tests.conftest import Browser, _make_app
from tests.integration.helpers import interview_of
from tests.integration.test_keys_registry import seed_every_sealed_column
from webapp import crypto
from webapp.cli import main
from webapp.extensions import db
from webapp.keyring import rotate
from webapp.keyring.registry import sealed_columns

pytestmark = pytest.mark.both_databases

CANARY = "Keys-Canary-Pangolin-3306"


@pytest.fixture
def instance(instance_dir, tmp_path) -> Path:
    copy = tmp_path / "instance"
    shutil.copytree(instance_dir, copy)
    return copy


@pytest.fixture
def env(database, instance) -> dict[str, str]:
    url, _ = database
    return {
        "HOMEWARD_INSTANCE_PATH": str(instance),
        "DATABASE_URL": url,
        "HOMEWARD_ENV": "testing",
        "HOMEWARD_DATA_KEYS": None,
        "HOMEWARD_ACTIVE_KEY_ID": None,
    }


def homeward(env: dict, *args: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def file_keys(instance: Path) -> dict:
    return json.loads((instance / crypto.KEY_FILE_NAME).read_text())


def plaintexts(cipher: crypto.FieldCipher) -> dict:
    """Every sealed value of the database, decrypted with the registry's associated data."""
    values = {}
    for col in sealed_columns():
        table = col.model.__table__
        ids = [table.c[name] for name in col.id_columns]
        c = table.c[col.column]
        for row in db.session.execute(select(*ids, c).where(c.is_not(None))):
            key = tuple(row[:-1])
            values[(col.name, key)] = cipher.decrypt(row[-1], col.aad(key))
    return values


def key_ids_in_use() -> dict[str, int]:
    counts: dict[str, int] = {}
    for col in sealed_columns():
        c = col.model.__table__.c[col.column]
        for (token,) in db.session.execute(select(c).where(c.is_not(None))):
            kid = token.split(".")[1]
            counts[kid] = counts.get(kid, 0) + 1
    return counts


def sync_state() -> dict:
    """What a phone or an open form would notice: versions, updated_at, the change log, and
    the interview factors derived from the sealed answers."""
    state = {}
    inspector = inspect(db.engine)
    tables = {col.table_name for col in sealed_columns()} | {"change_log", "interview_factors"}
    for table in sorted(tables):
        names = [c["name"] for c in inspector.get_columns(table)]
        keep = [n for n in names if not n.endswith("_enc")]
        quoted = ", ".join(f'"{n}"' for n in keep)
        rows = db.session.execute(text(f'SELECT {quoted} FROM "{table}"')).all()
        state[table] = sorted(tuple(str(v) for v in row) for row in rows)
    return state


def test_generate_rotate_retire_keeps_every_value(app, database, instance, env):
    url, ids = database
    worker = Browser(app.test_client()).login("worker@demo.test")
    kai = interview_of(ids["kai"])
    assert (
        worker.post(f"/interviews/{kai.id}/sections/why", {"why_details": CANARY}).status_code
        == 302
    )
    seeded = seed_every_sealed_column()
    db.session.commit()
    old_cipher = app.extensions["homeward_cipher"]
    old = old_cipher.active_key_id
    before = plaintexts(old_cipher)
    state = sync_state()
    assert key_ids_in_use() == {old: len(before)}

    r = homeward(env, "keys", "retire", old)
    assert r.exit_code == 1 and "is the active key" in r.output

    r = homeward(env, "keys", "generate")
    assert r.exit_code == 0, r.output
    new = file_keys(instance)["active"]
    assert new != old and f"Added data key {new}" in r.output

    # Before rotating: refused, with the count of each column, nothing changed.
    r = homeward(env, "keys", "retire", old)
    assert r.exit_code == 1
    assert f"Refusing to retire {old}: {len(before)} value(s)" in r.output
    assert "interviews.content_enc: " in r.output and "devices.recovery_key_enc: 1" in r.output
    assert old in file_keys(instance)["keys"]

    r = homeward(env, "keys", "list")
    assert r.exit_code == 0
    assert f"{old}" in r.output and f"{len(before)} value(s)" in r.output
    assert f"{new}" in r.output and "active  0 value(s)" in r.output

    r = homeward(env, "keys", "rotate", "--batch-size", "3")
    assert r.exit_code == 0, r.output
    assert f"Done: {len(before)} value(s) re-encrypted" in r.output
    assert CANARY not in r.output and "Seed-" not in r.output  # counts, never content

    db.session.expire_all()
    assert key_ids_in_use() == {new: len(before)}
    both = crypto.load_cipher({}, instance, allow_generate=False)
    assert plaintexts(both) == before
    # Nothing a phone or an open form watches has moved: no new version, no updated_at, no
    # change-log entry, the interview factors as they were.
    assert sync_state() == state

    # A second run finds nothing to do.
    r = homeward(env, "keys", "rotate")
    assert r.exit_code == 0 and "Done: 0 value(s)" in r.output

    r = homeward(env, "keys", "retire", old)
    assert r.exit_code == 0, r.output
    assert f"Retired {old}" in r.output
    assert list(file_keys(instance)["keys"]) == [new]

    # A server started now holds only the new key, and reads everything through the app.
    app2 = _make_app(url, instance)
    with app2.app_context():
        assert app2.extensions["homeward_cipher"].key_ids == (new,)
        assert plaintexts(app2.extensions["homeward_cipher"]) == before
        page = Browser(app2.test_client()).login("worker@demo.test")
        shown = page.get(f"/interviews/{kai.id}/sections/why").get_data(as_text=True)
        assert CANARY in shown
        _read_hand_sealed_through_the_app(seeded)
        db.session.remove()
        db.engine.dispose()


def _read_hand_sealed_through_the_app(seeded: dict) -> None:
    # The columns sealed by hand are read by the app's own functions: a registry entry whose
    # associated data differed from the app's would have re-sealed them unreadably.
    from webapp import sealed
    from webapp.accounts.models import User
    from webapp.devices import service as devices
    from webapp.episodes import service as episodes
    from webapp.episodes.models import Episode
    from webapp.fieldsync.models import SyncConflict
    from webapp.interviews import service as interviews
    from webapp.interviews.models import Interview

    interview = db.session.get(Interview, seeded["interview"])
    assert interviews.answers(interview)["why_details"] == "Seed-why"
    assert interviews.review_note(interview) == "Seed-review"
    assert interview.appointment_place == "Seed-library"
    episode = db.session.get(Episode, seeded["episode"])
    assert episodes.circumstances(episode) == "Seed-circ"
    assert episode.police_log_number == "LOG-seed-1"
    worker = db.session.get(User, seeded["worker"])
    assert devices.recovery_key(worker, seeded["device"]) == seeded["recovery_key"]
    conflict = db.session.get(SyncConflict, seeded["conflict"])
    assert sealed.unseal(conflict.payload_enc, "sync_conflict", conflict.id, "payload") == {
        "x": "Seed-conflict"
    }
    try:
        from webapp.accounts import second_factor
    except ImportError:  # the second factor lands separately
        return
    manager = db.session.get(User, seeded["manager"])
    factor = second_factor.factor_of(manager)
    if factor is not None:
        assert second_factor._secret_of(factor)  # opens under the new key alone


def test_retire_refuses_unknown_key(app, env):
    r = homeward(env, "keys", "retire", "no-such-key")
    assert r.exit_code == 1 and "No key 'no-such-key'" in r.output


def test_retire_with_keys_from_the_environment_leaves_the_file(app, instance, env):
    doc = file_keys(instance)
    ((active, active_key),) = doc["keys"].items()
    spare = crypto.encode_key(crypto.generate_key())
    env = env | {"HOMEWARD_DATA_KEYS": f"spare:{spare},{active}:{active_key}"}
    before = (instance / crypto.KEY_FILE_NAME).read_bytes()

    r = homeward(env, "keys", "retire", active)
    assert r.exit_code == 1 and "is the active key" in r.output
    r = homeward(env, "keys", "retire", "spare")
    assert r.exit_code == 0, r.output
    assert "remove the entry spare from HOMEWARD_DATA_KEYS" in r.output
    assert "changed nothing" in r.output
    assert (instance / crypto.KEY_FILE_NAME).read_bytes() == before


def test_a_value_changed_during_rotation_is_not_lost(app, instance):
    """The app saves a new police log number while the rotation holds the old token in hand.

    The writer holds its transaction open (a row lock on PostgreSQL, the write lock on SQLite)
    while the rotation's compare-and-set UPDATE starts, so the UPDATE waits for the commit and
    then finds the token changed: it writes nothing, and the next pass rotates the new value.
    """
    seeded = seed_every_sealed_column()
    old_cipher = app.extensions["homeward_cipher"]
    crypto.add_key_to_file(instance, make_active=True)
    cipher = crypto.load_cipher({}, instance, allow_generate=False)
    (col,) = [c for c in sealed_columns() if c.name == "episodes.police_log_number_enc"]
    table = col.model.__table__
    # A server not yet restarted seals with the old key: the next pass must still catch it.
    newer = old_cipher.encrypt_json("LOG-newer-2", col.aad([seeded["episode"]]))
    engine = db.engine  # the thread has no app context
    locked, committed = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(table)
                    .where(table.c.id == seeded["episode"])
                    .values(police_log_number_enc=newer)
                )
                locked.set()
                time.sleep(0.5)  # the rotation's UPDATE starts and has to wait
            committed.set()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            locked.set()

    thread = None

    def before_write(column, rows) -> None:
        nonlocal thread
        if thread is None and any(row[0] == seeded["episode"] for row in rows):
            thread = threading.Thread(target=writer)
            thread.start()
            assert locked.wait(10)

    result = rotate.rotate_column(db.engine, cipher, col, batch_size=500, before_write=before_write)
    thread.join(10)
    assert not errors and committed.is_set()
    assert result.changed_meanwhile == 1
    assert result.remaining == 0 and not result.failed

    token = db.session.execute(
        select(table.c.police_log_number_enc).where(table.c.id == seeded["episode"])
    ).scalar_one()
    # The app's value, not the rotation's re-encryption of the one it had read.
    assert cipher.decrypt_json(token, col.aad([seeded["episode"]])) == "LOG-newer-2"
    assert token.startswith(f"hw1.{cipher.active_key_id}.")


def test_rotation_killed_part_way_resumes(app, database, instance, env):
    url, _ = database
    seed_every_sealed_column()
    old = app.extensions["homeward_cipher"].active_key_id
    before = plaintexts(app.extensions["homeward_cipher"])
    new = crypto.add_key_to_file(instance, make_active=True)
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_DATA")}
    process_env.update({k: v for k, v in env.items() if v is not None})
    process_env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "webapp.cli",
            "keys",
            "rotate",
            "--batch-size",
            "1",
            "--pause",
            "0.1",
        ],
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 5:
            assert time.monotonic() < deadline, "no progress from homeward keys rotate"
            line = proc.stdout.readline()
            assert line, "homeward keys rotate ended before it could be killed"
            # A progress line is printed after its batch (one value here) committed.
            seen += line.startswith("  ") and " of " in line
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    db.session.expire_all()
    in_use = key_ids_in_use()
    assert in_use.get(new, 0) >= 5 and in_use.get(old, 0) > 0  # killed part-way
    both = crypto.load_cipher({}, instance, allow_generate=False)
    assert plaintexts(both) == before  # whole batches only: nothing torn, nothing lost

    r = homeward(env, "keys", "rotate")
    assert r.exit_code == 0, r.output
    db.session.expire_all()
    assert key_ids_in_use() == {new: len(before)}
    assert plaintexts(both) == before
