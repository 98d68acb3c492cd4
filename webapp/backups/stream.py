"""The encrypted backup file: a header, then the database dump in authenticated chunks.

Layout::

    MAGIC (16 bytes) | header length (4 bytes, big-endian) | header (UTF-8 JSON) | chunks...

The header is readable without the key (format version, database kind, Alembic revision, time,
the data key ids the dump's sealed values use, and the salt and nonce prefix below) so that a
restore can say what a file is and refuse it early. It is not trusted until chunk 0 has been
decrypted: every chunk takes a hash of the header bytes as associated data, so a header edited in
any way fails authentication.

The chunks follow the STREAM construction (Hoang, Reyhanitabar, Rogaway and Vizar, 2015), as
Tink's streaming AEAD does it:

- A key for this file alone, HKDF-SHA256(operator key, random 32-byte salt): the operator key
  never encrypts anything itself, so the nonces below can never repeat across files.
- AES-256-GCM per chunk with the nonce ``prefix (7 random bytes) | counter (4 bytes) | last (1)``:
  a chunk moved to another position fails (its counter differs), and the final chunk alone is
  sealed with last=1, so a file cut at a chunk boundary is told apart from a complete one.
- Every chunk but the final one holds exactly ``chunk_size`` bytes of plaintext; the final one
  holds fewer (possibly none). A reader therefore knows which chunk must be the final one from
  its length alone, and anything after it is an error.

So a dump of any size is encrypted and decrypted a chunk at a time, never held whole in memory.

The reader holds back each chunk of plaintext until the next one has been authenticated, and the
final one until the end of the file has been seen: whatever consumes it (pg_restore) is never
given the whole dump unless the whole file was authentic.

Pure standard library plus `cryptography`: no Flask, no database (unit-tested on its own).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import stat
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from webapp import secretfile

MAGIC = b"HOMEWARD-BACKUP\n"
FORMAT_VERSION = 1
ENV_KEY = "HOMEWARD_BACKUP_KEY"
KEY_BYTES = 32
SALT_BYTES = 32
PREFIX_BYTES = 7
TAG_BYTES = 16
DEFAULT_CHUNK_SIZE = 1024 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_CHUNKS = 2**32  # the counter's four bytes
_HKDF_INFO = b"homeward-backup-v1 file key"
_KEY_ID_INFO = b"homeward-backup-v1 key id"


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message is safe to show an operator."""


class BackupKeyError(BackupError):
    """No operator key, or a malformed one (the message never holds key material)."""


class WrongKeyError(BackupError):
    """The file was encrypted with another operator key."""


class TamperedError(BackupError):
    """The file is damaged, cut short, reordered or edited: it fails authentication."""


class FormatError(BackupError):
    """Not a Homeward backup, or one of a format this code does not know."""


# --- the operator key ---------------------------------------------------------------------------


def generate_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def key_id(key: bytes) -> str:
    """A short name for an operator key, safe to print and to keep in each backup's header.

    Lets an operator with several keys (an old one, a new one) see which key a file needs.
    Derived one-way from the key: it tells nothing about the key itself.
    """
    return hmac.new(key, _KEY_ID_INFO, hashlib.sha256).hexdigest()[:16]


_KEY_HINT = "expected 44 characters: `homeward backup key` makes one"


def decode_key(text: str, where: str) -> bytes:
    try:
        return secretfile.decode_key(
            text,
            where,
            size=KEY_BYTES,
            hint="expected 44 characters: `homeward backup key` makes one",
        )
    except ValueError as exc:
        raise BackupKeyError(str(exc)) from None


@dataclass(frozen=True)
class LoadedKey:
    key: bytes = field(repr=False)
    source: str
    warning: str | None = None

    @property
    def id(self) -> str:
        return key_id(self.key)


