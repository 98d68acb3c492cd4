"""Who viewed or changed a child's record, and when: the audit trail of one child, for the
managers of the authority responsible for the child (issue 15).

The responsible authority is the one that keeps the child's record (the data controller); a
manager of a host authority sees the child placed in their area but not who else looked. Anyone
else is answered as if the page did not exist (NotAllowed, like the access rules' NotFound).
Reading the history is itself an audit entry on the child.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from webapp import access, audit, uow
from webapp.accounts.models import Role, User
from webapp.audit import AuditEvent
from webapp.children.models import Child
from webapp.devices.models import Device
from webapp.devices.service import label_from_user_agent
from webapp.errors import NotAllowed
from webapp.extensions import db

PAGE_SIZE = 50

ACTION_LABELS = {
    "view": "Viewed",
    "list": "Listed",
    "create": "Created",
    "update": "Changed",
    "delete": "Deleted",
    "withdraw": "Withdrew",
    "allocate": "Allocated",
    "take": "Took on",
    "pass_on": "Passed on",
    "submit": "Submitted",
    "authorise": "Authorised",
    "send_back": "Sent back",
    "forward_police": "Forwarded to the police",
    "arrange": "Arranged",
    "return": "Recorded the return",
    "sign": "Signed",
    "close": "Closed",
    "search": "Searched",
}
OBJECT_LABELS = {
    "child": "Child record",
    "episode": "Episode",
    "interview": "Return interview",
    "police_copy": "Police copy of the interview",
    "child_profile": "Standing profile",
    "child_photo": "Photo",
    "police_handover": "Police handover",
    "risk_plan": "Risk assessment and plan",
    "escalation_action": "Escalation",
    "school_followup": "School follow-up",
    "school_absence": "School absence",
    "school_enquiry": "School enquiry",
    "school_referral": "School referral",
    "audit_history": "Who saw this record",
}


def _words(code: str | None) -> str:
    return (code or "").replace("_", " ")


@dataclass(frozen=True)
class Entry:
    at: datetime
    person: str
    role: str
    action: str
    what: str
    fields: str
    device: str


@dataclass(frozen=True)
class HistoryPage:
    child: Child
    entries: list[Entry]
    page: int
    pages: int
    total: int


def may_see_history(user: User, child: Child) -> bool:
    """A manager of the child's responsible authority (the caller found the child through the
    access rules already)."""
    return user.role == Role.MANAGER and child.responsible_authority_id == user.authority_id


def _entry(event: AuditEvent, person: User | None, device_label: str | None) -> Entry:
    action = ACTION_LABELS.get(event.action, _words(event.action).capitalize())
    what = OBJECT_LABELS.get(event.object_type, _words(event.object_type).capitalize())
    # detail holds field names (never values): shown as words.
    fields = ", ".join(_words(p.strip()) for p in (event.detail or "").split(",") if p.strip())
    if device_label is None and event.user_agent:
        device_label = label_from_user_agent(event.user_agent)
    return Entry(
        at=event.at,
        person=person.name if person else "The system",
        role=person.role_label if person else "",
        action=action,
        what=what,
        fields=fields,
        device=device_label or "Not recorded",
    )


def history_page(user: User, child_id: str, page: int) -> HistoryPage:
    child = access.get_child_or_404(user, child_id)
    if not may_see_history(user, child):
        raise NotAllowed
    total = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.child_id == child.id)
    )
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = db.session.execute(
        select(AuditEvent, User, Device.label)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(
            Device, and_(Device.id == AuditEvent.device_id, Device.user_id == AuditEvent.user_id)
        )
        .where(AuditEvent.child_id == child.id)
        # Ids are the trail's commit order: newest first.
        .order_by(AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    entries = [_entry(event, person, label) for event, person, label in rows]
    audit.record("view", "audit_history", child.id, child_id=child.id)
    uow.commit()
    return HistoryPage(child=child, entries=entries, page=page, pages=pages, total=total)
