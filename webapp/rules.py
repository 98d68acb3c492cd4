"""The error a service raises when the facts break a rule; views show it beside the field."""

from __future__ import annotations


class RuleError(ValueError):
    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class NotAllowed(PermissionError):
    """The user may see the record but not do this to it (views answer 404 or 403)."""


class ChangedMeanwhile(Exception):
    """The record moved on since the person read it: saving now would silently replace someone
    else's change (views answer 409 and keep what was typed)."""
