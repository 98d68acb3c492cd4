"""Template globals and filters: UK local times, the navigation for each role."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, request, url_for
from flask_login import current_user

from webapp import access, deadlines
from webapp.accounts.models import Role


def local_time(value: datetime | None, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
    if value is None:
        return ""
    return deadlines.to_local(value).strftime(fmt)


def local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = deadlines.to_local(value)
    return value.strftime("%-d %B %Y")


def iso(value: datetime | None) -> str:
    return deadlines.to_local(value).isoformat() if value else ""


def _nav_items() -> list[dict]:
    from webapp.field.records import field_record_types
    from webapp.reminders import service as reminders

    if not current_user.is_authenticated:
        return []
    role = current_user.role
    items: list[tuple[str, str]] = []
    if role in (Role.WORKER, Role.SOCIAL_WORKER):
        # A social worker may hold a looked-after child's interview (the Hertfordshire model).
        items.append(("interviews.my_returns", "My returns"))
    if role == Role.MANAGER:
        items.append(("oversight.dashboard", "Returns and escalations"))
    if role == Role.SENIOR_MANAGER:
        # The Assistant Director oversees: the figures and the monthly meeting pack, read only
        # (a manager reaches both from the manager's page).
        items.append(("figures.page", "Figures"))
        items.append(("meeting.page", "Missing meeting pack"))
    if role in access.CHILDREN_READERS:
        items.append(("children.index", "Children"))
    if role == Role.CME:
        items.append(("cme.worklist", "Children missing education"))
    if role == Role.DSL:
        # The school's side: the morning register follow-up, its pupils, its calendar.
        items.append(("school_absences.register", "Register follow-up"))
        items.append(("school_pupils.index", "Pupils"))
        items.append(("school_calendar.own", "School calendar"))
    if field_record_types(role):
        # Only a role whose records live on a phone is invited to set one up.
        items.append(("field.shell", "Field mode"))
    if role == Role.ADMIN:
        items.append(("admin.users", "Users"))
    if role in (Role.MANAGER, Role.ADMIN):
        items.append(("devices.index", "Devices"))
    unread = reminders.unread_count(current_user)
    label = f"Notifications ({unread} new)" if unread else "Notifications"
    items.append(("reminders.centre", label))
    items.append(("accounts.account", "Your account"))
    return [
        {"href": url_for(ep), "text": text, "active": request.endpoint == ep} for ep, text in items
    ]


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(iso, "iso")
    app.add_template_filter(datetime.fromisoformat, "fromiso")

    @app.context_processor
    def globals_():
        return {"nav_items": _nav_items(), "Role": Role}
