"""Back up the database to an encrypted file, and restore one into an empty database.

SQLite: the online backup API copies the live database (WAL: the app keeps reading and writing
meanwhile) to a private file beside it, which is then compressed and encrypted. PostgreSQL:
pg_dump's custom format (compressed), streamed straight into the encryption, from a snapshot
exported by our own REPEATABLE READ transaction, so the schema revision and the data key ids in
the header describe exactly the rows in the dump.

Only the database is backed up. The instance secrets (data keys, the Flask secret key, the VAPID
key, the audit key) are not: a stolen backup with its operator key still yields no sealed
content, and the secrets are meant to be kept, and copied to a new server, separately.

No Flask here (commands.py wires it): the database URL, the data key ids the instance holds and
the Alembic revisions the code knows are given by the caller. Nothing printed carries personal
data: counts, sizes, revisions, key ids and paths the operator chose.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from webapp import secretfile
from webapp.backups import sealed_keys
from webapp.backups.stream import BackupError, Header, Reader, Writer

Progress = Callable[[str], None]

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_COPY_BYTES = 1024 * 1024


def _quiet(message: str) -> None:
    pass


# --- where the database is ----------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    kind: str
    url: str
    sqlite_path: Path | None = None

    @classmethod
    def from_url(cls, url: str) -> Database:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            name = parsed.database or ""
            if name in ("", ":memory:") or name.startswith("file:"):
                raise BackupError("only a SQLite database in a file can be backed up or restored")
            return cls(SQLITE, url, Path(name).resolve())
        if backend == "postgresql":
            return cls(POSTGRESQL, url)
        raise BackupError(f"backups support SQLite and PostgreSQL, not {backend}")

    def libpq(self) -> tuple[str, dict[str, str]]:
        """(conninfo without the password, environment for pg_dump/pg_restore with it).

        The password goes to the tools through PGPASSWORD, never on their command line, where
        any user of the machine could read it in `ps`.
        """
        from psycopg.conninfo import make_conninfo
        from sqlalchemy.engine import make_url

        parsed = make_url(self.url)
        params: dict[str, str] = {}
        if parsed.host:
            params["host"] = parsed.host
        if parsed.port:
            params["port"] = str(parsed.port)
        if parsed.username:
            params["user"] = parsed.username
        if parsed.database:
            params["dbname"] = parsed.database
        for name, value in parsed.query.items():
            params[name] = value if isinstance(value, str) else value[-1]
        env = dict(os.environ)
        if parsed.password is not None:
            env["PGPASSWORD"] = str(parsed.password)
        return make_conninfo("", **params), env

    def connect_pg(self):
        import psycopg

        conninfo, env = self.libpq()
        try:
            return psycopg.connect(conninfo, password=env.get("PGPASSWORD"), connect_timeout=10)
        except psycopg.OperationalError as exc:
            # libpq's message names the server and database (never the password): what an
            # operator needs to fix the connection.
            first = (str(exc).strip().splitlines() or ["no message"])[0]
            raise BackupError(f"cannot connect to PostgreSQL: {first}") from None


# --- the output file ----------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A private (0600) file that appears at `path` complete, or not at all.

    Written beside it under a temporary name and renamed into place once synced: a backup that
    fails half-way, or a crash, never leaves a partial file where the last good one was.
    """
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a folder: give the backup file's name")
    if not path.parent.is_dir():
        raise BackupError(f"folder {path.parent} does not exist")
    tmp = secretfile.temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    secretfile.fsync_dir(path.parent)


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            path.with_name(path.name + suffix).unlink()


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:
        return None
    return _one_revision([r[0] for r in rows])


def _one_revision(rows: list[str]) -> str | None:
    if len(rows) > 1:
        raise BackupError("the database has several Alembic heads; run `homeward init-db` first")
    return rows[0] if rows else None


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


# --- backup -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    kind: str
    revision: str | None
    data_key_ids: list[str]
    dump_bytes: int
    file_bytes: int


