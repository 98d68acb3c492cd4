"""The app's field cipher, and sealing helpers that bind each value to its record and field.

The associated data names the record and the field ("interview:<id>:content"), so a ciphertext
copied into another row or column fails to decrypt instead of showing the wrong child's words.
"""

from __future__ import annotations

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


class SealedAttribute:
    """A model attribute stored sealed in another column: reading unseals, writing seals.

    For values no query needs (a child's risk flags, a police log number), so forms, templates
    and the sync payload keep reading `episode.police_log_number` while the database holds only
    ciphertext. The associated data is `<kind>:<record id>:<field>`, so the record needs its id
    before the first write; it is given one then if it has none yet (ids are client-side UUIDs).
    """

    def __init__(self, column: str, kind: str, field: str, default: Any = None):
        self.column, self.kind, self.field, self.default = column, kind, field, default

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self  # class access: SQLAlchemy's constructor checks the name exists
        return unseal(getattr(obj, self.column), self.kind, obj.id, self.field, self.default)

    def __set__(self, obj: Any, value: Any) -> None:
        if obj.id is None:
            obj.id = new_id()
        setattr(obj, self.column, seal(value, self.kind, obj.id, self.field))
