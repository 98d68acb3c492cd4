"""Field encryption: tokens, tamper detection, rotation and key loading (webapp.crypto)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import stat
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.crypto import (
    CryptoError,
    DecryptionError,
    FieldCipher,
    KeyConfigError,
    MissingKeyError,
    add_key_to_file,
    encode_key,
    generate_key,
    load_cipher,
    parse_keys_env,
)

AAD = b"interview:0b6c9f3e-5d7a-4c1e-9a1b-2f3c4d5e6f70:content"
K1 = bytes(range(32))
K2 = bytes(range(100, 132))
TOKEN_RE = re.compile(r"hw1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}")


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def b64url(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher({"k1": K1}, "k1")


def write_key_file(instance, keys: dict[str, bytes], active: str) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    doc = {"active": active, "keys": {kid: b64(key) for kid, key in keys.items()}}
    (instance / "data-keys.json").write_text(json.dumps(doc))


# --- tokens ---------------------------------------------------------------------------------


def test_round_trip(cipher):
    token = cipher.encrypt(b"I stayed at a friend's flat", AAD)
    assert cipher.decrypt(token, AAD) == b"I stayed at a friend's flat"


def test_token_format_is_ascii_and_names_the_key(cipher):
    token = cipher.encrypt(b"x", AAD)
    assert token.isascii()
    assert TOKEN_RE.fullmatch(token)
    assert "=" not in token
    assert token.split(".")[1] == "k1"
    assert len(unb64url(token.split(".")[2])) == 12


def test_empty_plaintext_round_trips(cipher):
    assert cipher.decrypt(cipher.encrypt(b"", AAD), AAD) == b""


def test_fresh_nonce_every_call(cipher):
    tokens = {cipher.encrypt(b"same words", AAD) for _ in range(50)}
    assert len(tokens) == 50
    assert len({t.split(".")[2] for t in tokens}) == 50


def test_wrong_aad_fails(cipher):
    token = cipher.encrypt(b"secret", b"interview:A:content")
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, b"interview:B:content")
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, b"interview:A:summary")
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, b"")


@pytest.mark.parametrize("index", [0, 5, -1])
def test_flipped_ciphertext_byte_fails(cipher, index):
    token = cipher.encrypt(b"some words the child said", AAD)
    head, body = token.rsplit(".", 1)
    raw = bytearray(unb64url(body))
    raw[index] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt(f"{head}.{b64url(bytes(raw))}", AAD)


def test_flipped_nonce_byte_fails(cipher):
    token = cipher.encrypt(b"words", AAD)
    version, kid, nonce, body = token.split(".")
    raw = bytearray(unb64url(nonce))
    raw[0] ^= 0x80
    with pytest.raises(DecryptionError):
        cipher.decrypt(f"{version}.{kid}.{b64url(bytes(raw))}.{body}", AAD)


def test_key_id_is_authenticated():
    # Two ids for the same key: relabelling a token must still fail, because the id is in the AAD.
    both = FieldCipher({"k1": K1, "k2": K1}, "k1")
    token = both.encrypt(b"words", AAD)
    relabelled = token.replace("hw1.k1.", "hw1.k2.", 1)
    with pytest.raises(DecryptionError):
        both.decrypt(relabelled, AAD)


def test_wrong_key_fails():
    token = FieldCipher({"k1": K1}, "k1").encrypt(b"words", AAD)
    with pytest.raises(DecryptionError):
        FieldCipher({"k1": K2}, "k1").decrypt(token, AAD)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "hw1",
        "hw1.k1.abc",
        "hw2.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "hw1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.extra",
        "hw1.k!.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "hw1..AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "hw1.k1.AAAA AAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "hw1.k1.AAAAAAAAAAAAAAAA=.AAAAAAAAAAAAAAAAAAAAAA",
        "hw1.k1.AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",  # 9-byte nonce
        "hw1.k1.AAAAAAAAAAAAAAAA.AAAA",  # shorter than the tag
        "hw1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAB",  # non-canonical trailing bits
        "hw1.k1.ÄAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_malformed_token_fails(cipher, token):
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, AAD)
    # Rejected by parsing alone, not just by the tag check.
    with pytest.raises(DecryptionError):
        cipher.key_id_of(token)


def test_unknown_key_id_is_missing_key(cipher):
    other = FieldCipher({"k9": K2}, "k9")
    token = other.encrypt(b"words", AAD)
    with pytest.raises(MissingKeyError, match="k9"):
        cipher.decrypt(token, AAD)
    # Reporting does not need the key.
    assert cipher.key_id_of(token) == "k9"


def test_aad_and_plaintext_must_be_bytes(cipher):
    with pytest.raises(TypeError):
        cipher.encrypt(b"x", "interview:1:content")
    with pytest.raises(TypeError):
        cipher.encrypt("x", AAD)
    with pytest.raises(TypeError):
        cipher.decrypt(None, AAD)


def test_canary_never_appears_in_token(cipher):
    canary = b"CANARY-7f3a9c21-Jessica-Smith-born-2011-06-14"
    token = cipher.encrypt(canary, AAD)
    assert canary.decode() not in token
    for part in token.split("."):
        assert canary.decode() not in part
        try:
            decoded = unb64url(part)
        except ValueError:
            continue
        assert canary not in decoded
        assert canary[:16] not in decoded
    assert b"Jessica" not in unb64url(token.split(".")[3])


def test_json_round_trip_unicode(cipher):
    value = {
        "name": "Zoë Ørsted-Łukasiewicz",
        "said": "Я не хотів повертатися 🏠",
        "tags": ["ünïcödé", "中文", None, True, 3, 2.5],
        "nested": {"empty": [], "emoji": "👧🏽"},
    }
    token = cipher.encrypt_json(value, AAD)
    assert token.isascii()
    assert cipher.decrypt_json(token, AAD) == value
    # Compact, non-ASCII-escaped JSON is what got sealed.
    assert cipher.decrypt(token, AAD) == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def test_decrypt_json_of_non_json_value(cipher):
    token = cipher.encrypt(b"\xff\xfe not json", AAD)
    with pytest.raises(DecryptionError):
        cipher.decrypt_json(token, AAD)


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=4096), aad=st.binary(max_size=512))
def test_round_trip_property(plaintext, aad):
    cipher = FieldCipher({"k1": K1, "old": K2}, "k1")
    token = cipher.encrypt(plaintext, aad)
    assert token.isascii()
    assert TOKEN_RE.fullmatch(token)
    assert cipher.decrypt(token, aad) == plaintext


@settings(max_examples=100, deadline=None)
@given(aad=st.binary(max_size=64), other=st.binary(max_size=64))
def test_different_aad_never_decrypts_property(aad, other):
    if aad == other:
        return
    cipher = FieldCipher({"k1": K1}, "k1")
    with pytest.raises(DecryptionError):
        cipher.decrypt(cipher.encrypt(b"words", aad), other)


# --- keyring and rotation ---------------------------------------------------------------------


def test_rotation():
    old = FieldCipher({"k1": K1}, "k1")
    old_token = old.encrypt(b"before rotation", AAD)

    ring = FieldCipher({"k1": K1, "k2": K2}, "k2")
    assert ring.active_key_id == "k2"
    assert ring.decrypt(old_token, AAD) == b"before rotation"
    assert ring.key_id_of(old_token) == "k1"
    assert ring.needs_rotation(old_token)

    new_token = ring.rotate(old_token, AAD)
    assert ring.key_id_of(new_token) == "k2"
    assert not ring.needs_rotation(new_token)
    assert ring.decrypt(new_token, AAD) == b"before rotation"
    # The retired key alone can no longer read it.
    with pytest.raises(MissingKeyError):
        old.decrypt(new_token, AAD)

    assert ring.encrypt(b"new", AAD).startswith("hw1.k2.")
    # Already current: unchanged, so a rotation job can skip the write.
    assert ring.rotate(new_token, AAD) == new_token


def test_rotate_refuses_tampered_or_wrong_context():
    old_token = FieldCipher({"k1": K1}, "k1").encrypt(b"words", AAD)
    ring = FieldCipher({"k1": K1, "k2": K2}, "k2")
    with pytest.raises(DecryptionError):
        ring.rotate(old_token, b"interview:other:content")
    current = ring.encrypt(b"words", AAD)
    with pytest.raises(DecryptionError):
        ring.rotate(current, b"interview:other:content")


def test_active_key_must_be_in_ring():
    with pytest.raises(MissingKeyError):
        FieldCipher({"k1": K1}, "k2")
    with pytest.raises(MissingKeyError):
        FieldCipher({}, "k1")


@pytest.mark.parametrize("kid", ["", "a" * 33, "k.1", "k 1", "k:1", "kö", "k/1"])
def test_bad_key_id_is_value_error(kid):
    with pytest.raises(ValueError):
        FieldCipher({kid: K1}, kid)


def test_longest_key_id_is_accepted():
    kid = "A-z_9" + "x" * 27
    cipher = FieldCipher({kid: K1}, kid)
    assert cipher.key_id_of(cipher.encrypt(b"x", AAD)) == kid


@pytest.mark.parametrize("length", [0, 16, 24, 31, 33, 64])
def test_key_must_be_32_bytes(length):
    with pytest.raises(ValueError):
        FieldCipher({"k1": b"\x01" * length}, "k1")


def test_key_must_be_bytes():
    with pytest.raises(TypeError):
        FieldCipher({"k1": b64(K1)}, "k1")


def test_repr_and_pickle_do_not_leak_keys():
    cipher = FieldCipher({"k1": K1, "k2": K2}, "k2")
    text = repr(cipher)
    assert "k1" in text and "k2" in text
    for key in (K1, K2):
        assert b64(key) not in text and key.hex() not in text and repr(key) not in text
    with pytest.raises(TypeError):
        pickle.dumps(cipher)


def test_generate_key():
    a, b = generate_key(), generate_key()
    assert len(a) == 32 and len(b) == 32 and a != b


# --- HOMEWARD_DATA_KEYS -----------------------------------------------------------------------


def test_parse_keys_env_good():
    value = f" k1 : {b64(K1)} ,\n  k2:{b64url(K2)} , "
    keys = parse_keys_env(value)
    assert keys == {"k1": K1, "k2": K2}
    assert list(keys) == ["k1", "k2"]


def test_parse_keys_env_accepts_unpadded_and_urlsafe():
    # A key whose base64 contains +/ in standard form and -_ in URL-safe form.
    key = bytes([0xFB, 0xFF, 0xBF] * 10 + [0xFB, 0xFF])
    assert "+" in b64(key) or "/" in b64(key)
    assert parse_keys_env(f"a:{b64(key)}") == {"a": key}
    assert parse_keys_env(f"a:{b64(key).rstrip('=')}") == {"a": key}
    assert parse_keys_env(f"a:{b64url(key)}") == {"a": key}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "no keys"),
        ("  ", "no keys"),
        ("k1:{k1},,k2:{k2}", "entry 2"),
        ("{k1}", "entry 1"),
        ("k1:{k1},{k2}", "entry 2"),
        ("bad id!:{k1}", "entry 1"),
        ("k1:{k1},k1:{k2}", "twice"),
        ("k1:{short}", "16 bytes"),
        ("k1:{long}", "48 bytes"),
        ("k1:{hex}", "entry 1"),
        ("k1:{k1}*", "base64"),
        ("k1:", "entry 1"),
    ],
)
def test_parse_keys_env_bad(value, fragment):
    material = {
        "k1": b64(K1),
        "k2": b64(K2),
        "short": b64(K1[:16]),
        "long": b64(K1 + K2[:16]),
        "hex": K1.hex(),
    }
    with pytest.raises(ValueError) as info:
        parse_keys_env(value.format(**material))
    message = str(info.value)
    assert fragment in message
    assert isinstance(info.value, CryptoError)
    for text in material.values():
        assert text not in message
        assert text[:12] not in message


# --- load_cipher ------------------------------------------------------------------------------


def test_env_wins_over_file(tmp_path):
    write_key_file(tmp_path, {"file1": K1}, "file1")
    cipher = load_cipher(
        {"HOMEWARD_DATA_KEYS": f"e1:{b64(K1)},e2:{b64(K2)}"}, tmp_path, allow_generate=True
    )
    assert cipher.active_key_id == "e2"  # the last listed
    assert set(cipher.key_ids) == {"e1", "e2"}


def test_env_active_key_id(tmp_path):
    env = {"HOMEWARD_DATA_KEYS": f"e1:{b64(K1)},e2:{b64(K2)}", "HOMEWARD_ACTIVE_KEY_ID": " e1 "}
    assert load_cipher(env, tmp_path, allow_generate=False).active_key_id == "e1"
    env["HOMEWARD_ACTIVE_KEY_ID"] = ""
    assert load_cipher(env, tmp_path, allow_generate=False).active_key_id == "e2"
    env["HOMEWARD_ACTIVE_KEY_ID"] = "e3"
    with pytest.raises(MissingKeyError):
        load_cipher(env, tmp_path, allow_generate=False)


def test_blank_env_is_an_error_not_a_fallback(tmp_path):
    write_key_file(tmp_path, {"file1": K1}, "file1")
    with pytest.raises(CryptoError):
        load_cipher({"HOMEWARD_DATA_KEYS": " "}, tmp_path, allow_generate=True)


def test_file_wins_over_generate(tmp_path):
    write_key_file(tmp_path, {"f1": K1, "f2": K2}, "f1")
    cipher = load_cipher({}, tmp_path, allow_generate=True)
    assert cipher.active_key_id == "f1"
    assert set(cipher.key_ids) == {"f1", "f2"}
    # Same key as written: a token from an equivalent cipher opens.
    token = FieldCipher({"f1": K1}, "f1").encrypt(b"x", AAD)
    assert cipher.decrypt(token, AAD) == b"x"


def test_nothing_configured_and_no_generation(tmp_path):
    instance = tmp_path / "instance"
    with pytest.raises(MissingKeyError, match="HOMEWARD_DATA_KEYS"):
        load_cipher({}, instance, allow_generate=False)
    assert not instance.exists()


def test_generate_creates_private_file_and_reuses_it(tmp_path):
    instance = tmp_path / "nested" / "instance"
    first = load_cipher({}, instance, allow_generate=True)
    path = instance / "data-keys.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    kid = first.active_key_id
    assert re.fullmatch(r"k\d{8}", kid)
    day = datetime.strptime(kid[1:], "%Y%m%d").replace(tzinfo=UTC).date()
    today = datetime.now(UTC).date()
    assert day in (today, today - timedelta(days=1))

    doc = json.loads(path.read_text())
    assert doc["active"] == kid
    assert len(base64.b64decode(doc["keys"][kid])) == 32

    token = first.encrypt(b"demo data", AAD)
    second = load_cipher({}, instance, allow_generate=True)
    assert second.active_key_id == kid
    assert second.decrypt(token, AAD) == b"demo data"
    assert json.loads(path.read_text()) == doc
    # Once the file exists, it is used even where generation is not allowed.
    assert load_cipher({}, instance, allow_generate=False).decrypt(token, AAD) == b"demo data"


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json",
        "[]",
        '{"active": "k1"}',
        '{"active": "k1", "keys": {}}',
        '{"active": "k1", "keys": []}',
        '{"active": "k2", "keys": {"k1": "%(k1)s"}}',
        '{"keys": {"k1": "%(k1)s"}}',
        '{"active": "k1", "keys": {"k1": "%(short)s"}}',
        '{"active": "k1", "keys": {"k1": "!!!"}}',
        '{"active": "k1", "keys": {"k1": 42}}',
        '{"active": "bad id", "keys": {"bad id": "%(k1)s"}}',
    ],
)
def test_malformed_file_is_an_error_and_is_kept(tmp_path, content):
    content = content % {"k1": b64(K1), "short": b64(K1[:8])}
    path = tmp_path / "data-keys.json"
    path.write_text(content)
    with pytest.raises(CryptoError) as info:
        load_cipher({}, tmp_path, allow_generate=True)
    assert b64(K1) not in str(info.value)
    assert path.read_text() == content  # never silently replaced


def test_unreadable_file_path_is_an_error(tmp_path):
    (tmp_path / "data-keys.json").mkdir()
    with pytest.raises(CryptoError):
        load_cipher({}, tmp_path, allow_generate=True)


def test_lost_generation_race_uses_the_winners_key(tmp_path, monkeypatch):
    # Another worker publishes its key file between our read and our create: we must adopt its
    # key, not overwrite it and not fail.
    import webapp.crypto as crypto

    real_new_key_id = crypto._new_key_id

    def racing_new_key_id(*args):
        write_key_file(tmp_path, {"winner": K2}, "winner")
        return real_new_key_id(*args)

    monkeypatch.setattr(crypto, "_new_key_id", racing_new_key_id)
    cipher = load_cipher({}, tmp_path, allow_generate=True)
    assert cipher.active_key_id == "winner"
    assert json.loads((tmp_path / "data-keys.json").read_text())["keys"] == {"winner": b64(K2)}
    assert [p.name for p in tmp_path.iterdir()] == ["data-keys.json"]


def test_generate_without_hard_links(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise PermissionError("hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    first = load_cipher({}, tmp_path, allow_generate=True)
    assert stat.S_IMODE(os.stat(tmp_path / "data-keys.json").st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["data-keys.json"]
    assert load_cipher({}, tmp_path, allow_generate=False).key_ids == first.key_ids


# --- add_key_to_file --------------------------------------------------------------------------


def test_add_key_to_file_rotates_and_keeps_old_keys(tmp_path):
    first = load_cipher({}, tmp_path, allow_generate=True)
    old_token = first.encrypt(b"old value", AAD)

    kid = add_key_to_file(tmp_path)
    assert kid != first.active_key_id
    path = tmp_path / "data-keys.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    ring = load_cipher({}, tmp_path, allow_generate=False)
    assert ring.active_key_id == kid
    assert set(ring.key_ids) == {first.active_key_id, kid}
    assert ring.needs_rotation(old_token)
    assert ring.decrypt(ring.rotate(old_token, AAD), AAD) == b"old value"
    # No temporary files left behind.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "data-keys.json"
    ]


def test_add_key_to_file_staged(tmp_path):
    write_key_file(tmp_path, {"k1": K1}, "k1")
    kid = add_key_to_file(tmp_path, make_active=False)
    ring = load_cipher({}, tmp_path, allow_generate=False)
    assert ring.active_key_id == "k1"
    assert kid in ring.key_ids
    # A second key on the same day gets its own id.
    kid2 = add_key_to_file(tmp_path)
    assert kid2 != kid
    assert load_cipher({}, tmp_path, allow_generate=False).active_key_id == kid2


def test_add_key_to_file_creates_the_file(tmp_path):
    instance = tmp_path / "instance"
    kid = add_key_to_file(instance, make_active=False)
    cipher = load_cipher({}, instance, allow_generate=False)
    assert cipher.active_key_id == kid
    assert stat.S_IMODE(os.stat(instance / "data-keys.json").st_mode) == 0o600


def test_add_key_to_file_refuses_malformed_file(tmp_path):
    path = tmp_path / "data-keys.json"
    path.write_text("{oops")
    with pytest.raises(CryptoError):
        add_key_to_file(tmp_path)
    assert path.read_text() == "{oops"


def test_encode_key_round_trips_through_env_parser():
    assert parse_keys_env(f"k1:{encode_key(K1)}") == {"k1": K1}


def test_key_config_error_is_both_value_and_crypto_error():
    assert issubclass(KeyConfigError, ValueError)
    assert issubclass(KeyConfigError, CryptoError)
    assert issubclass(MissingKeyError, CryptoError)
    assert issubclass(DecryptionError, CryptoError)
