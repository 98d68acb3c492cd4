"""`homeward retention ...` (issue 15)."""

from __future__ import annotations

import click


@click.group("retention", help="Retention of closed cases: report, then delete.")
def retention() -> None:
    pass
