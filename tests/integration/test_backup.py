"""`homeward backup` and `homeward restore` end to end: the real command in a subprocess, the
real databases (SQLite and PostgreSQL 15 with pg_dump/pg_restore), real AES-GCM.

A backup of the demo data plus sealed interview content is restored into a new database with a
new instance folder holding the copied secrets, and every table is compared row by row; then the
app reads a sealed value from the restored database. The refusals (wrong key, altered or cut
file, database not empty, missing data key, newer schema, other database kind) leave the new
database empty.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_PASSWORD, Browser, _make_app, _pg_exec, _pg_url
from webapp.backups import stream

pytestmark = pytest.mark.both_databases

KEY = stream.generate_key()
KEY_TEXT = stream.encode_key(KEY)
SECRETS = ("data-keys.json", "secret-key", "vapid-private.pem", "audit-key")
ANSWERS = {"child_voice": "Backup-test disclosure text 7f3a", "push_factors": ["bullying"]}


def run(args, *, instance: Path, url: str | None, key: str | None = KEY_TEXT, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    environ.pop("DATABASE_URL", None)
    environ["HOMEWARD_INSTANCE_PATH"] = str(instance)
    if url:
        environ["DATABASE_URL"] = url
    if key:
        environ[stream.ENV_KEY] = key
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def source(app, database, instance_dir):
    """The demo data plus an interview with sealed content, committed: (url, interview id)."""
    from tests import factories
    from webapp.extensions import db

    interview = factories.interview(answers=ANSWERS)
    db.session.commit()
    yield database[0], interview.id
    db.session.remove()


@pytest.fixture
def new_instance(tmp_path, instance_dir):
    """A new server's instance folder: the secrets copied from the old one, no database."""
    path = tmp_path / "new-instance"
    path.mkdir(mode=0o700)
    for name in SECRETS:
        if (instance_dir / name).exists():
            shutil.copy2(instance_dir / name, path / name)
    return path


@pytest.fixture
def new_database(backend, new_instance):
    """The URL of a new, empty database of the same kind (None: SQLite in the instance)."""
    if backend == "sqlite":
        yield None
        return
    name = f"hw_restore_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def target_url(new_database, new_instance) -> str:
    return new_database or f"sqlite:///{new_instance / 'homeward.sqlite3'}"


def make_backup(source_url, instance_dir, tmp_path) -> Path:
    out = tmp_path / "homeward.backup"
    r = run(["backup", "--out", str(out)], instance=instance_dir, url=source_url)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    return out


def rechunk(backup: Path, chunk_size: int) -> Path:
    """The same backup, decrypted and encrypted again in small chunks (so it has many)."""
    out = backup.with_name(backup.name + f".{chunk_size}")
    with backup.open("rb") as fh, out.open("wb") as sink:
        reader = stream.Reader(fh, KEY)
        writer = stream.Writer(sink, KEY, reader.header.fields, chunk_size=chunk_size)
        for piece in reader.chunks():
            writer.write(piece)
        writer.close()
    return out


def table_rows(url: str) -> dict[str, list]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            out = {}
            for name in names:
                with warnings.catch_warnings():
                    # Expression indexes (lower(name)) are not reflected: the rows are all we read.
                    warnings.simplefilter("ignore", sa.exc.SAWarning)
                    table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                rows = [tuple(row) for row in conn.execute(sa.select(table))]
                out[name] = sorted(rows, key=repr)
            return out
    finally:
        engine.dispose()


def sequences(url: str) -> dict[str, tuple]:
    if not url.startswith("postgresql"):
        return {}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = conn.scalars(
                sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).all()
            return {
                n: tuple(conn.execute(sa.text(f'SELECT last_value, is_called FROM "{n}"')).one())
                for n in names
            }
    finally:
        engine.dispose()