def load_key(environ: Mapping[str, str], key_file: str | os.PathLike | None) -> LoadedKey:
    """The operator key: --key-file if given (explicit beats ambient), else HOMEWARD_BACKUP_KEY."""
    if key_file is not None:
        path = Path(key_file)
        try:
            text = path.read_text(encoding="ascii")
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise BackupKeyError(f"backup key file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BackupKeyError(f"cannot read backup key file {path}: {exc}") from None
        warning = None
        if mode & 0o077:
            warning = (
                f"warning: backup key file {path} can be read by others (mode {mode:o}); "
                f"chmod 600 it"
            )
        return LoadedKey(decode_key(text, f"backup key file {path}"), str(path), warning)
    if environ.get(ENV_KEY):
        return LoadedKey(decode_key(environ[ENV_KEY], ENV_KEY), ENV_KEY)
    raise BackupKeyError(
        f"no backup key: set {ENV_KEY} or give --key-file (make one with `homeward backup key`)"
    )


# --- the header ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What a backup says about itself. `fields` holds the caller's part (kind, revision...)."""

    fields: dict[str, Any]
    chunk_size: int
    salt: bytes
    prefix: bytes
    key_id: str
    raw: bytes  # the exact bytes before chunk 0, authenticated with every chunk

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


_RESERVED = ("format", "chunk_size", "salt", "nonce_prefix", "key_id")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, size: int, name: str) -> bytes:
    try:
        data = base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"backup header: {name} is not base64") from None
    if len(data) != size:
        raise FormatError(f"backup header: {name} has the wrong length")
    return data


def _file_key(key: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_HKDF_INFO).derive(key)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def _aad(raw_header: bytes) -> bytes:
    return hashlib.sha256(raw_header).digest()


# --- writing ------------------------------------------------------------------------------------


class Writer:
    """Encrypts what is written to it, a chunk at a time, onto `out`; `close()` seals the end.

    Without `close()` the file has no final chunk and every reader refuses it as cut short, so a
    backup that fails half-way can never pass for a complete one.
    """

    def __init__(
        self,
        out: BinaryIO,
        key: bytes,
        fields: Mapping[str, Any],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ):
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError("chunk_size out of range")
        clash = set(fields) & set(_RESERVED)
        if clash:
            raise ValueError(f"header fields reserved by the format: {sorted(clash)}")
        salt, prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
        doc = {
            "format": FORMAT_VERSION,
            **fields,
            "chunk_size": chunk_size,
            "salt": _b64(salt),
            "nonce_prefix": _b64(prefix),
            "key_id": key_id(key),
        }
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")
        if len(body) > MAX_HEADER_BYTES:
            raise ValueError("backup header too large")
        raw = MAGIC + struct.pack(">I", len(body)) + body
        self._out = out
        self._aead = AESGCM(_file_key(key, salt))
        self._prefix = prefix
        self._aad = _aad(raw)
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        self.plaintext_bytes = 0
        self.written_bytes = len(raw)
        out.write(raw)

    def _emit(self, data: bytes, last: bool) -> None:
        if self._counter >= MAX_CHUNKS:
            raise BackupError("backup too large for the format (2^32 chunks)")
        sealed = self._aead.encrypt(_nonce(self._prefix, self._counter, last), data, self._aad)
        self._out.write(sealed)
        self._counter += 1
        self.written_bytes += len(sealed)

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("write after close")
        self._buffer += data
        self.plaintext_bytes += len(data)
        # Strictly more than a chunk: the final chunk must stay shorter than chunk_size, so a
        # full chunk is only sent once something is known to follow it.
        while len(self._buffer) > self._chunk_size:
            self._emit(bytes(self._buffer[: self._chunk_size]), last=False)
            del self._buffer[: self._chunk_size]

    def close(self) -> None:
        if self._closed:
            return
        if len(self._buffer) == self._chunk_size:
            self._emit(bytes(self._buffer), last=False)
            self._buffer.clear()
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._closed = True


# --- reading ------------------------------------------------------------------------------------


