"""`homeward oversight ...`: upkeep of the figures' own tables."""

from __future__ import annotations

import click


@click.group("oversight", help="Oversight figures: upkeep of what the dashboard counts.")
def oversight() -> None:
    pass


@oversight.command(
    "backfill-factors",
    help="Copy the reason codes of interviews saved before the figures existed (idempotent).",
)
def backfill_factors() -> None:
    from webapp import create_app
    from webapp.oversight import factors

    app = create_app()
    with app.app_context():
        done = factors.backfill()
    # A count only: never a code or an identifier.
    click.echo(f"Push and pull factors rewritten for {done} interviews.")