def backup(
    url: str,
    out: Path,
    key: bytes,
    *,
    key_checks: Mapping[str, str],
    progress: Progress = _quiet,
    chunk_size: int | None = None,
) -> BackupResult:
    """key_checks: {data key id: check value} of this instance (sealed_keys.data_key_checks)."""
    db = Database.from_url(url)
    extra = {} if chunk_size is None else {"chunk_size": chunk_size}

    def fields(kind: str, revision: str | None, key_ids: list[str], **more) -> dict:
        unknown = [kid for kid in key_ids if kid not in key_checks]
        if unknown:
            # Already unreadable here: the backup keeps them as they are, and says so.
            progress(f"warning: this instance does not hold data key(s) {_ids(unknown)}")
        return {
            "app": "homeward",
            "kind": kind,
            "revision": revision,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_key_ids": key_ids,
            "data_key_checks": {kid: key_checks[kid] for kid in key_ids if kid in key_checks},
            **more,
        }

    if db.kind == SQLITE:
        return _backup_sqlite(db, Path(out), key, progress, extra, fields)
    return _backup_postgres(db, Path(out), key, progress, extra, fields)


def _backup_sqlite(
    db: Database, out: Path, key: bytes, progress: Progress, extra, _fields
) -> BackupResult:
    source = db.sqlite_path
    assert source is not None
    if not source.is_file() or source.stat().st_size == 0:
        raise BackupError(f"no SQLite database at {source}: nothing to back up")
    # The copy lives beside the live database, in the same private folder, so the plaintext is
    # never anywhere it was not already; it is removed whatever happens.
    copy = secretfile.temp_path(source)
    secretfile.create_exclusive(copy, b"")
    try:
        progress("Copying the SQLite database (online backup API)...")
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(copy)
            try:
                # One step: in WAL mode a reader never blocks the app's writers, and a single
                # step cannot be restarted over and over by their writes, as small steps can.
                src.backup(dst)
                revision = _sqlite_revision(dst)
                key_ids = sealed_keys.sqlite_key_ids(dst)
                # Back to a plain rollback-journal file: one file to read, no -wal beside it.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        if revision is None:
            raise BackupError(
                "the database has no schema revision (alembic_version): is it a Homeward database?"
            )
        progress(f"Schema revision {revision}; sealed values use data keys: {_ids(key_ids)}")
        dump_bytes = copy.stat().st_size
        fields = _fields(SQLITE, revision, key_ids, compression="zlib")
        with atomic_output(out) as fh:
            writer = Writer(fh, key, fields, **extra)
            squeeze = zlib.compressobj(6)
            with open(copy, "rb") as plain:
                for piece in iter(lambda: plain.read(_COPY_BYTES), b""):
                    writer.write(squeeze.compress(piece))
            writer.write(squeeze.flush())
            writer.close()
            file_bytes = writer.written_bytes
    finally:
        _remove_sqlite_files(copy)
    return BackupResult(SQLITE, revision, key_ids, dump_bytes, file_bytes)


def _ids(key_ids: list[str]) -> str:
    return ", ".join(key_ids) or "none"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools of the server's major "
            f"version (Debian: apt-get install postgresql-client)"
        )
    return path


