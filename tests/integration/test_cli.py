"""The `homeward` command on a fresh instance folder, as `make run` uses it."""

import os
import subprocess
import sys


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
