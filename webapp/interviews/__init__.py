"""Return home interviews: the workflow (workflow.py), the question set, the web pages."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Imported here, not at the top: the package is imported by the models and access rules its
    # views depend on, so importing the views with the package would be a cycle.
    from webapp.fieldsync import registry
    from webapp.interviews import sync, views, workflow

    app.register_blueprint(views.bp)
    registry.register(app, sync.RECORD_TYPE)
    # Templates show the workflow's words for an action, never their own.
    app.add_template_global(lambda action: workflow.TRANSITIONS[action].label, "action_label")
