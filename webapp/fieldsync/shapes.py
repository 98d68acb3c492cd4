"""What a payload from a device must look like, field by field: the record types' handlers check
shape here (types, times with their offsets) and leave what a value may be (its length, whether
it is needed) to the services, which answer the web form and the device in the same words."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm.exc import StaleDataError

from sync.store import PayloadError, StaleWrite
from webapp.errors import NotAllowed, NotFound, RuleError


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


def as_payload_errors(
    fn,
    *args,
    not_allowed: str = "Not allowed",
    fields: Mapping[type[Exception], str] | None = None,
    **kwargs,
):
    """Call a service for a device's change; its refusals in the sync engine's terms: a rule
    broken (RuleError) or an error `fields` names (PhotoError -> "photo") is a PayloadError
    naming the field (422), a record moved meanwhile is a StaleWrite (a conflict), and a person
    not allowed is refused with `not_allowed` (never saying whose record it is)."""
    try:
        return fn(*args, **kwargs)
    except StaleDataError as err:
        raise StaleWrite("the record changed while it was being written") from err
    except RuleError as err:
        raise PayloadError(err.field, err.message) from err
    except (NotAllowed, NotFound) as err:
        raise PayloadError(None, str(err) or not_allowed) from err
    except Exception as err:
        field = next((f for cls, f in (fields or {}).items() if isinstance(err, cls)), None)
        if field is None:
            raise
        raise PayloadError(field, getattr(err, "message", str(err))) from err
