"""The record types field mode syncs, each registered by its own feature's init_app.

A record type says what it is called, which handler applies a device's changes to it and reads
it back (sync.store.RecordHandler), which ORM rows are its records (their changes are logged for
pull), which other rows it shows (a change to one of those is a change to the records that show
it), and which roles keep it on a phone. The store, the engine and the change log know nothing
else about any type, so adding one touches only its own files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from sync.store import RecordHandler

_EXTENSION = "homeward_record_types"


@dataclass(frozen=True)
class RecordType:
    name: str
    # Given the device id, the handler that applies and reads this type for one request.
    handler: Callable[[str], RecordHandler]
    # The ORM class whose rows are the records: it has an `id` and a `version` column.
    model: type
    # Other ORM classes the payload shows, each with how to find the records that show the rows
    # changed: (connection, ids) -> record ids.
    shows: Mapping[type, Callable[[Any, set[str]], set[str]]] = field(default_factory=dict)
    # For a class it shows only a few columns of, those columns (attribute names): a change to
    # the rest of such a row (an interview's answers, saved on every keystroke's autosave) is no
    # change to this type's records, which would otherwise be sent to phones again each time.
    shows_only: Mapping[type, tuple[str, ...]] = field(default_factory=dict)
    # The roles whose phones keep this type (others are not invited to set up field mode).
    roles: frozenset[str] = frozenset()


def register(app: Flask, record_type: RecordType) -> None:
    types = app.extensions.setdefault(_EXTENSION, {})
    if record_type.name in types:
        raise ValueError(f"record type {record_type.name!r} is registered twice")
    types[record_type.name] = record_type


def record_types(app: Flask | None = None) -> dict[str, RecordType]:
    return (app or current_app).extensions.get(_EXTENSION, {})


def for_role(role: str, app: Flask | None = None) -> list[str]:
    """The record types a role keeps on a phone, by name."""
    return [name for name, rt in record_types(app).items() if role in rt.roles]
