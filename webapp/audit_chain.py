"""The audit trail's hash chain: the key, the canonical encoding of an entry, and the walk that
checks a trail (issue 15).

Each entry's hash is HMAC-SHA256 under a key kept outside the database, over a canonical
encoding of every column of the entry and the previous entry's hash. Edit a column, remove an
entry, insert one or swap two, and the walk finds the first entry that no longer fits. The key
is what makes it tamper-evident rather than merely checksummed: someone who copies or edits the
database, but has not got the key, cannot compute the hashes a forged or edited entry needs.

What the chain cannot show on its own: that the newest entries were removed (the shortened trail
is still a valid chain). The operator notes the head `verify` prints and gives it back with
`--expect-head` (docs/operations/audit.md).

Pure standard library plus webapp.secretfile (no Flask, no database): the app and the migration
wire it in (webapp.audit), and the unit tests exercise it alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from webapp import secretfile

ENV_KEY = "HOMEWARD_AUDIT_KEY"
KEY_FILE_NAME = "audit-key"
KEY_BYTES = 32
# Folded into every hash: a hash made by another format (or another product) never matches.
VERSION = "homeward-audit-1"
# The previous hash of the very first entry.
GENESIS = "0" * 64

# Every column of audit_events except the hash itself, in the order they are encoded. A column
# added to the table must be added here (tests/unit/test_audit_chain.py compares this with the
# model), or it could be changed without the chain noticing.
FIELDS = (
    "id",
    "at",
    "user_id",
    "action",
    "object_type",
    "object_id",
    "child_id",
    "device_id",
    "user_agent",
    "ip",
    "detail",
)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_RACE_WAIT_SECONDS = 2.0


class AuditKeyError(Exception):
    """No audit key where one is needed, or the key given is malformed (never echoes it)."""


class ChainKey:
    """The HMAC key, kept out of reprs, tracebacks and pickles."""

    __slots__ = ("_key", "created", "source")

    def __init__(self, key: bytes, source: str, *, created: bool = False) -> None:
        if len(key) != KEY_BYTES:
            raise AuditKeyError(f"the audit key must be {KEY_BYTES} bytes, not {len(key)}")
        self._key = bytes(key)
        self.source = source  # "environment" or the file's path: safe to print
        self.created = created  # made by this process just now (no entry can be under it yet)

    def __repr__(self) -> str:
        return f"ChainKey(source={self.source!r})"

    def __reduce__(self):
        raise TypeError("ChainKey holds key material and cannot be pickled")

    def mac(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _decode(text: str, where: str) -> bytes:
    try:
        return secretfile.decode_key(
            text, where, size=KEY_BYTES, hint="44 characters of base64 of 32 bytes"
        )
    except ValueError as exc:
        raise AuditKeyError(str(exc)) from None


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def key_path(instance_path: str | os.PathLike) -> Path:
    return Path(instance_path) / KEY_FILE_NAME


def load_key(
    environ: Mapping[str, str], instance_path: str | os.PathLike, *, allow_generate: bool
) -> ChainKey:
    """HOMEWARD_AUDIT_KEY, else instance/audit-key, else (allow_generate) a new key file.

    Several processes may start at once on a fresh instance folder: the file is published whole
    and exclusively (secretfile), so whoever loses the race reads the winner's key. Several
    servers on several machines must share one key: set HOMEWARD_AUDIT_KEY on each.
    """
    if ENV_KEY in environ:
        # Set but blank is a mistake, not "unset": a generated key would fork the chain.
        return ChainKey(_decode(environ[ENV_KEY], ENV_KEY), "environment")
    path = key_path(instance_path)
    try:
        return ChainKey(_decode(path.read_text(), str(path)), str(path))
    except FileNotFoundError:
        pass
    if not allow_generate:
        raise AuditKeyError(f"no audit key: set {ENV_KEY} or keep the instance's {path}")
    secretfile.private_dir(Path(instance_path), create=True)
    try:
        secretfile.publish_exclusive(path, (encode_key(os.urandom(KEY_BYTES)) + "\n").encode())
        created = True
    except FileExistsError:
        created = False
    deadline = time.monotonic() + _RACE_WAIT_SECONDS
    while True:
        # Published whole (hard link); only the no-hard-link fallback can show it half-written.
        try:
            return ChainKey(_decode(path.read_text(), str(path)), str(path), created=created)
        except AuditKeyError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _text(value) -> str | int | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):  # never a column here, but never let True encode as 1
        raise TypeError("unexpected boolean in an audit entry")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        # Naive values are UTC (that is how the column keeps them); to the microsecond, which
        # both databases keep exactly.
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # Anything else would have to be encoded by a rule both writer and checker agree on.
    raise TypeError(f"unexpected {type(value).__name__} in an audit entry")


def canonical(entry: Mapping[str, object], prev_hash: str) -> bytes:
    """One byte string for the entry and its predecessor's hash: a JSON array in FIELDS order
    (positions, not names; JSON escaping keeps every value's bounds unambiguous)."""
    values = [VERSION, *(_text(entry[name]) for name in FIELDS), prev_hash]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(key: ChainKey, entry: Mapping[str, object], prev_hash: str) -> str:
    return key.mac(canonical(entry, prev_hash))


def seal(key: ChainKey, entries: Iterable[dict], prev_hash: str) -> str:
    """Give each entry (in chain order) its entry_hash; returns the new head's hash."""
    for entry in entries:
        entry["entry_hash"] = prev_hash = entry_hash(key, entry, prev_hash)
    return prev_hash


@dataclass(frozen=True)
class Verdict:
    """What a walk over the trail found: how many entries held, the head (last good entry),
    and the first broken entry with why (None when intact)."""

    count: int
    head_id: int | None
    head_hash: str
    broken_id: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_id is None


def walk(key: ChainKey, entries: Iterable[Mapping[str, object]]) -> Verdict:
    """Check entries given in chain (id) order; stops at the first that does not fit.

    Streams: it holds one entry at a time, so the caller can feed it from a cursor in batches.
    """
    count, prev_id, prev_hash = 0, None, GENESIS
    for entry in entries:
        eid = entry["id"]
        stored = entry.get("entry_hash")
        if prev_id is not None and eid <= prev_id:
            return Verdict(count, prev_id, prev_hash, eid, "out of order")
        if stored is None:
            # The caller walks up to the chained head only: an entry without a hash below it
            # was inserted into the past (or its hash removed); the chainer never leaves one.
            return Verdict(
                count, prev_id, prev_hash, eid, "has no hash, yet entries after it are chained"
            )
        if not isinstance(stored, str) or not _HEX64.fullmatch(stored):
            return Verdict(count, prev_id, prev_hash, eid, "has no valid hash")
        try:
            expected = entry_hash(key, entry, prev_hash)
        except TypeError as exc:
            return Verdict(count, prev_id, prev_hash, eid, f"cannot be encoded ({exc})")
        if not hmac.compare_digest(expected, stored):
            after = f"entry {prev_id}" if prev_id is not None else "the start of the trail"
            return Verdict(
                count,
                prev_id,
                prev_hash,
                eid,
                f"its hash does not match its contents following {after} (the entry was "
                "changed or forged, or one before it was removed)",
            )
        count, prev_id, prev_hash = count + 1, eid, stored
    return Verdict(count, prev_id, prev_hash)


def parse_head(text: str) -> tuple[int, str]:
    """'ID:HASH' as verify prints it, for --expect-head."""
    ident, sep, digest = text.strip().partition(":")
    if not sep or not ident.isdigit() or not _HEX64.fullmatch(digest.lower()):
        raise ValueError("expected ID:HASH, e.g. 1234:<64 hex digits> as `audit verify` prints")
    return int(ident), digest.lower()


def batches(fetch, size: int) -> Iterator[Mapping[str, object]]:
    """Keyset paging: fetch(after_id, size) -> rows in id order; yields each row once. The
    first call has no lower bound (None): a forged row with id 0 or below is read too."""
    after = None
    while True:
        rows = fetch(after, size)
        yield from rows
        if len(rows) < size:
            return
        after = rows[-1]["id"]
