"""`make test` on a fresh machine: scripts/system-deps.sh installs Debian's Chromium, nginx,
Node.js and npm when they are missing (as root), or says exactly what to run (anyone else).

Run for real, with a PATH from which the tools are hidden and apt-get and id replaced by stubs
that record what they were asked: nothing is installed or removed on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-deps.sh"


@pytest.fixture
def machine(tmp_path):
    """A bin folder holding every command of /usr/bin but those hidden, and a stub apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt-get.log"

    def make(hidden=(), uid=0):
        for entry in bin_dir.iterdir():
            entry.unlink()
        for tool in Path("/usr/bin").iterdir():
            if tool.name not in hidden and tool.name not in ("apt-get", "id"):
                (bin_dir / tool.name).symlink_to(tool)
        stub = bin_dir / "apt-get"
        stub.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
        stub.chmod(0o755)
        id_stub = bin_dir / "id"
        id_stub.write_text(f"#!/bin/sh\necho {uid}\n")
        id_stub.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
        # /usr/sbin stays out too, but the script looks there for nginx itself (Debian's place).
        env |= {"PATH": str(bin_dir), "PYTHON": sys.executable}
        return env

    make.log = log
    return make


def run(env):
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def test_nothing_is_installed_when_everything_is_there(machine):
    result = run(machine())
    assert result.returncode == 0, result.stderr
    assert not machine.log.exists()


def test_as_root_a_missing_chromium_is_installed_from_debian_after_an_update(machine):
    result = run(machine(hidden=("chromium", "npm")))
    assert result.returncode == 0, result.stderr
    assert machine.log.read_text().splitlines() == [
        "update -qq",
        "install -y chromium npm -qq",
    ]
    assert "chromium npm" in result.stdout


def test_anyone_else_is_told_the_exact_command_and_the_target_fails(machine):
    result = run(machine(hidden=("chromium",), uid=1000))
    assert result.returncode != 0
    assert "apt-get update && apt-get install -y chromium" in result.stderr
    assert not machine.log.exists()


def test_a_chromium_named_in_the_environment_must_exist(machine, tmp_path):
    env = machine() | {"HOMEWARD_CHROMIUM": str(tmp_path / "no-such-chromium")}
    result = run(env)
    assert result.returncode != 0 and "HOMEWARD_CHROMIUM" in result.stderr
