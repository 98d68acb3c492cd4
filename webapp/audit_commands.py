"""`homeward audit ...`: the audit trail's upkeep (issue 15)."""

from __future__ import annotations

import click


@click.group("audit", help="The audit trail: verify its hash chain.")
def audit() -> None:
    pass
