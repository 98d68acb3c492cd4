"""Files that hold secrets (data keys, the VAPID key, the generated session secret): created
mode 0o600, never replacing what is there, never seen half-written by a racing process, and
synced with their directory so a crash cannot lose a key that has already sealed records.

Pure standard library: used by the app's configuration and by the pure key modules.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


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
