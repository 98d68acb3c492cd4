"""Dockerfile, compose.yaml, deploy/nginx.conf and the container's entry point, checked without
Docker (no daemon and no registry here: docs/operations/deployment.md). The topology itself runs
in tests/integration/test_two_servers.py.

The compose file's structure: the services, who waits for whom, health checks, secrets only as
files; every command the containers run is a real `homeward` command with real options; the
entry point turns VAR_FILE into VAR; nginx accepts the proxy's configuration and it forwards
what the production e2e test's proxy forwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"
NGINX_CONF = (ROOT / "deploy" / "nginx.conf").read_text()
HOMEWARD = ("migrate", "app-a", "app-b", "dispatcher")
SECRET_VARS = {
    "SECRET_KEY",
    "HOMEWARD_DATA_KEYS",
    "HOMEWARD_VAPID_PRIVATE_KEY",
    "HOMEWARD_AUDIT_KEY",
    "HOMEWARD_BACKUP_KEY",
    "PGPASSWORD",
    "POSTGRES_PASSWORD",
}


def resolve(args: list[str]) -> click.Command:
    """The `homeward` command that `args` names; fails on an unknown command or option."""
    from webapp.cli import main

    command: click.Command = main
    words = list(args)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        name = words.pop(0)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"`homeward {' '.join(args)}`: no command {name!r}"
        command = sub
    options = {opt for p in command.params for opt in p.opts}
    for word in words:
        if word.startswith("-"):
            assert word in options, f"`homeward {' '.join(args)}`: no option {word}"
    return command


def test_the_services_of_the_multi_server_topology():
    assert set(SERVICES) >= {"db", "redis", "migrate", "app-a", "app-b", "dispatcher", "proxy"}
    assert SERVICES["app-a"]["command"][0] == "serve"
    assert SERVICES["app-b"]["command"][0] == "serve"
    assert SERVICES["dispatcher"]["command"][:2] == ["reminders", "run"]
    assert SERVICES["migrate"]["command"] == ["init-db"]
    assert SERVICES["migrate"]["restart"] == "no"


def test_everyone_waits_for_what_they_need():
    for name in ("app-a", "app-b", "dispatcher"):
        needs = SERVICES[name]["depends_on"]
        assert needs["db"]["condition"] == "service_healthy", name
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for app in ("app-a", "app-b"):
        assert SERVICES["proxy"]["depends_on"][app]["condition"] == "service_healthy"


def test_health_checks():
    for name in ("db", "redis", "app-a", "app-b", "proxy"):
        check = SERVICES[name]["healthcheck"]
        assert not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    for app in ("app-a", "app-b"):
        assert any("/healthz" in part for part in SERVICES[app]["healthcheck"]["test"])
    # No port to check: the image's HEALTHCHECK must be off, not failing forever.
    assert SERVICES["migrate"]["healthcheck"]["disable"] is True
    assert SERVICES["dispatcher"]["healthcheck"]["disable"] is True


def test_no_secret_is_written_in_the_compose_file():
    declared = COMPOSE["secrets"]
    for name, service in SERVICES.items():
        env = service.get("environment", {})
        for var in SECRET_VARS:
            assert var not in env, f"{name}: {var} inline; use {var}_FILE and a secret"
        for var, value in env.items():
            if var.endswith("_FILE"):
                assert str(value).startswith("/run/secrets/"), (name, var)
                assert Path(value).name in service["secrets"], (name, var)
        if "DATABASE_URL" in env:
            assert make_url(env["DATABASE_URL"]).password is None, f"{name}: password in URL"
        for secret in service.get("secrets", []):
            assert secret in declared, f"{name}: secret {secret} is not declared"
    for name, source in declared.items():
        # From a file kept out of git (or the environment), never a literal.
        assert set(source) <= {"file", "environment"}, name
        if "file" in source:
            assert source["file"].startswith("./secrets/"), name
    ignored = (ROOT / ".gitignore").read_text() + (ROOT / ".dockerignore").read_text()
    assert "secrets/" in ignored


def test_app_servers_run_in_production_behind_the_proxy_only():
    proxy_address = SERVICES["proxy"]["networks"]["backend"]["ipv4_address"]
    for name in HOMEWARD:
        env = SERVICES[name]["environment"]
        assert env["HOMEWARD_ENV"] == "production", name
        assert env["HOMEWARD_TRUSTED_PROXIES"] == proxy_address, name
        assert env["HOMEWARD_DISPATCHER"] == "separate", name  # only the dispatcher sends
        assert env["HOMEWARD_RATELIMIT_STORAGE_URI"].startswith("redis://"), name
    # Only the proxy is published; the app servers are reachable through it alone.
    published = [name for name, s in SERVICES.items() if s.get("ports")]
    assert published == ["proxy"]


def test_every_command_the_containers_run_exists():
    for name in HOMEWARD:
        resolve(SERVICES[name]["command"])
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)
    resolve(yaml.safe_load(cmd[1]))
    with pytest.raises(AssertionError):
        resolve(["serve", "--no-such-option"])
    with pytest.raises(AssertionError):
        resolve(["reminders", "walk"])


def test_the_image_runs_as_a_non_root_user_with_a_health_check():
    assert re.search(r"^FROM python:3\.11-slim", DOCKERFILE, re.M)
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    healthcheck = re.search(r"^HEALTHCHECK .*\n(.*\n)*?.*CMD .*", DOCKERFILE, re.M)[0]
    assert "/healthz" in healthcheck
    assert 'ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]' in DOCKERFILE
    assert "HOST=0.0.0.0" in DOCKERFILE  # `homeward serve` listens on 127.0.0.1 by default
    for path in re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE, re.M):
        assert (ROOT / path).exists(), f"COPY {path}: not in the repository"


def run_entrypoint(tmp_path: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """The entry point with a stand-in `homeward` that prints what it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "homeward"
    fake.write_text('#!/bin/sh\necho "args=$*"\nenv | grep -E "^(SECRET_KEY|PGPASSWORD)" | sort\n')
    fake.chmod(0o755)
    return subprocess.run(
        [str(ENTRYPOINT), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=10,
    )


def test_the_entrypoint_reads_secrets_from_files(tmp_path):
    (tmp_path / "key").write_text("s3cr3t-from-a-file\n")
    (tmp_path / "pw").write_text("pg-pass")
    done = run_entrypoint(
        tmp_path,
        {"SECRET_KEY_FILE": str(tmp_path / "key"), "PGPASSWORD_FILE": str(tmp_path / "pw")},
        "serve",
        "--workers",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "args=serve --workers 2",
        "PGPASSWORD=pg-pass",
        "SECRET_KEY=s3cr3t-from-a-file",
    ]


def test_the_entrypoint_refuses_a_secret_set_twice_or_unreadable(tmp_path):
    (tmp_path / "key").write_text("value-in-the-file")
    both = run_entrypoint(tmp_path, {"SECRET_KEY": "two", "SECRET_KEY_FILE": str(tmp_path / "key")})
    assert both.returncode == 1 and "Both SECRET_KEY and SECRET_KEY_FILE" in both.stderr
    gone = run_entrypoint(tmp_path, {"SECRET_KEY_FILE": str(tmp_path / "nope")})
    assert gone.returncode == 1 and "cannot be read" in gone.stderr
    assert "value-in-the-file" not in both.stderr + gone.stderr


def test_the_entrypoint_knows_every_secret_the_compose_file_passes():
    handled = set(
        re.search(r"for var in ([^;]+);", ENTRYPOINT.read_text())[1].replace("\\", " ").split()
    )
    for name in HOMEWARD:
        for var in SERVICES[name]["environment"]:
            if var.endswith("_FILE"):
                assert var.removesuffix("_FILE") in handled, var


def proxy_headers(conf: str) -> dict[str, str]:
    return dict(re.findall(r"proxy_set_header (X-Forwarded-\S+) (\S+);", conf))


def test_the_proxy_forwards_what_the_production_e2e_proxy_forwards():
    from tests.e2e.test_production_tls import nginx_conf

    tested = nginx_conf(Path("/x"), 1, 2, "$proxy_add_x_forwarded_for")
    assert proxy_headers(NGINX_CONF) == proxy_headers(tested)
    sizes = lambda conf: re.findall(r"client_max_body_size (\S+);", conf)  # noqa: E731
    assert sorted(sizes(NGINX_CONF)) == sorted(sizes(tested))
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in NGINX_CONF


def test_nginx_accepts_the_proxy_configuration(tmp_path):
    nginx = os.environ.get("HOMEWARD_NGINX", shutil.which("nginx") or "/usr/sbin/nginx")
    if not Path(nginx).exists():
        pytest.fail(f"nginx not found at {nginx}: apt-get install nginx (or set HOMEWARD_NGINX)")
    from tests.e2e.test_production_tls import self_signed

    self_signed(tmp_path)
    # The compose network's names do not resolve here: the same file with local addresses.
    conf = (
        NGINX_CONF.replace("app-a:5000", "127.0.0.1:5001")
        .replace("app-b:5000", "127.0.0.1:5002")
        .replace("/run/secrets/tls_certificate", str(tmp_path / "cert.pem"))
        .replace("/run/secrets/tls_private_key", str(tmp_path / "key.pem"))
    )
    (tmp_path / "nginx.conf").write_text(conf)
    done = subprocess.run(
        [
            nginx,
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-e",
            "stderr",
            "-g",
            f"pid {tmp_path}/nginx.pid;",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
