"""Every column that holds sealed tokens, from one place.

Columns behind a `SealedAttribute` register themselves when their model is defined
(webapp/sealed.py). The few sealed by hand with `sealed.seal(...)` are declared below, next to
the code that seals them in spirit: the kind, field and record id here must be exactly those of
the `seal()` call, or rotation could not open the values. tests/integration/test_keys_registry.py
fails when a column of a fully seeded database holds tokens and is not covered here, and when a
model gains an `*_enc` column that no one registered.
"""

from __future__ import annotations

from webapp import sealed
from webapp.sealed import SealedColumn, register_sealed_column


def _declare_hand_sealed() -> None:
    from webapp.accounts import models as accounts_models
    from webapp.devices.models import Device
    from webapp.episodes.models import Episode
    from webapp.fieldsync.models import SyncConflict
    from webapp.interviews.models import Interview

    # webapp/interviews/service.py: save_section, return_for_changes.
    register_sealed_column(Interview, "content_enc", "interview", "content")
    register_sealed_column(Interview, "intelligence_enc", "interview", "intelligence")
    register_sealed_column(Interview, "review_note_enc", "interview", "review_note")
    # webapp/episodes/service.py: report_missing, correct.
    register_sealed_column(Episode, "circumstances_enc", "episode", "circumstances")
    # webapp/fieldsync/store.py: the losing copy of a conflicting edit.
    register_sealed_column(SyncConflict, "payload_enc", "sync_conflict", "payload")
    # webapp/devices/service.py: bound to "<device id>:<user id>" (the table's two-part key).
    register_sealed_column(Device, "recovery_key_enc", "device", "recovery", ("id", "user_id"))
    # webapp/accounts/second_factor.py: bound to the account. Looked up by name because the
    # second factor (issue 15) lands separately; once it has, this is an ordinary declaration.
    second_factor = getattr(accounts_models, "SecondFactor", None)
    if second_factor is not None:
        register_sealed_column(second_factor, "secret_enc", "second_factor", "secret", ("user_id",))


def sealed_columns() -> tuple[SealedColumn, ...]:
    """Every sealed column of the schema, in a stable order."""
    from webapp import models

    # Every model imported and mapped, so every SealedAttribute has registered its column.
    models.configure()
    _declare_hand_sealed()
    return sealed.registered_columns()
