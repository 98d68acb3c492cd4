"""The app's field cipher, and sealing helpers that bind each value to its record and field.

The associated data names the record and the field ("interview:<id>:content"), so a ciphertext
copied into another row or column fails to decrypt instead of showing the wrong child's words.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from webapp.crypto import FieldCipher


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
