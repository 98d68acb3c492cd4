"""`homeward keys`: generate, list, rotate, retire.

Output names keys, tables and columns, and counts; never a value, and never key material.
"""

from __future__ import annotations

import os
import sys

import click

from webapp import crypto

ENV_NOTE = (
    f"{crypto.ENV_KEYS} is set, so keys come from the environment and the key file is not read"
)


def _instance():
    from webapp.config import instance_path_from

    return instance_path_from(os.environ)


def _keys_from_env() -> bool:
    return crypto.ENV_KEYS in os.environ


def _source() -> str:
    if _keys_from_env():
        return crypto.ENV_KEYS
    return str(_instance() / crypto.KEY_FILE_NAME)


def _app():
    from webapp import create_app

    return create_app()


@click.group(help="Data encryption keys: generate, list, rotate, retire.")
def keys() -> None:
    pass


@keys.command("generate", help="Add a new data key in the instance folder and make it active.")
def keys_generate() -> None:
    instance = _instance()
    before = crypto.read_key_file(instance)
    kid = crypto.add_key_to_file(instance, make_active=True)
    path = instance / crypto.KEY_FILE_NAME
    if _keys_from_env():
        # load_cipher reads HOMEWARD_DATA_KEYS alone when it is set: the file is ignored.
        click.echo(f"Added data key {kid} to {path}, but it is NOT in use: {ENV_NOTE}.")
        click.echo(
            f"To use it, copy it from the file into {crypto.ENV_KEYS} as '{kid}:<key>' on every "
            f"server, set {crypto.ENV_ACTIVE_KEY_ID}={kid} (or list it last), and restart them."
        )
        return
    if before is None:
        click.echo(f"Created {path} with data key {kid}, the instance's first key.")
        click.echo(f"Homeward seals new values with {kid} from its next start.")
        return
    click.echo(f"Added data key {kid} to {path} and made it the active key (was {before[1]}).")
    click.echo(
        "Homeward reads its keys when it starts: every running process using this instance "
        "folder (homeward serve, homeward reminders run) keeps sealing new values with "
        f"{before[1]} until it is restarted. Restart them now."
    )
    click.echo(
        f"After the restart new values are sealed with {kid}. Values already stored stay under "
        "their old key (still readable) until `homeward keys rotate` re-encrypts them."
    )
    if os.environ.get(crypto.ENV_ACTIVE_KEY_ID):
        click.echo(
            f"Note: {crypto.ENV_ACTIVE_KEY_ID} is set but only applies with {crypto.ENV_KEYS}; "
            "with the key file, the file's active key is used."
        )


def _columns_and_strays(app, kid: str | None = None):
    from webapp.extensions import db
    from webapp.keyring import registry, usage

    columns = registry.sealed_columns()
    with db.engine.connect() as conn:
        strays = usage.stray_tokens(conn, columns, kid)
    return columns, strays


def _echo_strays(strays: dict[str, int]) -> None:
    for name, n in sorted(strays.items()):
        click.echo(f"  {name}: {n} value(s)", err=True)


@keys.command("list", help="The keys, which is active, where they come from, values using each.")
def keys_list() -> None:
    from webapp.extensions import db
    from webapp.keyring import usage

    app = _app()
    with app.app_context():
        cipher = app.extensions["homeward_cipher"]
        columns, strays = _columns_and_strays(app)
        with db.engine.connect() as conn:
            usages = usage.count_by_key(conn, columns, cipher.key_ids)
        click.echo(f"Keys from {_source()}:")
        for kid in cipher.key_ids:
            n = sum(u.by_key[kid] for u in usages)
            state = "active" if kid == cipher.active_key_id else ""
            click.echo(f"  {kid:<34} {state:<7} {n} value(s)")
        other = sum(u.other for u in usages)
        if other:
            click.echo(f"{other} value(s) are under a key not configured here (unreadable):")
            for u in usages:
                if u.other:
                    click.echo(f"  {u.name}: {u.other}")
        if strays:
            click.echo(
                "Sealed values in columns rotation does not know (add them to "
                "webapp/keyring/registry.py):",
                err=True,
            )
            _echo_strays(strays)


