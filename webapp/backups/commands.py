"""`homeward backup` and `homeward restore` (issue 15)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
