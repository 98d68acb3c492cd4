"""Which data keys a database's sealed values were sealed with.

Sealed columns are named `*_enc` throughout the schema (webapp.sealed, migrations 0006 onwards;
tests/integration/test_backup.py checks no `hw1.` token lives in any other column). Each holds
tokens `hw1.<key id>.<nonce>.<ciphertext>` (webapp.crypto), so the key ids are read with SQL,
without any key: a backup lists them in its header, and a restore refuses an instance folder
that lacks one of them, before anything is written.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from webapp.crypto import TOKEN_VERSION

SUFFIX = "_enc"
PREFIX = TOKEN_VERSION + "."
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _clean(found) -> list[str]:
    # A value that does not parse as a key id is not a token this code wrote; it is left to
    # the app (which will refuse to decrypt it) rather than listed as a key to look for.
    return sorted({kid for kid in found if kid and _KEY_ID.fullmatch(kid)})


def sqlite_key_ids(conn) -> list[str]:
    """conn: a sqlite3 connection to the database (the backup's own copy)."""
    found: set[str] = set()
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    for table in tables:
        quoted_table = '"' + table.replace('"', '""') + '"'
        for column in conn.execute(f"PRAGMA table_info({quoted_table})"):
            name = column[1]
            if not name.endswith(SUFFIX):
                continue
            col = '"' + name.replace('"', '""') + '"'
            start = len(PREFIX) + 1
            # Names from the database's own catalogue, quoted: not user input.
            kid = f"substr({col}, {start}, instr(substr({col}, {start}), '.') - 1)"
            query = f"SELECT DISTINCT {kid} FROM {quoted_table} WHERE {col} LIKE ?"  # noqa: S608
            found.update(row[0] for row in conn.execute(query, (PREFIX + "%",)))
    return _clean(found)


def postgres_key_ids(conn) -> list[str]:
    """conn: a psycopg connection, inside the transaction whose snapshot is being dumped."""
    from psycopg import sql

    found: set[str] = set()
    columns = conn.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
        "AND column_name LIKE %s ORDER BY 1, 2, 3",
        ("%" + SUFFIX,),
    ).fetchall()
    for schema, table, column in columns:
        query = sql.SQL(
            "SELECT DISTINCT split_part({col}::text, '.', 2) FROM {tbl} WHERE {col}::text LIKE %s"
        ).format(col=sql.Identifier(column), tbl=sql.Identifier(schema, table))
        found.update(row[0] for row in conn.execute(query, (PREFIX + "%",)))
    return _clean(found)


_CHECK_INFO = b"homeward-backup-v1 data key check"


def data_key_checks(environ, instance_path) -> dict[str, str]:
    """{key id: a one-way check value of the key} for the data keys this instance holds.

    Key ids alone do not tell two keys apart (`homeward keys generate` names a key after the
    day it was made, so two servers can each have their own `k20250301`). A backup records the
    check of each key its values use, and a restore compares it with the new instance's key of
    that id. HMAC-SHA256 under the key: it tells nothing about the key itself.

    Read from the same place the app reads its keys (webapp.crypto.load_cipher): the
    environment's HOMEWARD_DATA_KEYS, else the instance's data-keys.json.
    """
    from pathlib import Path

    from webapp import crypto

    if crypto.ENV_KEYS in environ:
        keys = crypto.parse_keys_env(environ[crypto.ENV_KEYS])
    else:
        try:
            keys, _active = crypto._read_key_file(Path(instance_path) / crypto.KEY_FILE_NAME)
        except FileNotFoundError:
            return {}
    return {
        kid: hmac.new(key, _CHECK_INFO, hashlib.sha256).hexdigest()[:32]
        for kid, key in keys.items()
    }
