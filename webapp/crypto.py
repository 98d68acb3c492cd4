"""Server-side field encryption for special-category personal data (AES-256-GCM).

Each sealed value is a self-describing ASCII token::

    hw1.<key id>.<base64url nonce>.<base64url ciphertext+tag>

The key id travels in the token so values written before a key rotation stay readable, and it is
folded into the associated data so it cannot be swapped without breaking authentication. Callers
add their own context (e.g. ``b"interview:<uuid>:content"``) so a token copied into another row
or column fails to decrypt rather than showing one child's words on another child's record.

Deliberately free of Flask and SQLAlchemy: the app wires it in (``webapp.sealed``), and this
module stays unit-testable on its own.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from webapp import secretfile

try:  # POSIX only; without it add_key_to_file simply runs unlocked.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ENV_ACTIVE_KEY_ID",
    "ENV_KEYS",
    "KEY_FILE_NAME",
    "TOKEN_VERSION",
    "CryptoError",
    "DecryptionError",
    "FieldCipher",
    "KeyConfigError",
    "MissingKeyError",
    "add_key_to_file",
    "encode_key",
    "generate_key",
    "load_cipher",
    "parse_keys_env",
    "read_key_file",
    "remove_key_from_file",
]

TOKEN_VERSION = "hw1"  # noqa: S105  (a format tag, not a secret)
ENV_KEYS = "HOMEWARD_DATA_KEYS"
ENV_ACTIVE_KEY_ID = "HOMEWARD_ACTIVE_KEY_ID"
KEY_FILE_NAME = "data-keys.json"

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_KEY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
# Keys may come from any tool: standard or URL-safe alphabet, padded or not.
_B64_ANY_RE = re.compile(r"[A-Za-z0-9+/_-]+")
_WHITESPACE_RE = re.compile(r"\s+")
_KEY_HINT = "generate one with `homeward keys generate` or base64 of os.urandom(32)"
# How long a process that lost the race to create the key file waits for the winner to finish
# writing it (several gunicorn workers can start at once on a fresh demo instance).
_RACE_WAIT_SECONDS = 2.0


class CryptoError(Exception):
    """Base class for every error raised by this module."""


class MissingKeyError(CryptoError):
    """No key is configured where one is required, or a token names a key id we do not hold."""


class DecryptionError(CryptoError):
    """The token is malformed, was tampered with, or was sealed with other associated data."""


class KeyConfigError(CryptoError, ValueError):
    """Key configuration is malformed (bad key id, key length, env value or key file).

    Both a ValueError (what callers validating input expect) and a CryptoError (what startup
    code catches). Messages never contain key material.
    """


def _is_key_id(value: object) -> bool:
    return isinstance(value, str) and _KEY_ID_RE.fullmatch(value) is not None


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL_VALUES = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
# The last character's bits that no byte uses, by the text's length mod 4: zero when canonical.
_UNUSED_BITS = {2: 0b1111, 3: 0b11}


def _b64url_decode_strict(text: str) -> bytes:
    # Strict and canonical: each token has exactly one spelling, and junk characters are
    # rejected instead of silently skipped as binascii would. Canonical is checked on the last
    # character's unused bits rather than by encoding the bytes again: every sealed value read
    # parses two of these (a fifth of a full pull's decrypting went on it).
    if _B64URL_RE.fullmatch(text) is None or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    unused = _UNUSED_BITS.get(len(text) % 4)
    if unused and _B64URL_VALUES[text[-1]] & unused:
        raise ValueError("non-canonical base64url")
    raw = text.encode("ascii")
    return binascii.a2b_base64(raw.translate(_FROM_URLSAFE) + b"=" * (-len(raw) % 4))


def _decode_key_text(text: str) -> bytes:
    """Decode a key written in standard or URL-safe base64, padded or not.

    Raises ValueError with a message safe to show: it describes the problem, never the text.
    """
    compact = _WHITESPACE_RE.sub("", text).rstrip("=")
    if _B64_ANY_RE.fullmatch(compact) is None or len(compact) % 4 == 1:
        raise ValueError(f"key is not valid base64 ({_KEY_HINT})")
    standard = compact.replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"key is not valid base64 ({_KEY_HINT})") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"key decodes to {len(key)} bytes, expected {KEY_BYTES} ({_KEY_HINT})")
    return key


def encode_key(key: bytes) -> str:
    """Standard base64 of a key, the spelling written to data-keys.json."""
    return base64.b64encode(key).decode("ascii")


def generate_key() -> bytes:
    """A fresh random AES-256 key."""
    return os.urandom(KEY_BYTES)


class FieldCipher:
    """Encrypts and decrypts single field values with AES-256-GCM under a keyring.

    New values are always sealed with the active key; any key in the ring can open old values.
    Random 96-bit nonces keep the collision risk negligible up to about 2**32 values per key,
    far beyond this service's volume, and rotation resets the count anyway.
    """

    __slots__ = ("_active_key_id", "_aeads")

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        aeads: dict[str, AESGCM] = {}
        for kid, key in keys.items():
            if not _is_key_id(kid):
                # Describe rather than echo: a key pasted into the id slot must not reach logs.
                raise KeyConfigError("key ids must be 1-32 characters of A-Z a-z 0-9 _ -")
            if not isinstance(key, bytes | bytearray | memoryview):
                raise TypeError(f"key {kid!r} must be bytes (decode the base64 first)")
            raw = bytes(key)
            if len(raw) != KEY_BYTES:
                raise KeyConfigError(
                    f"key {kid!r} is {len(raw)} bytes; AES-256 needs exactly {KEY_BYTES}"
                )
            aeads[kid] = AESGCM(raw)
        if not isinstance(active_key_id, str) or active_key_id not in aeads:
            shown = repr(active_key_id) if _is_key_id(active_key_id) else "(invalid id)"
            raise MissingKeyError(
                f"active key id {shown} is not among the configured keys "
                f"({', '.join(aeads) or 'none'})"
            )
        self._aeads = aeads
        self._active_key_id = active_key_id

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._aeads)

    def __repr__(self) -> str:
        # Never the keys: a repr ends up in tracebacks and debug pages.
        return f"FieldCipher(active_key_id={self._active_key_id!r}, key_ids={list(self._aeads)!r})"

    def __reduce__(self) -> Any:
        # Pickling would write raw key material to wherever the pickle goes (caches, queues).
        raise TypeError("FieldCipher holds key material and cannot be pickled")

    @staticmethod
    def _full_aad(kid: str, aad: bytes) -> bytes:
        if not isinstance(aad, bytes):
            raise TypeError("aad must be bytes, e.g. b'interview:<uuid>:content'")
        return b"%s|%s|%s" % (TOKEN_VERSION.encode("ascii"), kid.encode("ascii"), aad)

    @staticmethod
    def _parse(token: str) -> tuple[str, bytes, bytes]:
        if not isinstance(token, str):
            raise TypeError(f"token must be str, not {type(token).__name__}")
        parts = token.split(".")
        if len(parts) != 4:
            raise DecryptionError("malformed token: expected 4 dot-separated parts")
        version, kid, nonce_text, body_text = parts
        if version != TOKEN_VERSION:
            raise DecryptionError("malformed token: unsupported version")
        if not _is_key_id(kid):
            raise DecryptionError("malformed token: invalid key id")
        try:
            nonce = _b64url_decode_strict(nonce_text)
            body = _b64url_decode_strict(body_text)
        except ValueError:
            raise DecryptionError("malformed token: bad base64url") from None
        if len(nonce) != NONCE_BYTES:
            raise DecryptionError("malformed token: bad nonce length")
        if len(body) < TAG_BYTES:
            raise DecryptionError("malformed token: ciphertext shorter than the tag")
        return kid, nonce, body

    def encrypt(self, plaintext: bytes, aad: bytes) -> str:
        if not isinstance(plaintext, bytes | bytearray | memoryview):
            raise TypeError("plaintext must be bytes")
        kid = self._active_key_id
        nonce = os.urandom(NONCE_BYTES)
        body = self._aeads[kid].encrypt(nonce, bytes(plaintext), self._full_aad(kid, aad))
        return f"{TOKEN_VERSION}.{kid}.{_b64url_encode(nonce)}.{_b64url_encode(body)}"

    def decrypt(self, token: str, aad: bytes) -> bytes:
        kid, nonce, body = self._parse(token)
        full_aad = self._full_aad(kid, aad)
        aead = self._aeads.get(kid)
        if aead is None:
            raise MissingKeyError(
                f"value was sealed with key {kid!r}, which is not configured "
                f"(have: {', '.join(self._aeads)})"
            )
        try:
            return aead.decrypt(nonce, body, full_aad)
        except InvalidTag:
            # GCM cannot tell tampering from the wrong context; both mean "do not trust this".
            raise DecryptionError(
                "value failed authentication: tampered, or read with the wrong record/field"
            ) from None

    def encrypt_json(self, value: Any, aad: bytes) -> str:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return self.encrypt(text.encode("utf-8"), aad)

    def decrypt_json(self, token: str, aad: bytes) -> Any:
        plaintext = self.decrypt(token, aad)
        try:
            return json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            # Authentic but not JSON: sealed by encrypt() rather than encrypt_json().
            raise DecryptionError("decrypted value is not UTF-8 JSON") from None

    def key_id_of(self, token: str) -> str:
        """The key id a token was sealed with (the key need not be in this ring)."""
        return self._parse(token)[0]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self._active_key_id

    def rotate(self, token: str, aad: bytes) -> str:
        """Re-encrypt a value under the active key.

        The old token is always authenticated first, so rotation never launders a tampered
        value. A token already under the active key comes back unchanged, so a rotation job can
        skip writing rows whose token did not change.
        """
        plaintext = self.decrypt(token, aad)
        if not self.needs_rotation(token):
            return token
        return self.encrypt(plaintext, aad)


def parse_keys_env(value: str) -> dict[str, bytes]:
    """Parse HOMEWARD_DATA_KEYS: ``"kid1:<base64 key>,kid2:<base64 key>"``, in listed order.

    Raises KeyConfigError (a ValueError) naming the entry by position, and by key id once the
    id is known to be valid, never echoing key text.
    """
    if not isinstance(value, str):
        raise TypeError(f"{ENV_KEYS} must be a str")
    keys: dict[str, bytes] = {}
    entries = value.split(",")
    for position, entry in enumerate(entries, start=1):
        entry = entry.strip()
        if not entry:
            # A trailing comma is harmless; an empty entry in the middle is likely a paste error.
            if position == len(entries):
                continue
            raise KeyConfigError(f"{ENV_KEYS} entry {position} is empty")
        kid, sep, key_text = entry.partition(":")
        kid = kid.strip()
        if not sep:
            raise KeyConfigError(
                f"{ENV_KEYS} entry {position} has no ':' between key id and key "
                "(expected kid:<base64 key>)"
            )
        if not _is_key_id(kid):
            raise KeyConfigError(
                f"{ENV_KEYS} entry {position}: key id must be 1-32 characters of A-Z a-z 0-9 _ -"
            )
        if kid in keys:
            raise KeyConfigError(f"{ENV_KEYS} entry {position}: key id {kid!r} is listed twice")
        try:
            keys[kid] = _decode_key_text(key_text)
        except ValueError as exc:
            raise KeyConfigError(f"{ENV_KEYS} entry {position} ({kid!r}): {exc}") from None
    if not keys:
        raise KeyConfigError(f"{ENV_KEYS} is set but lists no keys")
    return keys


def _key_file(instance_path: str | os.PathLike) -> Path:
    return Path(instance_path) / KEY_FILE_NAME


def _read_key_file(path: Path) -> tuple[dict[str, bytes], str]:
    """Read and validate a key file. FileNotFoundError passes through; anything else is fatal."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyConfigError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyConfigError(
            f'key file {path} is not valid JSON (expected {{"active": ..., "keys": {{...}}}})'
        ) from None
    if not isinstance(doc, dict):
        raise KeyConfigError(f"key file {path} must hold a JSON object")
    entries = doc.get("keys")
    if not isinstance(entries, dict) or not entries:
        raise KeyConfigError(f'key file {path}: "keys" must be a non-empty object')
    keys: dict[str, bytes] = {}
    for position, (kid, key_text) in enumerate(entries.items(), start=1):
        if not _is_key_id(kid):
            raise KeyConfigError(
                f"key file {path}: key {position} has an invalid id "
                "(1-32 characters of A-Z a-z 0-9 _ -)"
            )
        if not isinstance(key_text, str):
            raise KeyConfigError(f"key file {path}: key {kid!r} must be a base64 string")
        try:
            keys[kid] = _decode_key_text(key_text)
        except ValueError as exc:
            raise KeyConfigError(f"key file {path}: key {kid!r}: {exc}") from None
    active = doc.get("active")
    if not isinstance(active, str) or active not in keys:
        raise KeyConfigError(f'key file {path}: "active" must name one of: {", ".join(keys)}')
    return keys, active


