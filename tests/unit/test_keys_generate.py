"""`homeward keys generate` says truthfully when the new key is in use; the key file helpers.

Each message is checked against what the app would really do: load_cipher, as create_app calls
it at start, with the same environment and instance folder.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from webapp import crypto
from webapp.cli import main


def generate(instance, **extra):
    env = {
        "HOMEWARD_INSTANCE_PATH": str(instance),
        crypto.ENV_KEYS: None,
        crypto.ENV_ACTIVE_KEY_ID: None,
    } | extra
    result = CliRunner().invoke(main, ["keys", "generate"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def active_in_file(instance) -> str:
    return json.loads((instance / crypto.KEY_FILE_NAME).read_text())["active"]


def test_first_key_is_used_from_the_next_start(tmp_path):
    out = generate(tmp_path)
    kid = active_in_file(tmp_path)
    assert f"Created {tmp_path / crypto.KEY_FILE_NAME} with data key {kid}" in out
    assert f"seals new values with {kid} from its next start" in out
    assert crypto.load_cipher({}, tmp_path, allow_generate=False).active_key_id == kid


def test_new_file_key_needs_a_restart_and_old_values_need_a_rotation(tmp_path):
    first = crypto.add_key_to_file(tmp_path)
    running = crypto.load_cipher({}, tmp_path, allow_generate=False)  # a server already up
    old_token = running.encrypt(b"x", b"aad")

    out = generate(tmp_path)
    kid = active_in_file(tmp_path)
    assert f"Added data key {kid}" in out and f"made it the active key (was {first})" in out
    assert f"keeps sealing new values with {first} until it is restarted" in out
    assert f"After the restart new values are sealed with {kid}" in out
    assert "stay under their old key (still readable) until `homeward keys rotate`" in out
    assert crypto.ENV_ACTIVE_KEY_ID not in out

    # True: the running server still seals with the old key; a restarted one with the new,
    # and it still reads the old values.
    assert running.key_id_of(running.encrypt(b"y", b"aad")) == first
    restarted = crypto.load_cipher({}, tmp_path, allow_generate=False)
    assert restarted.key_id_of(restarted.encrypt(b"y", b"aad")) == kid
    assert restarted.decrypt(old_token, b"aad") == b"x"


def test_active_key_id_alone_is_ignored_with_the_file_and_said_so(tmp_path):
    crypto.add_key_to_file(tmp_path)
    out = generate(tmp_path, **{crypto.ENV_ACTIVE_KEY_ID: "elsewhere"})
    assert f"{crypto.ENV_ACTIVE_KEY_ID} is set but only applies with {crypto.ENV_KEYS}" in out
    environ = {crypto.ENV_ACTIVE_KEY_ID: "elsewhere"}
    cipher = crypto.load_cipher(environ, tmp_path, allow_generate=False)
    assert cipher.active_key_id == active_in_file(tmp_path)


def test_with_keys_from_the_environment_the_file_key_is_not_used(tmp_path):
    env_key = crypto.encode_key(crypto.generate_key())
    environ = {crypto.ENV_KEYS: f"envkey:{env_key}"}
    out = generate(tmp_path, **environ)
    kid = active_in_file(tmp_path)
    assert f"Added data key {kid}" in out and "but it is NOT in use" in out
    assert f"copy it from the file into {crypto.ENV_KEYS}" in out
    assert f"{crypto.ENV_ACTIVE_KEY_ID}={kid}" in out and "restart" in out
    assert (
        env_key not in out
        and json.loads((tmp_path / crypto.KEY_FILE_NAME).read_text())["keys"][kid] not in out
    )  # no key material on the terminal
    # True: the app started with that environment never sees the new key.
    cipher = crypto.load_cipher(environ, tmp_path, allow_generate=False)
    assert cipher.key_ids == ("envkey",) and cipher.active_key_id == "envkey"


def test_remove_key_from_file(tmp_path):
    old = crypto.add_key_to_file(tmp_path)
    new = crypto.add_key_to_file(tmp_path)
    with pytest.raises(crypto.KeyConfigError, match="active key"):
        crypto.remove_key_from_file(tmp_path, new)
    with pytest.raises(crypto.KeyConfigError, match="not in"):
        crypto.remove_key_from_file(tmp_path, "nope")
    crypto.remove_key_from_file(tmp_path, old)
    keys, active = crypto.read_key_file(tmp_path)
    assert list(keys) == [new] and active == new
    assert oct((tmp_path / crypto.KEY_FILE_NAME).stat().st_mode & 0o777) == "0o600"


def test_read_key_file_without_a_file(tmp_path):
    assert crypto.read_key_file(tmp_path) is None
    with pytest.raises(crypto.KeyConfigError, match="no key file"):
        crypto.remove_key_from_file(tmp_path, "k1")
