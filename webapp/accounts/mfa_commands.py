"""`homeward users ...` commands for the second factor (issue 15)."""

from __future__ import annotations

import click


@click.command(
    "reset-second-factor",
    help="Remove an account's second factor (a lost phone): its recovery codes go too and every "
    "session of the account ends. If the role requires one, they set it up again at next sign-in.",
)
@click.argument("email")
def reset_second_factor(email: str) -> None:
    from webapp import create_app
    from webapp.accounts import second_factor, service
    from webapp.errors import NotAllowed

    app = create_app()
    with app.app_context():
        try:
            user = service.user_by_email(email)
        except NotAllowed as exc:
            raise click.ClickException(str(exc)) from exc
        # None: the operator on the server (who holds the database anyway), as for deactivate.
        existed = second_factor.reset(None, user)
        what = "Second factor removed" if existed else "The account had no second factor"
        then = (
            "they set one up again when they next sign in"
            if second_factor.required_for(user.role)
            else "they may set one up again from their account page"
        )
        click.echo(f"{what}; every session of the account has ended; {then}.")


COMMANDS: list[click.Command] = [reset_second_factor]