def _key_file_bytes(keys: Mapping[str, bytes], active: str) -> bytes:
    doc = {"active": active, "keys": {kid: encode_key(key) for kid, key in keys.items()}}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _new_key_id(existing: Mapping[str, object] | tuple[str, ...] = ()) -> str:
    base = "k" + datetime.now(UTC).strftime("%Y%m%d")
    kid, n = base, 2
    while kid in existing:
        kid, n = f"{base}-{n}", n + 1
    return kid


def _make_instance_dir(instance_path: str | os.PathLike) -> Path:
    directory = Path(instance_path)
    # 0o700 only applies when we create it; an existing folder keeps the operator's choice.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def _wait_for_key_file(path: Path) -> tuple[dict[str, bytes], str]:
    # Another process published the file first. It is complete when visible, unless we are on
    # the no-hard-link fallback, where it may still be being written: give it a moment, but
    # still fail loudly if what it leaves is unusable.
    deadline = time.monotonic() + _RACE_WAIT_SECONDS
    while True:
        try:
            return _read_key_file(path)
        except (KeyConfigError, FileNotFoundError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def load_cipher(
    environ: Mapping[str, str], instance_path: str | os.PathLike, *, allow_generate: bool
) -> FieldCipher:
    """Build the app's cipher: env keys, else the instance key file, else (dev only) a new key."""
    if ENV_KEYS in environ:
        # Set-but-blank is treated as a mistake, not as "unset": falling through to a file or a
        # freshly generated key would silently seal data under a key ops did not intend.
        keys = parse_keys_env(environ[ENV_KEYS])
        active = (environ.get(ENV_ACTIVE_KEY_ID) or "").strip() or list(keys)[-1]
        return FieldCipher(keys, active)

    path = _key_file(instance_path)
    try:
        keys, active = _read_key_file(path)
    except FileNotFoundError:
        pass
    else:
        return FieldCipher(keys, active)

    if not allow_generate:
        raise MissingKeyError(
            "No data encryption key: set HOMEWARD_DATA_KEYS or create instance/data-keys.json "
            "(homeward keys generate)"
        )

    _make_instance_dir(instance_path)
    kid = _new_key_id()
    key = generate_key()
    try:
        secretfile.publish_exclusive(path, _key_file_bytes({kid: key}, kid))
    except FileExistsError:
        keys, active = _wait_for_key_file(path)
        return FieldCipher(keys, active)
    return FieldCipher({kid: key}, kid)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    # Serialises concurrent rotations: two read-modify-write cycles racing could otherwise drop
    # a key that one of them had already made active.
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(directory / f".{KEY_FILE_NAME}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def add_key_to_file(instance_path: str | os.PathLike, *, make_active: bool = True) -> str:
    """Add a new random key to <instance_path>/data-keys.json and return its id.

    Creates the file if absent (the new key is then active whatever make_active says, as the
    file needs one). make_active=False lets every server learn a key before any server writes
    with it, so no server meets a token it cannot read during a rolling rotation.

    Only the key file is touched: a deployment configured through HOMEWARD_DATA_KEYS ignores it.
    """
    directory = _make_instance_dir(instance_path)
    path = _key_file(instance_path)
    with _locked(directory):
        try:
            keys, active = _read_key_file(path)
        except FileNotFoundError:
            kid = _new_key_id()
            secretfile.publish_exclusive(path, _key_file_bytes({kid: generate_key()}, kid))
            return kid
        kid = _new_key_id(keys)
        keys[kid] = generate_key()
        if make_active:
            active = kid
        _replace_key_file(directory, keys, active)
        return kid


def _replace_key_file(directory: Path, keys: Mapping[str, bytes], active: str) -> None:
    # Write aside and rename, so a crash leaves either the old file or the new one, never a
    # truncated keyring.
    tmp = secretfile.temp_path(directory / KEY_FILE_NAME)
    secretfile.create_exclusive(tmp, _key_file_bytes(keys, active))
    try:
        os.replace(tmp, _key_file(directory))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    secretfile.fsync_dir(directory)


def read_key_file(instance_path: str | os.PathLike) -> tuple[dict[str, bytes], str] | None:
    """The instance key file's keys and active id, or None when there is no file."""
    try:
        return _read_key_file(_key_file(instance_path))
    except FileNotFoundError:
        return None


def remove_key_from_file(instance_path: str | os.PathLike, kid: str) -> None:
    """Remove key `kid` from <instance_path>/data-keys.json (never the active key).

    Only the file: whether any value still needs the key is the caller's question (the database
    is not this module's business). Raises KeyConfigError when the key is absent or active.
    """
    directory = Path(instance_path)
    with _locked(directory):
        try:
            keys, active = _read_key_file(_key_file(directory))
        except FileNotFoundError:
            raise KeyConfigError(f"no key file {_key_file(directory)}") from None
        if kid not in keys:
            raise KeyConfigError(f"key {kid!r} is not in {_key_file(directory)}")
        if kid == active:
            raise KeyConfigError(f"key {kid!r} is the active key and cannot be removed")
        del keys[kid]
        _replace_key_file(directory, keys, active)
