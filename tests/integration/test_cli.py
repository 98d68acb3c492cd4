"""The `homeward` command on a fresh instance folder, as `make run` uses it."""

import base64
import os
import subprocess
import sys

import pytest


def run(args, instance, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    environ.update({"HOMEWARD_INSTANCE_PATH": str(instance), **env})
    environ.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_db_demo_data_and_create_user(tmp_path):
    r = run(["init-db"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "homeward.sqlite3").exists()
    assert (tmp_path / "secret-key").stat().st_mode & 0o077 == 0
    r = run(["demo-data", "--password", "another-pass-1"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "manager@demo.test" in r.stdout and "another-pass-1" in r.stdout
    # A second run leaves the data alone.
    r = run(["demo-data"], tmp_path)
    assert "already has users" in r.stdout
    r = run(
        [
            "create-user",
            "--email",
            "New.Worker@Demo.test",
            "--name",
            "New Worker",
            "--role",
            "worker",
            "--organisation",
            "E06009901",
            "--password",
            "long-enough-1",
        ],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "new.worker@demo.test" in r.stdout
    r = run(
        [
            "create-user",
            "--email",
            "x@demo.test",
            "--name",
            "X",
            "--role",
            "dsl",
            "--organisation",
            "E06009901",
            "--password",
            "long-enough-1",
        ],
        tmp_path,
    )
    assert r.returncode != 0 and "belongs to a school" in r.stderr


def test_vapid_keys_are_made_once_and_production_needs_them(tmp_path):
    from webapp import create_app
    from webapp.push.vapid import VapidKeyError

    r = run(["vapid-keys"], tmp_path)
    assert r.returncode == 0, r.stderr
    key_file = tmp_path / "vapid-private.pem"
    assert key_file.stat().st_mode & 0o077 == 0
    first = key_file.read_bytes()
    # Never replaced: a new key would break every subscription.
    r = run(["vapid-keys"], tmp_path)
    assert r.returncode != 0 and "already exists" in r.stderr
    assert run(["vapid-keys", "--if-missing"], tmp_path).returncode == 0
    assert key_file.read_bytes() == first

    # Production refuses to start without one (given everything else it needs).
    from webapp.crypto import generate_key

    environ = {
        "HOMEWARD_ENV": "production",
        "SECRET_KEY": "s" * 64,
        "HOMEWARD_DATA_KEYS": f"k1:{base64.b64encode(generate_key()).decode()}",
    }
    with pytest.raises(VapidKeyError, match="homeward vapid-keys"):
        create_app({"INSTANCE_PATH": str(tmp_path / "empty")}, environ=environ)
    app = create_app({"INSTANCE_PATH": str(tmp_path)}, environ=environ)
    assert app.extensions["homeward_vapid"] is not None


def test_one_dispatcher_at_a_time_on_sqlite(tmp_path):
    assert run(["init-db"], tmp_path).returncode == 0
    assert run(["vapid-keys"], tmp_path).returncode == 0
    assert run(["reminders", "run", "--once"], tmp_path).returncode == 0
    import fcntl

    with open(tmp_path / "reminders-dispatcher.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running dispatcher holds it
        r = run(["reminders", "run", "--once"], tmp_path)
    assert r.returncode != 0 and "Another dispatcher" in r.stderr
