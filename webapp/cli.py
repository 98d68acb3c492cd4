"""The `homeward` command: serve, init-db, demo-data, create-user, users, keys."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from sqlalchemy import func, or_, select

from webapp import audit_commands
from webapp.accounts import mfa_commands
from webapp.backups import commands as backup_commands
from webapp.keyring import commands as keyring_commands
from webapp.oversight import commands as oversight_commands
from webapp.retention import commands as retention_commands


def freeze_heap() -> int:
    """Move every object alive now (the app, its modules, SQLAlchemy's mappers and caches) out of
    the garbage collector's reach; returns how many the permanent generation holds.

    A request that loads ORM objects leaves cycles (instance <-> state, parent <-> children) for
    the collector, and each full collection walked the whole heap, some 190,000 objects that live
    as long as the process: in a long run of fresh phones' full copies the collector took 27 of
    117 ms of CPU a copy, 4 of 91 with the heap frozen (bench/profile_pull.py, 30 copies).
    Frozen before gunicorn forks, the workers also keep sharing those pages with the master
    instead of copying them when a collection writes to the objects' headers (Python's gc docs).
    """
    import gc

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _app():
    from webapp import create_app

    return create_app()


@click.group(help="Homeward: return home interviews for children who went missing.")
def main() -> None:
    pass


@main.command("init-db", help="Create or upgrade the database schema (Alembic migrations).")
def init_db() -> None:
    from flask_migrate import upgrade

    app = _app()
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    click.echo("Database schema is up to date.")


@main.command("demo-data", help="Load fictional demo data into an empty database.")
@click.option(
    "--password", default="homeward-demo", show_default=True, help="Password for every demo user."
)
def demo_data(password: str) -> None:
    from webapp import demo
    from webapp.accounts.models import User
    from webapp.extensions import db

    app = _app()
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(User)):
            click.echo("The database already has users: demo data not loaded.")
        else:
            demo.load(password)
            click.echo("Demo data loaded.")
        click.echo(f"Demo sign-ins (password: {password}):")
        for email, role in demo.USERS_SUMMARY:
            click.echo(f"  {email:<22} {role}")


def _find_org(ref: str):
    from webapp.accounts.models import Organisation
    from webapp.extensions import db

    org = db.session.scalar(
        select(Organisation).where(
            or_(
                Organisation.id == ref,
                Organisation.name == ref,
                Organisation.ons_code == ref,
                Organisation.urn == ref,
            )
        )
    )
    if org is None:
        raise click.ClickException(f"No organisation {ref!r}")
    return org


_base_url_option = click.option(
    "--base-url",
    default=lambda: os.environ.get("HOMEWARD_BASE_URL", "http://127.0.0.1:5000"),
    show_default="$HOMEWARD_BASE_URL or http://127.0.0.1:5000",
    help="The address people open Homeward at, for the link.",
)


def _set_password_link(app, user, base_url: str) -> str:
    from flask import url_for

    from webapp.accounts import service

    code = service.issue_reset_token(None, user, app.config["SECRET_KEY"])
    with app.test_request_context(base_url=base_url):
        return url_for("accounts.set_password", code=code, _external=True)


@main.command("create-user", help="Create a user account.")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(
        ["worker", "social_worker", "manager", "dsl", "carer", "admin", "iro", "cme"]
    ),
)
@click.option(
    "--organisation",
    required=True,
    help="Organisation id, name, ONS code (authority) or URN (school).",
)
@click.option("--team", default=None, help="Team id or name (staff only).")
@click.option(
    "--link",
    is_flag=True,
    help="Print a one-time set-password link for the person instead of asking for a password.",
)
@_base_url_option
def create_user(email, name, role, organisation, team, link, base_url) -> None:
    # No --password: a password on the command line stays in shell history and `ps`.
    from webapp.accounts import service
    from webapp.extensions import db

    app = _app()
    with app.app_context():
        password = None
        if not link:
            password = click.prompt(
                f"Password (at least {service.MIN_PASSWORD_LENGTH} characters)",
                hide_input=True,
                confirmation_prompt=True,
            )
        try:
            user = service.create_user(
                email=email,
                name=name,
                password=password,
                role=role,
                organisation=_find_org(organisation),
                team=_find_org(team) if team else None,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        click.echo(f"Created {user.role} {user.email}")
        if link:
            click.echo("Give them this link (it works once, for 24 hours):")
            click.echo(_set_password_link(app, user, base_url))


@main.group(help="User accounts: list, deactivate, reactivate, reset-password, set-role, set-team.")
def users() -> None:
    pass


def _user(email: str):
    from webapp.accounts import service
    from webapp.errors import NotAllowed

    try:
        return service.user_by_email(email)
    except NotAllowed as exc:
        raise click.ClickException(str(exc)) from exc


@users.command("list", help="Every account, or those of one authority.")
@click.option("--authority", default=None, help="Authority id, name or ONS code.")
def users_list(authority: str | None) -> None:
    from webapp.accounts.models import Organisation, User
    from webapp.extensions import db

    app = _app()
    with app.app_context():
        query = select(User).join(Organisation, User.organisation_id == Organisation.id)
        if authority:
            org = _find_org(authority)
            query = query.where(or_(Organisation.id == org.id, Organisation.parent_id == org.id))
        for user in db.session.scalars(query.order_by(User.email)):
            state = "active" if user.active else "deactivated"
            team = f" / {user.team.name}" if user.team else ""
            click.echo(
                f"{user.email:<32} {user.role:<14} {state:<12} {user.organisation.name}{team}"
            )


@users.command("deactivate", help="Stop sign-in, end every session, revoke every device.")
@click.argument("email")
def users_deactivate(email: str) -> None:
    from webapp.accounts import service

    app = _app()
    with app.app_context():
        user = _user(email)
        revoked = service.deactivate(None, user)
        click.echo(f"Deactivated {user.email}: signed out everywhere, {revoked} device(s) revoked.")


@users.command("reactivate", help="Let a deactivated account sign in again.")
@click.argument("email")
def users_reactivate(email: str) -> None:
    from webapp.accounts import service

    app = _app()
    with app.app_context():
        user = _user(email)
        service.reactivate(None, user)
        click.echo(f"Reactivated {user.email}.")


@users.command("reset-password", help="Print a one-time set-password link (valid 24 hours).")
@click.argument("email")
@_base_url_option
def users_reset_password(email: str, base_url: str) -> None:
    from webapp.errors import RuleError

    app = _app()
    with app.app_context():
        user = _user(email)
        try:
            link = _set_password_link(app, user, base_url)
        except RuleError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Set-password link for {user.email} (works once, for 24 hours):")
        click.echo(link)


@users.command("set-role", help="Change an account's role.")
@click.argument("email")
@click.argument(
    "role",
    type=click.Choice(
        ["worker", "social_worker", "manager", "dsl", "carer", "admin", "iro", "cme"]
    ),
)
def users_set_role(email: str, role: str) -> None:
    from webapp.accounts import service
    from webapp.errors import RuleError

    app = _app()
    with app.app_context():
        user = _user(email)
        try:
            service.change_role_and_team(None, user, role, user.team_id)
        except RuleError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"{user.email} is now {user.role}.")


@users.command("set-team", help="Put an account in a team of its authority, or 'none'.")
@click.argument("email")
@click.argument("team")
def users_set_team(email: str, team: str) -> None:
    from webapp.accounts import service
    from webapp.errors import RuleError

    app = _app()
    with app.app_context():
        user = _user(email)
        team_id = None if team.lower() == "none" else _find_org(team).id
        try:
            service.change_role_and_team(None, user, user.role, team_id)
        except RuleError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"{user.email}: team {user.team.name if user.team else 'none'}.")


@main.command("vapid-keys", help="Create the VAPID key pair for Web Push in the instance folder.")
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing if a key is already configured (file or HOMEWARD_VAPID_PRIVATE_KEY).",
)
def vapid_keys(if_missing: bool) -> None:
    from webapp.config import instance_path_from
    from webapp.push.vapid import VapidKeyError, generate_keys, load_keys

    instance = instance_path_from(os.environ)
    try:
        existing = load_keys(os.environ, instance, required=False)
    except VapidKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    if existing is not None:
        if if_missing:
            click.echo(f"VAPID key present; public key {existing.public_key_b64url}")
            return
        raise click.ClickException(
            "A VAPID key already exists; a new one would break every push subscription."
        )
    try:
        path = generate_keys(instance)
    except VapidKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    keys = load_keys(os.environ, instance, required=True)
    click.echo(f"Created {path}; public key {keys.public_key_b64url}")


@main.group(help="Push reminders.")
def reminders() -> None:
    pass


@reminders.command("run", help="Send due reminders: a loop, or one round with --once (cron).")
@click.option("--once", is_flag=True, help="One round, then exit.")
@click.option("--batch-size", type=int, default=50, show_default=True)
@click.option("--threads", type=int, default=8, show_default=True)
def reminders_run(once: bool, batch_size: int, threads: int) -> None:
    import signal
    import threading

    from webapp.reminders import dispatcher

    app = _app()
    sender = dispatcher.from_app(app, batch_size=batch_size, threads=threads)
    if sender is None:
        raise click.ClickException("No VAPID key: run `homeward vapid-keys` first.")
    if not dispatcher.claim_sqlite_slot(app):
        sender.close()
        raise click.ClickException(
            "Another dispatcher is already sending for this SQLite database (one at a time on "
            "SQLite; use PostgreSQL for several)."
        )
    with app.app_context():
        try:
            if once:
                total = 0
                while claimed := sender.run_once():
                    total += claimed
                click.echo(f"{total} reminders handled")
                return
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            sender.run_forever(stop)
        finally:
            sender.close()


@main.group("import", help="Import records from other systems: a school's pupils.")
def import_group() -> None:
    pass


@import_group.command("pupils", help="Import a school's pupils from its MIS export (CSV).")
@click.option("--school", "school_ref", required=True, help="The school's URN (or id or name).")
@click.argument("csv_file", type=click.File("rb"))
def import_pupils(school_ref: str, csv_file) -> None:
    # All or nothing: any bad row, nothing is kept and every problem goes to stderr by line and
    # column only (never a value: a terminal's scrollback is no place for a child's details).
    from webapp.accounts.models import OrgKind
    from webapp.errors import RuleError
    from webapp.schools import pupils

    app = _app()
    with app.app_context():
        school = _find_org(school_ref)
        if school.kind != OrgKind.SCHOOL:
            raise click.ClickException(f"{school_ref!r} is not a school")
        try:
            result = pupils.import_pupils(None, school, csv_file.read())
        except RuleError as exc:
            raise click.ClickException(exc.message) from exc
        if not result.ok:
            for problem in result.errors:
                click.echo(str(problem), err=True)
            click.echo(f"{len(result.errors)} problem(s): nothing imported.", err=True)
            sys.exit(1)
        click.echo(
            f"Imported: {result.created} added, {result.updated} updated, "
            f"{result.unchanged} unchanged."
        )


@main.group("export", help="Statutory returns: the SSDA903 Missing table, the SSD missing extract.")
def export_group() -> None:
    pass


_year_option = click.option(
    "--year",
    type=click.IntRange(2000, 2100),
    required=True,
    help="The collection year by its first April: 2025 is 1 April 2025 to 31 March 2026.",
)
_out_option = click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder the file is written to (made if missing).",
)
_authority_option = click.option(
    "--authority",
    default=None,
    help="The authority's id, name or ONS code (needed when there is more than one).",
)


def _export(kind: str, year: int, out_dir: Path, authority: str | None) -> None:
    # The problems are counted by rule, never listed: a terminal's scrollback is no place for a
    # child's record. The managers' screen (/manage/exports) lists them with links to fix them.
    from webapp.errors import NotFound
    from webapp.oversight import exports, ssda903

    app = _app()
    with app.app_context():
        try:
            org = exports.find_authority(authority)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from exc
        collection = ssda903.CollectionYear(year)
        make = exports.ssda903_file if kind == "ssda903" else exports.ssd_file
        export = make(org.id, collection)
        path = exports.write(out_dir, export)
        click.echo(f"Wrote {path}: {export.rows} rows for {org.name}, {collection.label}.")
        if export.checked is not None:
            failures = export.checked.failures
            by_rule: dict[str, int] = {}
            for problem in failures:
                by_rule[problem.rule] = by_rule.get(problem.rule, 0) + 1
            for rule, count in sorted(by_rule.items()):
                click.echo(f"  rule {rule}: {count} row(s) would fail", err=True)
            if failures:
                click.echo(
                    f"{len(failures)} failure(s): DfE's tool would reject this file. Managers "
                    "see each record to correct on the statutory returns screen (/manage/exports).",
                    err=True,
                )
            unchecked = len({p.child_id for p in export.checked.warnings})
            if unchecked:
                click.echo(
                    f"  rule 581 not checked for {unchecked} child(ren): the date their period "
                    "of care began is not recorded",
                    err=True,
                )


@export_group.command("ssda903", help="Write DIR/ssda903_missing.csv for a collection year.")
@_year_option
@_out_option
@_authority_option
def export_ssda903(year: int, out_dir: Path, authority: str | None) -> None:
    _export("ssda903", year, out_dir, authority)


@export_group.command("ssd-missing", help="Write DIR/ssd_missing.csv for a collection year.")
@_year_option
@_out_option
@_authority_option
def export_ssd_missing(year: int, out_dir: Path, authority: str | None) -> None:
    _export("ssd-missing", year, out_dir, authority)


# Requests one kept-alive connection may carry before the server closes it (`rebalance`).
REQUESTS_PER_CONNECTION = 25


@main.command(help="Serve the app with a production WSGI server (gunicorn).")
@click.option(
    "--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="127.0.0.1"
)
@click.option(
    "--port",
    type=int,
    default=lambda: int(os.environ.get("PORT", "5000")),
    show_default="5000 or $PORT",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    show_default="1 on SQLite, one per CPU on PostgreSQL",
    help="Processes. Keep 1 on SQLite.",
)
@click.option("--threads", type=int, default=8, show_default=True)
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    import threading

    from gunicorn.app.base import BaseApplication

    app = _app()
    if workers is None:
        # One process runs Python on one core at a time: on PostgreSQL, one per CPU lets the
        # server use the machine (issue 14: 50 phones' batches 843-952 records/s with one, 1,109
        # with two on 2 CPUs). SQLite takes one writer at a time: one process.
        sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        workers = 1 if sqlite else max(1, os.cpu_count() or 1)

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")
            # Paths only: a query string could carry an identifier, and logs outlive records.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms')
            # X-Forwarded-* are the app's to judge, from HOMEWARD_TRUSTED_PROXIES only
            # (webapp/proxy.py); gunicorn would otherwise believe X-Forwarded-Proto from any
            # local process, whatever that setting says.
            self.cfg.set("forwarded_allow_ips", "")
            self.cfg.set("pre_request", rebalance)
            self.cfg.set("post_worker_init", worker_ready)

        def load(self):
            return app

    def rebalance(_worker, req) -> None:
        # A kept-alive connection stays with the worker process that accepted it, and phones
        # sending change after change never let theirs go: 20 phones were seen split 13 to 7
        # between two workers, the busier one's core full while the other's idled (issue 14).
        # Closed after a few dozen requests, the phone's next connection goes to whichever
        # worker accepts first, most often the less busy one. A new connection costs well under
        # a millisecond here (and behind the proxy only the proxy's own link to us reconnects).
        if req.req_number >= REQUESTS_PER_CONNECTION:
            req.force_close()

    def worker_ready(worker) -> None:
        frozen = freeze_heap()
        worker.log.info(
            "worker %s: %s long-lived objects left out of garbage collection", worker.pid, frozen
        )
        if in_process:
            start_dispatcher()

    def start_dispatcher() -> None:
        # Single-node mode: the reminder dispatcher runs inside the web worker, as a thread.
        from webapp.reminders import dispatcher

        sender = dispatcher.from_app(app)
        if sender is None:
            click.echo("Push reminders are off: no VAPID key (run `homeward vapid-keys`).")
            return
        if not dispatcher.claim_sqlite_slot(app):
            sender.close()  # another worker (or `homeward reminders run`) is sending already
            return

        def loop() -> None:
            with app.app_context():
                sender.run_forever(threading.Event())

        threading.Thread(target=loop, name="reminders", daemon=True).start()
        click.echo("Reminder dispatcher running inside the web worker.")

    in_process = app.config["HOMEWARD_DISPATCHER"] == "in-process"

    freeze_heap()  # before the workers are forked: they share these pages, and never scan them
    click.echo(f"Homeward is serving on http://{host}:{port} ({workers} worker processes)")
    Server().run()


main.add_command(keyring_commands.keys)
main.add_command(oversight_commands.oversight)
main.add_command(audit_commands.audit)
main.add_command(retention_commands.retention)
for _command in backup_commands.COMMANDS:
    main.add_command(_command)
for _command in mfa_commands.COMMANDS:
    users.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
