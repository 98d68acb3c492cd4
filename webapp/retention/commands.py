"""`homeward retention ...` (issue 15): report, then apply what was signed off.

    homeward retention report            # a dry run, kept: prints its digest
    homeward retention report --json     # the same as JSON (for the sign-off record)
    homeward retention apply --report DIGEST --confirm
    homeward retention record-death CHILD_ID YYYY-MM-DD

Only pseudonymous ids, rules, dates and counts are printed: never a name or anything recorded
about a child. docs/operations/retention.md is the operator's guide.
"""

from __future__ import annotations

import json
from datetime import date

import click


def _app():
    from webapp import create_app

    return create_app()


@click.group("retention", help="Retention of closed cases: report, then delete.")
def retention() -> None:
    pass


def _print_report(report) -> None:
    from webapp.retention import rules

    body = report.body
    totals = body["totals"]
    echo = click.echo
    echo(f"Retention report {report.id} as of {body['as_of']}")
    echo(f"Digest: {report.digest}")
    s = body["settings"]
    echo(
        "Settings: looked-after children per regulation 50; others "
        + (
            f"{s['years_other']} years after the case closed"
            if s["years_other"]
            else "kept (no local period set)"
        )
        + (f", never before their {s['min_age_other']}th birthday" if s["min_age_other"] else "")
    )
    echo(f"Children checked: {totals['checked']}; due for deletion: {totals['due']}")
    if totals["by_rule"]:
        echo("Due, by rule:")
        for rule, n in sorted(totals["by_rule"].items()):
            echo(f"  {n:>7}  {rules.RULE_LABELS.get(rule, rule)}")
    if totals["rows"]:
        echo("Rows that would be deleted, by table:")
        for table, n in sorted(totals["rows"].items()):
            echo(f"  {n:>7}  {table}")
    if body["held"]:
        echo("Past their date but kept, because something is still in progress:")
        for hold, n in sorted(body["held"].items()):
            echo(f"  {n:>7}  {rules.HOLD_LABELS.get(hold, hold)}")
    if body["items"]:
        echo("Children due (pseudonymous id, rule, due from):")
        for item in body["items"]:
            echo(f"  {item['child']}  {item['rule']}  {item['due_from']}")
        echo("")
        echo("Nothing has been deleted. After sign-off, delete exactly these with:")
        echo(f"  homeward retention apply --report {report.digest[:16]} --confirm")
    else:
        echo("Nothing is due: nothing to delete.")


@retention.command("report", help="List what would be deleted and why (deletes nothing).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def report_command(as_json: bool) -> None:
    from webapp.retention import rules, service

    app = _app()
    with app.app_context():
        try:
            report = service.make_report()
        except rules.SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(
                json.dumps(
                    {"id": report.id, "digest": report.digest, **report.body},
                    indent=2,
                    sort_keys=True,
                )
            )
        else:
            _print_report(report)


@retention.command("apply", help="Delete exactly what the latest report listed.")
@click.option(
    "--report",
    "report_ref",
    required=True,
    metavar="DIGEST",
    help="The latest report's digest (at least its first 16 characters), as signed off.",
)
@click.option("--confirm", is_flag=True, help="Required: this deletes records for good.")
@click.option(
    "--batch", default=50, show_default=True, type=click.IntRange(1, 1000), help="Children a batch."
)
def apply_command(report_ref: str, confirm: bool, batch: int) -> None:
    from webapp.retention import rules, service

    if not confirm:
        raise click.ClickException(
            "This deletes children's records for good: add --confirm once the report is signed off"
        )
    app = _app()
    with app.app_context():

        def progress(done: int, total: int) -> None:
            click.echo(f"  {done}/{total} children checked", err=True)

        try:
            outcome = service.apply_report(report_ref, batch=batch, progress=progress)
        except (service.RetentionError, rules.SettingsError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Deleted {len(outcome.deleted)} children's records.")
        for table, n in sorted(outcome.rows.items()):
            click.echo(f"  {n:>7}  {table}")
        if outcome.skipped:
            click.echo(f"Not deleted ({len(outcome.skipped)}): run a new report for these.")
            for child_id, why in sorted(outcome.skipped.items()):
                click.echo(f"  {child_id}  {why}")


@retention.command("record-death", help="Record the date a child died (YYYY-MM-DD).")
@click.argument("child_id")
@click.argument("died_on", type=click.DateTime(formats=["%Y-%m-%d"]))
def record_death_command(child_id: str, died_on) -> None:
    from webapp.retention import service

    app = _app()
    with app.app_context():
        try:
            service.record_death(child_id, date(died_on.year, died_on.month, died_on.day))
        except service.RetentionError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("Date of death recorded.")
