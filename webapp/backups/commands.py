"""`homeward backup` and `homeward restore` (issue 15).

    homeward backup --out FILE [--key-file KEY]    encrypted backup of the database
    homeward backup key [--out KEY]                 a new operator key
    homeward backup verify FILE [--key-file KEY]    authenticate a backup file, print its header
    homeward restore FILE [--key-file KEY]          into an empty database, then migrate it

The operator key comes from --key-file, else HOMEWARD_BACKUP_KEY. Progress goes to stderr and
holds no personal data; stdout carries only the one-line result (and the key, for `backup key`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from webapp.backups import sealed_keys, service, stream

_key_file_option = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"File holding the operator key (base64); otherwise ${stream.ENV_KEY}.",
)


def _say(message: str) -> None:
    click.echo(message, err=True)


def _key(key_file: Path | None) -> bytes:
    try:
        loaded = stream.load_key(os.environ, key_file)
    except stream.BackupKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if loaded.warning:
        _say(loaded.warning)
    _say(f"Backup key {loaded.id} (from {loaded.source})")
    return loaded.key


def _app(**config):
    from webapp import create_app
    from webapp.config import ConfigError
    from webapp.crypto import CryptoError
    from webapp.push.vapid import VapidKeyError

    try:
        return create_app(config or None)
    except (ConfigError, CryptoError, VapidKeyError) as exc:
        raise click.ClickException(f"the instance is not ready: {exc}") from None


def known_revisions() -> set[str]:
    """Every schema revision this code's migrations know (a backup from any of them restores)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from webapp import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


# The instance secrets besides the data keys (which restore requires): (file in the instance
# folder, environment variable, what is lost when the new server makes a new one instead).
OTHER_SECRETS = (
    ("secret-key", "SECRET_KEY", "everyone signs in again; phones sync from scratch"),
    (
        "vapid-private.pem",
        "HOMEWARD_VAPID_PRIVATE_KEY",
        "push reminders stop until phones resubscribe",
    ),
    ("audit-key", "HOMEWARD_AUDIT_KEY", "`homeward audit verify` cannot check the restored trail"),
)


def _warn_missing_secrets() -> None:
    from webapp.config import instance_path_from

    instance = instance_path_from(os.environ)
    for name, env, loss in OTHER_SECRETS:
        if not os.environ.get(env) and not (instance / name).exists():
            _say(f"warning: no {name} in {instance} and no {env}: {loss}. Copy it first.")


@click.group(
    "backup",
    invoke_without_command=True,
    help="Encrypted backup of the database (not the instance secrets): `homeward backup --out "
    "FILE`. Subcommands: key (a new operator key), verify FILE.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The backup file to write (replaced atomically if it exists; mode 0600).",
)
@_key_file_option
@click.pass_context
def backup(ctx: click.Context, out: Path | None, key_file: Path | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise click.UsageError("give --out FILE (or a subcommand: key, verify)")
    key = _key(key_file)
    app = _app()
    started = time.monotonic()
    try:
        result = service.backup(
            app.config["SQLALCHEMY_DATABASE_URI"],
            out,
            key,
            key_checks=sealed_keys.data_key_checks(os.environ, app.instance_path),
            progress=_say,
        )
    except stream.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    _say(
        f"Done in {time.monotonic() - started:.1f} s: {result.dump_bytes / 2**20:.1f} MiB of "
        f"{result.kind} data, {result.file_bytes / 2**20:.1f} MiB encrypted."
    )
    _say("Not in the backup: the instance secrets (data keys, secret key, VAPID and audit keys).")
    click.echo(f"Backup written to {out}")


@backup.command("key", help="Make a new operator key for backups (32 random bytes, base64).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the key to this new file (0600; never replaces one) instead of printing it.",
)
def backup_key(out: Path | None) -> None:
    key = stream.generate_key()
    text = stream.encode_key(key) + "\n"
    if out is None:
        _say("Keep this key away from the backups (see docs/operations/backup.md):")
        click.echo(text, nl=False)
        return
    from webapp import secretfile

    try:
        secretfile.create_exclusive(out, text.encode("ascii"))
    except FileExistsError:
        raise click.ClickException(f"{out} already exists: not replaced") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"Backup key {stream.key_id(key)} written to {out}")


@backup.command("verify", help="Authenticate a whole backup file with the key; print its header.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_key_file_option
def backup_verify(file: Path, key_file: Path | None) -> None:
    key = _key(key_file)
    try:
        header, size = service.verify(file, key)
    except stream.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    revision = header["revision"]
    known = "known to this code" if revision in known_revisions() else "NEWER than this code"
    click.echo(
        f"Backup is complete and authentic: {header['kind']} database of {header['created_at']}, "
        f"schema revision {revision} ({known}), data keys "
        f"{', '.join(header.get('data_key_ids', [])) or 'none'}, {size / 2**20:.1f} MiB of data."
    )


@click.command(
    "restore",
    help="Restore a backup into this instance's EMPTY database (the instance folder must hold "
    "the copied secrets), then bring its schema up to date.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_key_file_option
def restore(file: Path, key_file: Path | None) -> None:
    from flask_migrate import upgrade

    key = _key(key_file)
    _warn_missing_secrets()
    # No new data key may be made here: one made now could read none of the backup's values.
    app = _app(HOMEWARD_ALLOW_KEY_GENERATION=False)
    started = time.monotonic()
    try:
        result = service.restore(
            file,
            key,
            url=app.config["SQLALCHEMY_DATABASE_URI"],
            known_revisions=known_revisions(),
            available_keys=sealed_keys.data_key_checks(os.environ, app.instance_path),
            progress=_say,
        )
    except stream.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    _say(f"Restored {result.dump_bytes / 2**20:.1f} MiB in {time.monotonic() - started:.1f} s.")
    _say("Bringing the schema up to date (homeward init-db)...")
    with app.app_context():
        from webapp.extensions import db

        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    click.echo(
        f"Restored the {result.kind} backup of {result.created_at} (schema revision "
        f"{result.revision}); the schema is up to date."
    )


COMMANDS: list[click.Command] = [backup, restore]
