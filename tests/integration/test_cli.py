"""The `homeward` command on a fresh instance folder, as `make run` uses it."""

import base64
import os
import subprocess
import sys

import pytest


def run(args, instance, input=None, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    environ.update({"HOMEWARD_INSTANCE_PATH": str(instance), **env})
    environ.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        input=input,
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
        ],
        tmp_path,
        # Asked twice, never on the command line (shell history, `ps`).
        input="long-enough-1\nlong-enough-1\n",
    )
    assert r.returncode == 0, r.stderr
    assert "new.worker@demo.test" in r.stdout and "long-enough-1" not in r.stdout
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
        ],
        tmp_path,
        input="long-enough-1\nlong-enough-1\n",
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


def test_users_commands_manage_accounts_without_passwords_on_the_command_line(tmp_path):
    from urllib.parse import urlsplit

    from tests import factories
    from tests.conftest import Browser
    from webapp import create_app
    from webapp.extensions import db

    assert run(["init-db"], tmp_path).returncode == 0
    app = create_app(
        {"INSTANCE_PATH": str(tmp_path), "TESTING": True},
        environ={"HOMEWARD_INSTANCE_PATH": str(tmp_path)},
    )
    # An authority with two workers (each in a team of it), and a manager of another authority.
    with app.app_context():
        la = factories.local_authority()
        worker, other = factories.worker(la), factories.worker(la)
        elsewhere = factories.manager()
        db.session.commit()
        code, worker, other, elsewhere = la.ons_code, worker.email, other.email, elsewhere.email
        db.session.remove()
        db.engine.dispose()
    r = run(
        ["create-user", "--email", "a@example.test", "--name", "A B", "--role", "worker"]
        + ["--organisation", code, "--password", "long-enough-1"],
        tmp_path,
    )
    assert r.returncode != 0 and "No such option" in r.stderr
    r = run(
        ["create-user", "--email", "new@example.test", "--name", "Nia Holt", "--role", "worker"]
        + ["--organisation", code, "--link", "--base-url", "https://homeward.example"],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    new_link = r.stdout.strip().splitlines()[-1]
    assert new_link.startswith("https://homeward.example/set-password?code=")
    # Weak passwords are refused at creation too, with the reason.
    r = run(
        ["create-user", "--email", "weak@example.test", "--name", "W", "--role", "worker"]
        + ["--organisation", code],
        tmp_path,
        input="password1234\npassword1234\n",
    )
    assert r.returncode != 0 and "common password" in r.stderr

    r = run(["users", "list", "--authority", code], tmp_path)
    assert worker in r.stdout and elsewhere not in r.stdout
    r = run(["users", "set-role", other, "social_worker"], tmp_path)
    assert r.returncode == 0 and "social_worker" in r.stdout, r.stderr
    r = run(["users", "set-team", other, "none"], tmp_path)
    assert r.returncode == 0, r.stderr
    r = run(["users", "deactivate", worker], tmp_path)
    assert r.returncode == 0 and "Deactivated" in r.stdout, r.stderr
    r = run(["users", "reset-password", worker], tmp_path)
    assert r.returncode != 0 and "Reactivate" in r.stderr
    assert run(["users", "reactivate", worker], tmp_path).returncode == 0
    r = run(["users", "reset-password", worker], tmp_path)
    assert r.returncode == 0, r.stderr
    link = r.stdout.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:5000/set-password?code=")
    r = run(["users", "deactivate", "nobody@example.test"], tmp_path)
    assert r.returncode != 0 and "No user" in r.stderr

    # Both links work in the app, once.
    with app.app_context():
        for url, email in ((new_link, "new@example.test"), (link, worker)):
            b = Browser(app.test_client())
            parts = urlsplit(url)
            assert b.get(f"{parts.path}?{parts.query}").status_code == 200
            code = parts.query.split("=", 1)[1]
            form = {"code": code, "new_password": "heron-canal-tram-9"}
            form["confirm_password"] = "heron-canal-tram-9"
            assert b.post("/set-password", form).status_code == 302
            assert b.get(f"{parts.path}?{parts.query}").status_code == 410
            b.get("/sign-in")
            r = b.post("/sign-in", {"email": email, "password": "heron-canal-tram-9"})
            assert r.status_code == 302, email
        db.session.remove()
        db.engine.dispose()
