"""What a payload from a device must look like, field by field: the record types' handlers check
shape here (types, times with their offsets) and leave what a value may be (its length, whether
it is needed) to the services, which answer the web form and the device in the same words."""

from __future__ import annotations

from datetime import datetime

from sync.store import PayloadError


def text(payload: dict, key: str, field: str | None = None) -> str | None:
    """A text, or None for none ("" too). `field` names it in the refusal (default: key)."""
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(field or key, "must be text")
    return value


def time(payload: dict, key: str) -> datetime | None:
    """An instant with its offset ("2026-11-30T09:00:00+00:00"), or None. A time with no offset
    is refused: the phone's wall clock says nothing about which instant it meant."""
    value = payload.get(key)
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PayloadError(key, "must be a date and time with its offset")
    return parsed
