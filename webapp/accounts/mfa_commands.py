"""`homeward users ...` commands for the second factor (issue 15)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
