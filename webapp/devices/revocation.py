"""What a revoked device may still do, decided in one place.

Revoking a device ends its sessions (webapp/accounts/sessions.py). A revoked phone may still hold
work that was never sent, so until it reports that it has wiped itself it may do exactly three
things: learn its standing (with the CSRF token it needs for the rest), upload the changes it
made before the revocation, and report the wipe. After the report it may only learn its standing
and repeat the report. Everything else (pages, pulls, the recovery key, push subscriptions)
answers as if signed out; the API says 410 with wipe=true so the phone wipes itself.

Views opt in with `still_allowed(...)`; `load_user` applies `may()` before any view runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from sync.protocol import ErrorCode, Mutation, PushBatch, Refused
from webapp.devices.models import Device

STANDING = "standing"
UPLOAD = "upload"
REPORT_WIPE = "report_wipe"

_ATTR = "_homeward_revoked_device_may"

# The API's answer to a revoked device for anything else: the field app wipes itself on it.
GONE = {
    "error": "device_revoked",
    "message": "This device has been removed from Homeward. Its data will now be deleted.",
    "wipe": True,
}


def still_allowed(action: str) -> Callable[[Callable], Callable]:
    """Mark a view as one a revoked device may still call (put it under the auth decorator)."""

    def decorator(view: Callable) -> Callable:
        setattr(view, _ATTR, action)
        return view

    return decorator


def action_of(view: Callable | None) -> str | None:
    return getattr(view, _ATTR, None)


def may(device: Device | None, action: str | None) -> bool:
    if device is None or not device.revoked:
        return True
    if action in (STANDING, REPORT_WIPE):
        return True
    return action == UPLOAD and device.wiped_at is None


def made_before_revocation(device: Device, client_time: datetime | None) -> bool:
    # The device's own clock is all there is to say when a change was made offline. A change
    # with no time cannot show that it predates the revocation, so it is refused.
    return client_time is not None and client_time <= device.revoked_at


def refuse_late_changes(device: Device | None, batch: PushBatch) -> PushBatch:
    """The batch with each change a revoked device made after its revocation turned into a
    refusal in its place: the engine answers it alone and the rest of the batch goes on."""
    if device is None or not device.revoked:
        return batch
    items = [
        item
        if not isinstance(item, Mutation) or made_before_revocation(device, item.client_time)
        else Refused(
            mutation_id=item.mutation_id,
            record_type=item.record_type,
            record_id=item.record_id,
            code=ErrorCode.DEVICE_REVOKED,
            message="This change was made after this device was removed from Homeward, so it "
            "was not accepted.",
            field="client_time",
        )
        for item in batch.items
    ]
    return dataclasses.replace(batch, items=items)
