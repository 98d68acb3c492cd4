"""Which record types each role keeps on a phone in field mode, from the registered types.

A role with none (managers, social workers) is not invited to set up a phone: it would hold
nothing for them.
"""

from __future__ import annotations

from webapp.fieldsync import registry


def field_record_types(role: str) -> list[str]:
    return registry.for_role(role)


def record_types_by_role() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, rt in registry.record_types().items():
        for role in sorted(rt.roles):
            out.setdefault(str(role), []).append(name)
    return out
