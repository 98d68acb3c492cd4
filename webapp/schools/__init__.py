"""Schools: the designated safeguarding lead's absence and children-missing-education work, the
school calendar it is counted in, and the authority's children-missing-education officer.

Each part registers its own blueprint below; a part not built yet has none."""

from __future__ import annotations

import importlib

from flask import Flask

# The view modules of the parts, each with a Blueprint `bp` (a missing one is skipped).
VIEW_MODULES = ("calendar_views", "pupil_views", "absence_views", "cme_views")


def init_app(app: Flask) -> None:
    for name in VIEW_MODULES:
        try:
            module = importlib.import_module(f"webapp.schools.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"webapp.schools.{name}":
                raise
            continue
        app.register_blueprint(module.bp)