def _read_exactly(fh: BinaryIO, size: int) -> bytes:
    parts, remaining = [], size
    while remaining:
        part = fh.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def read_header(fh: BinaryIO) -> Header:
    """Parse the header at the start of fh (not yet authenticated: see Reader)."""
    magic = _read_exactly(fh, len(MAGIC))
    if magic != MAGIC:
        raise FormatError("not a Homeward backup file (it does not start with the backup marker)")
    length_bytes = _read_exactly(fh, 4)
    if len(length_bytes) != 4:
        raise TamperedError("the backup file is cut short inside its header")
    (length,) = struct.unpack(">I", length_bytes)
    if length > MAX_HEADER_BYTES:
        raise FormatError("backup header is too large: not a backup this code can read")
    body = _read_exactly(fh, length)
    if len(body) != length:
        raise TamperedError("the backup file is cut short inside its header")
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FormatError("backup header is not valid JSON") from None
    if not isinstance(doc, dict):
        raise FormatError("backup header is not a JSON object")
    version = doc.get("format")
    if version != FORMAT_VERSION:
        raise FormatError(
            f"backup format {version!r} is not one this version of Homeward reads "
            f"(it reads format {FORMAT_VERSION}): restore it with the version that made it"
        )
    chunk_size = doc.get("chunk_size")
    if not isinstance(chunk_size, int) or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise FormatError("backup header: chunk_size out of range")
    kid = doc.get("key_id")
    if not isinstance(kid, str):
        raise FormatError("backup header: key_id missing")
    return Header(
        fields={k: v for k, v in doc.items() if k not in _RESERVED},
        chunk_size=chunk_size,
        salt=_unb64(doc.get("salt"), SALT_BYTES, "salt"),
        prefix=_unb64(doc.get("nonce_prefix"), PREFIX_BYTES, "nonce_prefix"),
        key_id=kid,
        raw=MAGIC + length_bytes + body,
    )


class Reader:
    """Opens a backup: parses the header, checks the key, authenticates the header (chunk 0).

    After construction `header` is authentic. `chunks()` yields the plaintext, authenticating as
    it goes (and may still raise TamperedError for a later chunk); `verify()` reads it all and
    returns the plaintext size.
    """

    def __init__(self, fh: BinaryIO, key: bytes):
        self._fh = fh
        self.header = read_header(fh)
        if key_id(key) != self.header.key_id:
            raise WrongKeyError(
                f"this backup was made with backup key {self.header.key_id}; the key given is "
                f"{key_id(key)}: give the key the backup was made with (nothing was restored)"
            )
        self._aead = AESGCM(_file_key(key, self.header.salt))
        self._aad = _aad(self.header.raw)
        self._block = self.header.chunk_size + TAG_BYTES
        self._counter = 0
        self._pending = _read_exactly(fh, self._block)
        # Authenticate chunk 0 now: that authenticates the header every check relies on.
        self._first = self._open_next()

    def _open_next(self) -> tuple[bytes, bool]:
        """Decrypt the pending block; returns (plaintext, is_last) and reads the next block."""
        block = self._pending
        last = len(block) < self._block
        if not block and self._counter > 0:
            raise TamperedError(
                f"the backup file is cut short: it ends after chunk {self._counter - 1} without "
                "its final chunk (nothing was restored)"
            )
        if len(block) < TAG_BYTES:
            raise TamperedError(
                "the backup file is cut short inside a chunk (nothing was restored)"
            )
        try:
            plain = self._aead.decrypt(
                _nonce(self.header.prefix, self._counter, last), block, self._aad
            )
        except InvalidTag:
            raise TamperedError(
                f"the backup file fails authentication at chunk {self._counter}: it is damaged, "
                "cut short or was altered (nothing was restored)"
            ) from None
        self._counter += 1
        self._pending = b"" if last else _read_exactly(self._fh, self._block)
        return plain, last

    def chunks(self) -> Iterator[bytes]:
        """The plaintext, each piece given only once the next one has been authenticated."""
        held, last = self._first
        while not last:
            following, last = self._open_next()
            yield held
            held = following
        # The final chunk is authentic and nothing may follow it (a read shorter than a block
        # already means the end of the file; this makes sure of it).
        if self._fh.read(1):
            raise TamperedError(
                "the backup file has data after its final chunk (nothing was restored)"
            )
        yield held

    def verify(self) -> int:
        return sum(len(piece) for piece in self.chunks())
