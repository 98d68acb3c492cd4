"""The app's field cipher, and sealing helpers that bind each value to its record and field.

The associated data names the record and the field ("interview:<id>:content"), so a ciphertext
copied into another row or column fails to decrypt instead of showing the wrong child's words.

It also keeps the registry of sealed columns: which table and column hold tokens, and the
associated data each token was sealed with. `homeward keys rotate` re-encrypts from it (with the
same associated data, or the values would no longer open), so it must know every column.
A `SealedAttribute` registers its column itself; columns sealed by hand with `seal()` are
declared in `webapp/keyring/registry.py`, and tests/integration/test_keys_registry.py fails
when a column holding tokens is in neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app

from webapp.crypto import FieldCipher
from webapp.db_types import new_id


def cipher() -> FieldCipher:
    return current_app.extensions["homeward_cipher"]


def _aad(kind: str, record_id: str, field: str) -> bytes:
    return f"{kind}:{record_id}:{field}".encode()


def seal(value: Any, kind: str, record_id: str, field: str) -> str | None:
    if value is None:
        return None
    return cipher().encrypt_json(value, _aad(kind, record_id, field))


def unseal(token: str | None, kind: str, record_id: str, field: str, default: Any = None) -> Any:
    if token is None:
        return default
    return cipher().decrypt_json(token, _aad(kind, record_id, field))


@dataclass(frozen=True)
class SealedColumn:
    """A column that holds sealed tokens, and how to rebuild each token's associated data.

    The record id part of the associated data is the row's `id_columns` joined by ":" (a device's
    recovery key is bound to "<device id>:<user id>", a second factor to its user id).
    """

    model: type
    column: str
    kind: str
    field: str
    id_columns: tuple[str, ...] = ("id",)

    @property
    def table_name(self) -> str:
        return self.model.__tablename__

    @property
    def name(self) -> str:
        return f"{self.table_name}.{self.column}"

    def aad(self, id_values: Sequence[Any]) -> bytes:
        return _aad(self.kind, ":".join(str(v) for v in id_values), self.field)


_REGISTRY: dict[tuple[str, str], SealedColumn] = {}


def register_sealed_column(
    model: type, column: str, kind: str, field: str, id_columns: tuple[str, ...] = ("id",)
) -> SealedColumn:
    """Declare that `model.column` holds tokens sealed as `<kind>:<id columns>:<field>`."""
    entry = SealedColumn(model, column, kind, field, tuple(id_columns))
    key = (model.__tablename__, column)
    existing = _REGISTRY.get(key)
    if existing is not None and existing != entry:
        # Two contexts for one column would leave rotation unable to open half its values.
        raise ValueError(f"{entry.name} is already registered as {existing.kind}/{existing.field}")
    _REGISTRY[key] = entry
    return entry


def registered_columns() -> tuple[SealedColumn, ...]:
    """Every column registered so far, in a stable order (import the models first)."""
    return tuple(_REGISTRY[key] for key in sorted(_REGISTRY))


class SealedAttribute:
    """A model attribute stored sealed in another column: reading unseals, writing seals.

    For values no query needs (a child's risk flags, a police log number), so forms, templates
    and the sync payload keep reading `episode.police_log_number` while the database holds only
    ciphertext. The associated data is `<kind>:<record id>:<field>`, so the record needs its id
    before the first write; it is given one then if it has none yet (ids are client-side UUIDs).
    """

    def __init__(self, column: str, kind: str, field: str, default: Any = None):
        self.column, self.kind, self.field, self.default = column, kind, field, default

    def __set_name__(self, owner: type, name: str) -> None:
        # Called as the model class is made: the column joins the rotation registry with the
        # very kind and field this attribute seals with, so the two cannot drift apart.
        register_sealed_column(owner, self.column, self.kind, self.field)

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self  # class access: SQLAlchemy's constructor checks the name exists
        return unseal(getattr(obj, self.column), self.kind, obj.id, self.field, self.default)

    def __set__(self, obj: Any, value: Any) -> None:
        if obj.id is None:
            obj.id = new_id()
        setattr(obj, self.column, seal(value, self.kind, obj.id, self.field))
