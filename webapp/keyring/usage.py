"""How many stored values use each data key: counted in SQL, no token leaves the database.

A token names its key in clear (`hw1.<key id>.…`), so the counts need no key and decrypt nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import JSON, String, Text, cast, func, inspect, select
from sqlalchemy import column as column_
from sqlalchemy import table as table_
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from webapp.crypto import TOKEN_VERSION
from webapp.sealed import SealedColumn

# Never holds sealed values; skipping it keeps the stray scan to the app's own tables.
_NOT_DATA = {"alembic_version"}


def token_prefix(kid: str) -> str:
    return f"{TOKEN_VERSION}.{kid}."


def under_key(column: ColumnElement, kid: str) -> ColumnElement[bool]:
    """True where the value is a token of key `kid`.

    substr() and = rather than LIKE: exact and case-sensitive on both databases, and a key id's
    "_" is not a wildcard.
    """
    prefix = token_prefix(kid)
    return func.substr(column, 1, len(prefix)) == prefix


@dataclass
class ColumnUsage:
    name: str
    by_key: dict[str, int] = field(default_factory=dict)
    # Values whose key is not in the ring (or that are not tokens at all): unreadable here.
    other: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_key.values()) + self.other


def count_by_key(
    conn: Connection, columns: Iterable[SealedColumn], key_ids: Sequence[str]
) -> list[ColumnUsage]:
    """Per sealed column, how many values each key id holds (one query per column)."""
    usages = []
    for col in columns:
        c = col.model.__table__.c[col.column]
        counts = [func.count(c)] + [func.count().filter(under_key(c, kid)) for kid in key_ids]
        total, *per_key = conn.execute(select(*counts)).one()
        by_key = dict(zip(key_ids, per_key, strict=True))
        usages.append(ColumnUsage(col.name, by_key, total - sum(per_key)))
    return usages


def stray_tokens(
    conn: Connection, registered: Iterable[SealedColumn], kid: str | None = None
) -> dict[str, int]:
    """Columns outside the registry that hold tokens (of `kid`, or of any key): name -> rows.

    The safety net behind `retire` and `rotate`: the live schema is read from the database, so a
    sealed column nobody registered is still found (a rotation would miss it; retiring its key
    would make its values unreadable for good). Values are searched anywhere in the text, so a
    token inside a JSON document counts too.
    """
    known = {(col.table_name, col.column) for col in registered}
    needle = token_prefix(kid) if kid else f"{TOKEN_VERSION}."
    found: dict[str, int] = {}
    inspector = inspect(conn)
    for table in sorted(inspector.get_table_names()):
        if table in _NOT_DATA:
            continue
        columns = [
            c["name"]
            for c in inspector.get_columns(table)
            if isinstance(c["type"], String | JSON) and (table, c["name"]) not in known
        ]
        if not columns:
            continue
        t = table_(table, *(column_(name) for name in columns))
        counts = [
            func.count().filter(cast(t.c[name], Text).contains(needle, autoescape=True))
            for name in columns
        ]
        for name, n in zip(
            columns, conn.execute(select(*counts).select_from(t)).one(), strict=True
        ):
            if n:
                found[f"{table}.{name}"] = n
    return found