def assert_empty(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def test_round_trip_loses_nothing(
    source, backend, instance_dir, new_instance, new_database, tmp_path
):
    source_url, interview_id = source
    backup = make_backup(source_url, instance_dir, tmp_path)
    url = target_url(new_database, new_instance)

    # The new server runs in production: secrets from the copied files and the environment.
    r = run(
        ["restore", str(backup)],
        instance=new_instance,
        url=new_database,
        HOMEWARD_ENV="production",
        SECRET_KEY=(instance_dir / "secret-key").read_text().strip(),
    )
    assert r.returncode == 0, r.stderr
    assert "Restored the " + backend in r.stdout
    assert "warning" not in r.stderr  # every secret was copied

    before, after = table_rows(source_url), table_rows(url)
    assert set(before) == set(after)
    assert sum(len(rows) for rows in before.values()) > 100
    for name in before:
        assert after[name] == before[name], name
    assert sequences(url) == sequences(source_url)

    # The copied data key reads the sealed values, through the app.
    from webapp.extensions import db
    from webapp.interviews.models import Interview
    from webapp.sealed import unseal

    restored = _make_app(url, new_instance)
    with restored.app_context():
        try:
            row = db.session.get(Interview, interview_id)
            assert unseal(row.content_enc, "interview", row.id, "content") == ANSWERS
            # And the restored database works as a database: a manager signs in (writes a
            # session, an audit entry) and sees the dashboard.
            browser = Browser(restored.test_client()).login("manager@demo.test", DEMO_PASSWORD)
            assert browser.get("/").status_code in (200, 302)
        finally:
            db.session.remove()
            db.engine.dispose()


def test_output_says_nothing_personal(source, instance_dir, new_instance, new_database, tmp_path):
    source_url, _ = source
    engine = sa.create_engine(source_url)
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT first_name, last_name FROM children")).all()
        emails = conn.scalars(sa.text("SELECT email FROM users")).all()
    engine.dispose()
    out = tmp_path / "b"
    backup = run(["backup", "--out", str(out)], instance=instance_dir, url=source_url)
    restore = run(["restore", str(out)], instance=new_instance, url=new_database)
    assert backup.returncode == 0 and restore.returncode == 0, backup.stderr + restore.stderr
    text = backup.stdout + backup.stderr + restore.stdout + restore.stderr
    personal = {n for row in names for n in row if n} | set(emails)
    assert len(personal) > 20
    assert not [p for p in personal if p in text]
    assert ANSWERS["child_voice"] not in out.read_bytes().decode("latin-1")


@pytest.mark.parametrize("damage", ["wrong key", "flipped byte", "cut short", "final chunk lost"])
def test_a_bad_file_or_key_restores_nothing(
    damage, source, instance_dir, new_instance, new_database, tmp_path
):
    source_url, _ = source
    backup = rechunk(make_backup(source_url, instance_dir, tmp_path), 4096)
    data = bytearray(backup.read_bytes())
    header = stream.read_header(io.BytesIO(bytes(data)))
    block = header.chunk_size + stream.TAG_BYTES
    chunks = (len(data) - len(header.raw)) // block
    assert chunks >= 3
    key = KEY_TEXT
    if damage == "wrong key":
        key = stream.encode_key(stream.generate_key())
    elif damage == "flipped byte":
        data[len(header.raw) + block * (chunks // 2) + 100] ^= 0x40
    elif damage == "cut short":
        del data[len(data) // 2 :]
    else:
        # Cut exactly at the last chunk boundary: every chunk left is authentic.
        del data[len(header.raw) + chunks * block :]
    bad = tmp_path / "bad.backup"
    bad.write_bytes(bytes(data))
    r = run(["restore", str(bad)], instance=new_instance, url=new_database, key=key)
    assert r.returncode == 1
    expected = {
        "wrong key": "made with backup key",
        "flipped byte": "fails authentication",
        "cut short": "cut short",
        "final chunk lost": "cut short",
    }[damage]
    assert expected in r.stderr and "nothing was restored" in r.stderr
    assert "Traceback" not in r.stderr
    assert_empty(target_url(new_database, new_instance))


def test_refuses_a_database_that_is_not_empty(source, backend, instance_dir, tmp_path):
    source_url, _ = source
    backup = make_backup(source_url, instance_dir, tmp_path)
    before = table_rows(source_url)
    # Restoring over the live database itself: refused, and it is untouched.
    r = run(["restore", str(backup)], instance=instance_dir, url=source_url)
    assert r.returncode == 1
    assert "is not empty" in r.stderr and "nothing was changed" in r.stderr
    assert table_rows(source_url) == before


def test_refuses_an_instance_without_the_data_key(
    source, instance_dir, new_instance, new_database, tmp_path
):
    from webapp.crypto import add_key_to_file

    source_url, _ = source
    backup = make_backup(source_url, instance_dir, tmp_path)
    (new_instance / "data-keys.json").unlink()
    (new_instance / "secret-key").unlink()
    # No data keys at all: the restore does not make one (it could read nothing).
    r = run(["restore", str(backup)], instance=new_instance, url=new_database)
    assert r.returncode == 1 and "No data encryption key" in r.stderr
    assert "warning: no secret-key" in r.stderr  # the other secrets are named too
    assert not (new_instance / "data-keys.json").exists()
    # Another key, made the same day, has the same id (k<date>) as the one the backup's values
    # were sealed with: told apart by the key check, named and refused.
    needed = stream.read_header(backup.open("rb"))["data_key_ids"]
    kid = add_key_to_file(new_instance)
    r = run(["restore", str(backup)], instance=new_instance, url=new_database)
    assert r.returncode == 1
    if kid in needed:
        assert "same id, different key" in r.stderr
    else:
        assert "lacks the data key" in r.stderr
    assert needed and all(kid in r.stderr for kid in needed)
    # A key with another id: the one missing is named.
    (new_instance / "data-keys.json").unlink()
    keyring = {"active": "other", "keys": {"other": stream.encode_key(bytes(32))}}
    (new_instance / "data-keys.json").write_text(json.dumps(keyring))
    r = run(["restore", str(backup)], instance=new_instance, url=new_database)
    assert r.returncode == 1 and "lacks the data key" in r.stderr
    assert all(kid in r.stderr for kid in needed)
    assert_empty(target_url(new_database, new_instance))


def test_refuses_a_newer_schema(source, instance_dir, new_instance, new_database, tmp_path):
    """A backup from a future version: the header names a revision this code does not know.
    Forged properly (decrypted and re-encrypted with the key), so only the revision is wrong."""
    source_url, _ = source
    backup = make_backup(source_url, instance_dir, tmp_path)
    forged = tmp_path / "future.backup"
    with backup.open("rb") as fh, forged.open("wb") as out:
        reader = stream.Reader(fh, KEY)
        fields = {**reader.header.fields, "revision": "f0f0f0f00099"}
        writer = stream.Writer(out, KEY, fields)
        for piece in reader.chunks():
            writer.write(piece)
        writer.close()
    r = run(["backup", "verify", str(forged)], instance=new_instance, url=None)
    assert r.returncode == 0 and "NEWER than this code" in r.stdout
    r = run(["restore", str(forged)], instance=new_instance, url=new_database)
    assert r.returncode == 1
    assert "newer version of Homeward" in r.stderr and "f0f0f0f00099" in r.stderr
    assert_empty(target_url(new_database, new_instance))


def test_an_older_schema_is_restored_then_migrated(
    backend, instance_dir, new_instance, new_database, tmp_path
):
    from flask_migrate import upgrade

    from webapp.backups.commands import known_revisions
    from webapp.extensions import db

    old = "c4a1e5510015"  # 0021_found_place, before issue 15's migrations
    assert old in known_revisions()
    if backend == "sqlite":
        source_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        name = f"hw_old_{uuid.uuid4().hex[:10]}"
        _pg_exec(f'CREATE DATABASE "{name}"')
        source_url = _pg_url(name)
    try:
        app = _make_app(source_url, instance_dir)
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory, revision=old)
            db.session.execute(
                sa.text(
                    "INSERT INTO organisations (id, kind, name) "
                    "VALUES ('org-old', 'local_authority', 'Old Borough')"
                )
            )
            db.session.commit()
            db.engine.dispose()
        shutil.copy2(instance_dir / "data-keys.json", new_instance / "data-keys.json")
        backup = make_backup(source_url, instance_dir, tmp_path)
        r = run(["restore", str(backup)], instance=new_instance, url=new_database)
        assert r.returncode == 0, r.stderr
        url = target_url(new_database, new_instance)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            revision = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
            name = conn.scalar(sa.text("SELECT name FROM organisations WHERE id = 'org-old'"))
        engine.dispose()
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        from webapp import MIGRATIONS

        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        assert revision == ScriptDirectory.from_config(config).get_current_head()
        assert revision != old and name == "Old Borough"
    finally:
        if backend == "postgresql":
            _pg_exec(f'DROP DATABASE IF EXISTS "{source_url.rsplit("/", 1)[1]}" WITH (FORCE)')


def test_refuses_another_database_kind(source, backend, instance_dir, tmp_path):
    source_url, _ = source
    backup = make_backup(source_url, instance_dir, tmp_path)
    other = tmp_path / "other-instance"
    other.mkdir(mode=0o700)
    shutil.copy2(instance_dir / "data-keys.json", other / "data-keys.json")
    if backend == "sqlite":
        name = f"hw_kind_{uuid.uuid4().hex[:10]}"
        _pg_exec(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    else:
        url = None  # SQLite in the instance folder
    try:
        r = run(["restore", str(backup)], instance=other, url=url)
        assert r.returncode == 1 and "across database kinds" in r.stderr
    finally:
        if url:
            _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_file_is_private_and_atomic(source, backend, instance_dir, tmp_path):
    source_url, _ = source
    backup = make_backup(source_url, instance_dir, tmp_path)
    good = backup.read_bytes()
    # A second run replaces the file whole; no temporary file is left anywhere.
    backup = make_backup(source_url, instance_dir, tmp_path)
    assert backup.read_bytes() != good
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    if backend == "sqlite":
        folder = Path(source_url.removeprefix("sqlite:///")).parent
        assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
    # A backup that fails leaves the last good file as it was, and no partial file.
    kept = backup.read_bytes()
    broken = (
        f"sqlite:///{tmp_path / 'missing.sqlite3'}"
        if backend == "sqlite"
        else source_url.rsplit("/", 1)[0] + "/no_such_database"
    )
    r = run(["backup", "--out", str(backup)], instance=instance_dir, url=broken)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert ("no SQLite database" if backend == "sqlite" else "cannot connect") in r.stderr
    assert backup.read_bytes() == kept
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    r = run(["backup", "verify", str(backup)], instance=instance_dir, url=None)
    assert r.returncode == 0 and "complete and authentic" in r.stdout


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sealed_values_live_only_in_enc_columns(source):
    """The backup finds the data key ids in the `*_enc` columns only: no sealed token may sit in
    any other column, or a restore could pass its key check and still meet an unreadable value."""
    source_url, _ = source
    engine = sa.create_engine(source_url)
    stray = []
    with engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            for column in table.columns:
                if column.name.endswith("_enc"):
                    continue
                hit = conn.execute(
                    sa.select(sa.func.count()).where(sa.cast(column, sa.Text).like("%hw1.%.%.%"))
                ).scalar()
                if hit:
                    stray.append(f"{name}.{column.name}")
    engine.dispose()
    assert stray == []


def test_backup_key_command(tmp_path):
    out = tmp_path / "backup.key"
    r = run(["backup", "key", "--out", str(out)], instance=tmp_path, url=None, key=None)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    key = stream.decode_key(out.read_text(), "file")
    assert stream.key_id(key) in r.stdout and out.read_text().strip() not in r.stdout
    again = run(["backup", "key", "--out", str(out)], instance=tmp_path, url=None, key=None)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert stream.decode_key(out.read_text(), "file") == key
    r = run(["backup", "--out", str(tmp_path / "b")], instance=tmp_path, url=None, key=None)
    assert r.returncode == 1 and "no backup key" in r.stderr