@keys.command("rotate", help="Re-encrypt every sealed value under the active key, online.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Values per transaction.",
)
@click.option(
    "--pause",
    type=click.FloatRange(0, 60),
    default=0.0,
    show_default=True,
    help="Seconds to wait between batches, to spare a busy server.",
)
def keys_rotate(batch_size: int, pause: float) -> None:
    from webapp import audit
    from webapp.extensions import db
    from webapp.keyring import rotate

    app = _app()
    with app.app_context():
        cipher = app.extensions["homeward_cipher"]
        columns, strays = _columns_and_strays(app)
        if strays:
            click.echo(
                "Refusing to rotate: these columns hold sealed values but are not in the registry "
                "(webapp/keyring/registry.py), so they would stay under their old key. "
                "Nothing was changed.",
                err=True,
            )
            _echo_strays(strays)
            sys.exit(1)
        click.echo(
            f"Re-encrypting under key {cipher.active_key_id} (keys from {_source()}), "
            f"{batch_size} values a transaction."
        )

        def progress(r: rotate.ColumnResult) -> None:
            click.echo(f"  {r.name}: {r.rotated} of {r.to_do} re-encrypted")

        def column_done(r: rotate.ColumnResult) -> None:
            if not r.to_do:
                return
            extra = (
                f", {r.changed_meanwhile} changed by the app meanwhile"
                if r.changed_meanwhile
                else ""
            )
            click.echo(f"{r.name}: {r.rotated} re-encrypted{extra}, {r.remaining} left")

        report = rotate.rotate_all(
            db.engine,
            cipher,
            columns,
            batch_size=batch_size,
            pause=pause,
            progress=progress,
            on_column_done=column_done,
        )
        audit.record(
            "data_key_rotation",
            "data_key",
            cipher.active_key_id,
            detail=f"{report.rotated} values re-encrypted, {report.remaining} left",
        )
        db.session.commit()
        if report.complete:
            click.echo(
                f"Done: {report.rotated} value(s) re-encrypted; every sealed value on the server "
                f"is under {cipher.active_key_id}. Older keys can now be retired "
                "(`homeward keys retire KID`)."
            )
            return
        click.echo(
            f"Not finished: {report.remaining} value(s) are not under {cipher.active_key_id}:",
            err=True,
        )
        for r in report.columns:
            if r.remaining:
                click.echo(f"  {r.name}: {r.remaining}", err=True)
            if r.failed:
                shown = ", ".join(sorted(r.failed)[:20])
                more = f" and {len(r.failed) - 20} more" if len(r.failed) > 20 else ""
                click.echo(
                    f"  {r.name}: {len(r.failed)} would not decrypt (tampered, moved, or under a "
                    f"key not configured here); record ids: {shown}{more}",
                    err=True,
                )
        click.echo(
            "Values the app changed during the run are picked up by running it again; if a "
            "server still seals with an older key, restart it first.",
            err=True,
        )
        sys.exit(1)


@keys.command("retire", help="Remove a key no stored value uses any more.")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    from webapp import audit
    from webapp.extensions import db
    from webapp.keyring import usage

    app = _app()
    with app.app_context():
        cipher = app.extensions["homeward_cipher"]
        if kid == cipher.active_key_id:
            raise click.ClickException(
                f"{kid} is the active key: new values are sealed with it. Make another key active "
                "(`homeward keys generate`, restart), run `homeward keys rotate`, then retire it."
            )
        if kid not in cipher.key_ids:
            raise click.ClickException(
                f"No key {kid!r} in {_source()} (have: {', '.join(cipher.key_ids)})."
            )
        columns, strays = _columns_and_strays(app, kid)
        with db.engine.connect() as conn:
            usages = usage.count_by_key(conn, columns, [kid])
        in_use = {u.name: u.by_key[kid] for u in usages if u.by_key[kid]} | strays
        if in_use:
            click.echo(
                f"Refusing to retire {kid}: {sum(in_use.values())} value(s) on the server still "
                "use it:",
                err=True,
            )
            for name, n in sorted(in_use.items()):
                click.echo(f"  {name}: {n}", err=True)
            click.echo("Run `homeward keys rotate` first. Nothing was changed.", err=True)
            sys.exit(1)
        if _keys_from_env():
            click.echo(
                f"No value on the server uses {kid}. {ENV_NOTE}: remove the entry {kid} from "
                f"{crypto.ENV_KEYS} on every server and restart them. This command changed nothing."
            )
            return
        crypto.remove_key_from_file(_instance(), kid)
        audit.record("data_key_retired", "data_key", kid)
        db.session.commit()
        click.echo(
            f"Retired {kid}: no value on the server used it, and it is removed from {_source()}. "
            "Running processes still hold it in memory until they restart. Backups taken before "
            f"the rotation need {kid} to be read: keep it in your key escrow as long as them."
        )
