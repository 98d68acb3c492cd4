"""Files that hold secrets (data keys, the VAPID key, the generated session secret): created
mode 0o600, never replacing what is there, never seen half-written by a racing process, and
synced with their directory so a crash cannot lose a key that has already sealed records. Also
the owner-only modes of the instance folder and the SQLite database (private_dir, private_file).

Pure standard library: used by the app's configuration and by the pure key modules.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import stat
from pathlib import Path


def decode_key(text: str, where: str, *, size: int, hint: str) -> bytes:
    """A key written as standard base64 (whitespace ignored) of exactly `size` bytes. ValueError
    with a message safe to show (where it came from and what is wrong, never the text)."""
    compact = re.sub(r"\s+", "", text)
    try:
        key = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where} is not base64 ({hint})") from None
    if len(key) != size:
        raise ValueError(f"{where} decodes to {len(key)} bytes, expected {size}")
    return key


def fsync_dir(directory: Path) -> None:
    # Without this a crash can lose the file's directory entry even though its data was synced,
    # and losing a key that already sealed records loses those records.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def create_exclusive(path: Path, data: bytes) -> None:
    """Create path with mode 0o600 and write data; FileExistsError if anything is already there.

    O_EXCL makes creation atomic, so a racing process cannot be clobbered, and it also refuses
    to follow a planted symlink.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):
                # The umask can only narrow the mode, but be explicit rather than rely on it.
                os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        # An empty or half-written key file would later read as "malformed"; remove ours.
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    fsync_dir(path.parent)


def temp_path(path: Path) -> Path:
    """A private name beside path for writing it before it is published."""
    return path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"


def publish_exclusive(path: Path, data: bytes) -> None:
    """Make path appear with its full contents at once; FileExistsError if it already exists.

    Creating path itself with O_EXCL would leave a window where a racing reader finds it empty
    and reports a malformed key file. Writing a private file and hard-linking it into place is
    just as exclusive (link never replaces), and the file is complete the moment it is visible.
    """
    tmp = temp_path(path)
    create_exclusive(tmp, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        # Some filesystems have no hard links: fall back to creating the file in place.
        create_exclusive(path, data)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    fsync_dir(path.parent)


def _tighten(path: Path, mode: int) -> None:
    """chmod path to mode if it is ours and looser; someone else's file is left as it is."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not hasattr(os, "geteuid") or st.st_uid != os.geteuid():
        return
    if stat.S_IMODE(st.st_mode) & ~mode:
        os.chmod(path, mode)


def private_dir(path: Path, *, create: bool = False) -> None:
    """The folder of secrets and the SQLite database: the owner's only (0o700).

    An existing folder is tightened too: a copy or a restore from backup often comes back
    0o755, and a folder others can list and enter exposes every file in it left readable.
    """
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)


def private_file(path: Path, *, create: bool = False) -> None:
    """A file only its owner may read or write (0o600); created empty if asked and missing.

    SQLite gives its -wal, -shm and journal files the mode of the database file, so a database
    created here first, 0o600, keeps its companions private too.
    """
    if create:
        with contextlib.suppress(FileExistsError):
            os.close(
                os.open(
                    path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600
                )
            )
    _tighten(path, 0o600)
