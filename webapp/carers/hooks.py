"""Every child has a profile row from the moment the child is recorded.

The profile is the carer's field-mode record for the child (webapp/carers/sync.py), so it must
exist however the child was created: a manager's form, the demo loader, an import, a test
factory. Inserted on the same connection as the child, in the same flush; the change log then
logs it through the child (the "child" record type shows Child rows).
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event

from webapp.carers.models import ChildProfile
from webapp.children.models import Child
from webapp.db_types import utcnow


def init_app(app: Flask) -> None:
    # On the mapper, once per process (every app shares the models).
    if not event.contains(Child, "after_insert", _profile_for_new_child):
        event.listen(Child, "after_insert", _profile_for_new_child)


def _profile_for_new_child(mapper, connection, child: Child) -> None:
    now = utcnow()
    connection.execute(
        ChildProfile.__table__.insert().values(
            id=child.id, version=1, created_at=now, updated_at=now
        )
    )