def _tool_major(path: str) -> int:
    out = subprocess.run(  # noqa: S603 (pg_dump or pg_restore found on PATH; no shell)
        [path, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\b(\d+)(?:\.\d+)?", out)
    if not match:
        raise BackupError(f"cannot tell the version of {path}")
    return int(match.group(1))


def _tool_failure(tool: str, code: int, log: BinaryIO) -> BackupError:
    """The tool's first error line, without the DETAIL/CONTEXT lines that can quote row values."""
    log.seek(0)
    lines = log.read().decode("utf-8", "replace").splitlines()
    errors = [line for line in lines if "error:" in line.lower() or "fatal:" in line.lower()]
    first = (errors or lines or ["(no message)"])[0][:300]
    return BackupError(f"{tool} failed (exit {code}): {first}")


def _backup_postgres(
    db: Database, out: Path, key: bytes, progress: Progress, extra, _fields
) -> BackupResult:
    import psycopg

    pg_dump = _tool("pg_dump")
    dump_major = _tool_major(pg_dump)
    conninfo, env = db.libpq()
    with db.connect_pg() as conn:
        # The dump, the revision and the key ids all come from this one snapshot (pg_dump joins
        # it with --snapshot), so the header describes exactly the rows in the file.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        server_major = conn.info.server_version // 10000
        if dump_major < server_major:
            raise BackupError(
                f"pg_dump is version {dump_major} but the server is {server_major}: install "
                f"postgresql-client-{server_major}"
            )
        try:
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        except psycopg.errors.UndefinedTable:
            raise BackupError(
                "the database has no schema revision (alembic_version): is it a Homeward database?"
            ) from None
        revision = _one_revision([r[0] for r in rows])
        if revision is None:
            raise BackupError("the database has no schema revision: run `homeward init-db` first")
        key_ids = sealed_keys.postgres_key_ids(conn)
        progress(f"Schema revision {revision}; sealed values use data keys: {_ids(key_ids)}")
        progress(f"Dumping PostgreSQL {server_major} with pg_dump {dump_major} (custom format)...")
        fields = _fields(
            POSTGRESQL, revision, key_ids, server_major=server_major, pg_dump_major=dump_major
        )
        dump_bytes = 0
        with tempfile.TemporaryFile() as log, atomic_output(out) as fh:
            writer = Writer(fh, key, fields, **extra)
            proc = subprocess.Popen(  # noqa: S603 (a fixed program; no shell, no user text)
                [
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--no-password",
                    f"--dbname={conninfo}",
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
            )
            try:
                assert proc.stdout is not None
                for piece in iter(lambda: proc.stdout.read(_COPY_BYTES), b""):
                    dump_bytes += len(piece)
                    writer.write(piece)
            finally:
                code = proc.wait()
            if code != 0:
                raise _tool_failure("pg_dump", code, log)
            writer.close()
            file_bytes = writer.written_bytes
        conn.rollback()
    return BackupResult(POSTGRESQL, revision, key_ids, dump_bytes, file_bytes)


# --- restore ------------------------------------------------------------------------------------


def check_header(
    header: Header,
    *,
    kind: str,
    known_revisions: Collection[str],
    available_keys: Mapping[str, str],
) -> None:
    """Refuse a backup this instance cannot take, before anything is written. Pure.

    available_keys: {data key id: check value} of the instance (sealed_keys.data_key_checks).
    """
    if header.get("app") != "homeward":
        raise BackupError("this file is not a Homeward database backup")
    made = header.get("kind")
    if made != kind:
        raise BackupError(
            f"this backup is of a {made} database and this instance uses {kind}: restoring "
            f"across database kinds is not supported (restore into a {made} instance)"
        )
    revision = header.get("revision")
    if revision not in known_revisions:
        raise BackupError(
            f"this backup was made by a newer version of Homeward (schema revision {revision}, "
            "which this code does not know): install that version or newer, then restore"
        )
    missing = [kid for kid in header.get("data_key_ids", []) if kid not in available_keys]
    if missing:
        raise BackupError(
            "the instance lacks the data key(s) the backup's sealed values need: "
            f"{', '.join(missing)} (have: {_ids(sorted(available_keys))}). Copy data-keys.json "
            "from the old server's instance folder (or set HOMEWARD_DATA_KEYS) and restore again"
        )
    checks = header.get("data_key_checks") or {}
    other = [kid for kid, check in sorted(checks.items()) if available_keys.get(kid) != check]
    if other:
        raise BackupError(
            f"the instance's data key(s) {', '.join(other)} are not the key(s) of that name the "
            "backup's sealed values were sealed with (same id, different key). Copy "
            "data-keys.json from the old server's instance folder and restore again"
        )


def check_empty(db: Database) -> None:
    """Refuse to restore over a database that holds anything (see docs/operations/backup.md)."""
    if db.kind == SQLITE:
        path = db.sqlite_path
        assert path is not None
        if not path.exists() or path.stat().st_size == 0:
            return
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            count = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
        finally:
            conn.close()
    else:
        with db.connect_pg() as conn:
            count = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_%'"
            ).fetchone()[0]
    if count:
        where = f"SQLite file {db.sqlite_path}" if db.kind == SQLITE else "PostgreSQL database"
        raise BackupError(
            f"the {where} is not empty ({count} tables or other objects): a restore goes into "
            "an empty database only. Point DATABASE_URL at a new database (or move the SQLite "
            "file away) and restore again; nothing was changed"
        )


@dataclass(frozen=True)
class RestoreResult:
    kind: str
    revision: str
    data_key_ids: list[str]
    created_at: str
    dump_bytes: int


def open_backup(path: Path, key: bytes) -> tuple[BinaryIO, Reader]:
    fh = open(path, "rb")  # noqa: SIM115 (closed by the caller)
    try:
        return fh, Reader(fh, key)
    except BaseException:
        fh.close()
        raise


def verify(path: Path, key: bytes) -> tuple[Header, int]:
    """Authenticate a whole backup file; (its header, the size of the dump it holds)."""
    fh, reader = open_backup(path, key)
    with fh:
        return reader.header, reader.verify()


def restore(
    path: Path,
    key: bytes,
    *,
    url: str,
    known_revisions: Collection[str],
    available_keys: Mapping[str, str],
    progress: Progress = _quiet,
) -> RestoreResult:
    """Restore into an empty database. Every check runs before anything is written, and a file
    that fails authentication anywhere restores nothing."""
    db = Database.from_url(url)
    fh, reader = open_backup(Path(path), key)
    with fh:
        header = reader.header  # authentic: chunk 0 was decrypted with it
        check_header(
            header,
            kind=db.kind,
            known_revisions=known_revisions,
            available_keys=available_keys,
        )
        check_empty(db)
        progress(
            f"Backup of {header['created_at']}, schema revision {header['revision']}, "
            f"data keys {_ids(header.get('data_key_ids', []))}: the key and header are good"
        )
        if db.kind == SQLITE:
            size = _restore_sqlite(reader, db, progress)
        else:
            size = _restore_postgres(Path(path), key, header, db, progress)
    return RestoreResult(
        db.kind,
        header["revision"],
        list(header.get("data_key_ids", [])),
        header["created_at"],
        size,
    )


def _restore_sqlite(reader: Reader, db: Database, progress: Progress) -> int:
    target = db.sqlite_path
    assert target is not None
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    copy = secretfile.temp_path(target)
    secretfile.create_exclusive(copy, b"")
    try:
        # Decrypt into a private file beside the target first: only a file that authenticated
        # to its end, and that SQLite finds intact, is copied into the database.
        progress("Decrypting and checking the backup...")
        size = 0
        expand = zlib.decompressobj()
        with open(copy, "r+b") as out:
            for piece in reader.chunks():
                data = expand.decompress(piece)
                size += len(data)
                out.write(data)
            tail = expand.flush()
            size += len(tail)
            out.write(tail)
            if not expand.eof:
                raise BackupError("the backup's data is incomplete (compressed stream not ended)")
            out.flush()
            os.fsync(out.fileno())
        src = sqlite3.connect(copy)
        try:
            if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("the restored SQLite file fails SQLite's integrity check")
            if _sqlite_revision(src) != reader.header["revision"]:
                raise BackupError("the backup's data does not match its header's schema revision")
            secretfile.private_file(target, create=True)
            dst = sqlite3.connect(target, timeout=30)
            try:
                progress("Copying into the database (online backup API)...")
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    finally:
        _remove_sqlite_files(copy)
    return size


def _restore_postgres(
    path: Path, key: bytes, header: Header, db: Database, progress: Progress
) -> int:
    pg_restore = _tool("pg_restore")
    restore_major = _tool_major(pg_restore)
    dump_major = int(header.get("pg_dump_major") or 0)
    if restore_major < dump_major:
        raise BackupError(
            f"the backup was made by pg_dump {dump_major}; this pg_restore is {restore_major}: "
            f"install postgresql-client-{dump_major} or newer"
        )
    # First pass: authenticate the whole file before pg_restore sees a byte of it.
    progress("Checking the whole backup file...")
    checked_header, size = verify(path, key)
    if checked_header.raw != header.raw:
        raise BackupError("the backup file changed while it was being restored; nothing restored")
    progress(f"Authentic ({_size(size)} of pg_dump data). Restoring with pg_restore...")
    conninfo, env = db.libpq()
    fh, reader = open_backup(path, key)
    with fh, tempfile.TemporaryFile() as log:
        if reader.header.raw != header.raw:
            raise BackupError(
                "the backup file changed while it was being restored; nothing restored"
            )
        # One transaction: if anything fails (a chunk, pg_restore), nothing is committed.
        # --no-owner/--no-acl: the tables belong to the role the app connects as on the new
        # server, whatever roles the old one had.
        proc = subprocess.Popen(  # noqa: S603 (a fixed program; no shell, no user text)
            [
                pg_restore,
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-acl",
                "--no-password",
                f"--dbname={conninfo}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
        )
        assert proc.stdin is not None
        try:
            for piece in reader.chunks():
                proc.stdin.write(piece)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # pg_restore stopped reading: its exit code and message say why
        except BaseException:
            # Never let pg_restore reach its COMMIT with part of a file: kill it, and the
            # server rolls its transaction back when the connection drops.
            proc.kill()
            proc.wait()
            raise
        code = proc.wait()
        if code != 0:
            raise _tool_failure("pg_restore", code, log)
    return size
