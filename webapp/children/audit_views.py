"""The page of who viewed or changed a child's record (issue 15): on the children blueprint."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.children import audit_history
from webapp.security import roles_required

_ROUTED: set[int] = set()


def add_routes(bp: Blueprint) -> None:
    # The blueprint lives as long as the process and each app (a test's) registers it again:
    # the rule is added once, before the first registration, as a decorator would add it.
    if id(bp) not in _ROUTED:
        _ROUTED.add(id(bp))
        bp.add_url_rule("/<child_id>/audit", view_func=history, endpoint="audit_history")


@roles_required(Role.MANAGER)
def history(child_id: str):
    # The page number is all the address holds: no name, nothing typed.
    page = request.args.get("page", 1, type=int)
    result = audit_history.history_page(current_user, child_id, page)
    return render_template("children/audit_history.html", result=result)
