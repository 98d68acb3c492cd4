"""Children: create, list and read, always through the access rules, always audited."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from sqlalchemy import and_, func, or_, select

from webapp import access, audit, deadlines, uow
from webapp.accounts.models import Organisation, OrgKind, Role, User
from webapp.children.models import (
    FLAG_LABELS,
    SEX_LABELS,
    Child,
    ChildChange,
    LegalStatus,
)
from webapp.db_types import new_id, utcnow
from webapp.episodes.models import Episode, EpisodeStatus
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db
from webapp.interviews.models import Interview
from webapp.schools.pupil_rules import normalise_upn, parse_date


def read_child(user: User, child_id: str) -> Child:
    child = access.get_child_or_404(user, child_id)
    audit.record("view", "child", child.id, child_id=child.id)
    uow.commit()
    return child


def visible_episodes(user: User, child: Child) -> list[Episode]:
    """The child's episodes this person may see, latest first."""
    return list(
        db.session.scalars(
            access.episodes_query(user)
            .where(Episode.child_id == child.id)
            .order_by(Episode.last_seen_at.desc())
        )
    )


def visible_interviews(user: User, child: Child) -> list[Interview]:
    """The child's interviews this person may see, latest due first."""
    return list(
        db.session.scalars(
            access.interviews_query(user)
            .where(Interview.child_id == child.id)
            .order_by(Interview.due_at.desc())
        )
    )


def history(child: Child) -> list[deadlines.EpisodeFacts]:
    """The child's episodes as the rules count them (a withdrawn one counts for nothing)."""
    episodes = db.session.scalars(
        select(Episode)
        .where(Episode.child_id == child.id, Episode.status != EpisodeStatus.WITHDRAWN)
        .order_by(Episode.last_seen_at)
    ).all()
    # The flags are sealed: decrypted once for the child, not once per episode.
    trafficking = child.flag_trafficking
    return [facts(e, child, trafficking=trafficking) for e in episodes]


def facts(
    episode: Episode, child: Child | None = None, *, trafficking: bool | None = None
) -> deadlines.EpisodeFacts:
    child = child or episode.child
    return deadlines.EpisodeFacts(
        id=episode.id,
        last_seen_at=episode.last_seen_at,
        returned_at=episode.returned_at,
        looked_after=child.looked_after,
        legal_status=child.legal_status,
        # "away" (whereabouts known) raises no missing-time escalation.
        reported_type=episode.reported_type,
        trafficking=child.flag_trafficking if trafficking is None else trafficking,
    )


def thresholds() -> deadlines.Thresholds:
    return current_app.config["HOMEWARD_THRESHOLDS"]


def create_child(user: User, data: dict) -> Child:
    if not access.can_manage(user):
        raise NotAllowed("Only managers add children")
    dob: date = data["date_of_birth"]
    if dob > utcnow().date():
        raise RuleError("date_of_birth", "Date of birth must be in the past")
    if (utcnow().date() - dob).days > 25 * 366:
        raise RuleError("date_of_birth", "Homeward is for children and care leavers up to 25")
    legal = LegalStatus(data.get("legal_status") or LegalStatus.NONE)
    looked_after = legal == LegalStatus.LOOKED_AFTER or bool(data.get("looked_after"))
    since = _care_start(data.get("looked_after_since"), looked_after, dob)
    child = Child(
        first_name=data["first_name"].strip(),
        last_name=data["last_name"].strip(),
        date_of_birth=dob,
        sex=data["sex"],
        legal_status=legal,
        looked_after=looked_after,
        looked_after_since=since,
        responsible_authority_id=user.authority_id,
        school_id=data.get("school_id") or None,
        social_worker_id=data.get("social_worker_id") or None,
        carer_id=data.get("carer_id") or None,
        iro_id=data.get("iro_id") or None,
        flag_cse=bool(data.get("flag_cse")),
        flag_trafficking=bool(data.get("flag_trafficking")),
        flag_mental_health=bool(data.get("flag_mental_health")),
        flag_disability=bool(data.get("flag_disability")),
    )
    _check_links(user, child)
    db.session.add(child)
    db.session.flush()
    audit.record("create", "child", child.id, child_id=child.id)
    uow.commit()
    return child


def _care_start(
    value: date | None, looked_after: bool, dob: date, current: date | None = None
) -> date | None:
    """When the current period of care began: only for a looked-after child, never in the
    future, never before the child was born. The SSDA903 return checks each missing period
    starts inside it (DfE rule 581). A child leaving care loses it (the form still holds the old
    date then: cleared, not refused); a new date typed for a child who is not looked after is
    refused, so nothing typed is silently dropped."""
    if not looked_after:
        if value is not None and value != current:
            raise RuleError(
                "looked_after_since",
                "The date care began is only for a looked-after child: choose Looked after, or "
                "leave the date empty",
            )
        return None
    if value is None:
        return None
    if value > utcnow().date():
        raise RuleError("looked_after_since", "The date care began must be today or in the past")
    if value < dob:
        raise RuleError(
            "looked_after_since", "The date care began must be on or after the date of birth"
        )
    return value


def _check_links(user: User, child: Child) -> None:
    """A manager may only link a child to people and schools in their own authority."""
    if child.school_id:
        school = db.session.get(Organisation, child.school_id)
        if school is None or school.kind != OrgKind.SCHOOL:
            raise RuleError("school_id", "Choose a school from the list")
    for field, role in (
        ("social_worker_id", Role.SOCIAL_WORKER),
        ("carer_id", Role.CARER),
        ("iro_id", Role.IRO),
    ):
        person_id = getattr(child, field)
        if person_id:
            person = db.session.get(User, person_id)
            if person is None or person.role != role or person.authority_id != user.authority_id:
                raise RuleError(field, "Choose someone from the list")
    if child.iro_id and not child.looked_after:
        # An IRO reviews a looked-after child's care plan; access follows the same rule.
        raise RuleError("iro_id", "Only a looked-after child has an independent reviewing officer")


def choices_for(user: User) -> dict[str, list[tuple[str, str]]]:
    """Schools, social workers, carers and IROs a manager may link a child to."""
    la = user.authority_id
    schools = db.session.scalars(
        select(Organisation)
        .where(Organisation.kind == OrgKind.SCHOOL, Organisation.parent_id == la)
        .order_by(Organisation.name)
    ).all()
    people = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    return {
        "school_id": [(s.id, s.name) for s in schools],
        "social_worker_id": [
            (p.id, p.name) for p in people if p.role == Role.SOCIAL_WORKER and p.authority_id == la
        ],
        "carer_id": [
            (p.id, p.name) for p in people if p.role == Role.CARER and p.authority_id == la
        ],
        "iro_id": [(p.id, p.name) for p in people if p.role == Role.IRO and p.authority_id == la],
    }


def edit_choices_for(user: User) -> dict[str, list[tuple[str, str]]]:
    """choices_for, and the authorities and placements a child's record may name."""
    orgs = db.session.scalars(
        select(Organisation)
        .where(Organisation.kind.in_((OrgKind.LOCAL_AUTHORITY, OrgKind.PROVIDER)))
        .order_by(Organisation.name)
    ).all()
    return choices_for(user) | {
        "responsible_authority_id": [
            (o.id, o.name) for o in orgs if o.kind == OrgKind.LOCAL_AUTHORITY
        ],
        "host_authority_id": [(o.id, o.name) for o in orgs if o.kind == OrgKind.LOCAL_AUTHORITY],
        "placement_provider_id": [(o.id, o.name) for o in orgs if o.kind == OrgKind.PROVIDER],
    }


# ---------------------------------------------------------------- corrections

EDITABLE = (
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "legal_status",
    "looked_after_since",
    "authority_child_id",
    "responsible_authority_id",
    "host_authority_id",
    "placement_provider_id",
    "carer_id",
    "school_id",
    "social_worker_id",
    "iro_id",
    "flags",
)
FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "legal_status": "Legal status",
    "looked_after_since": "Looked after since",
    "authority_child_id": "Authority's child identifier",
    "responsible_authority_id": "Responsible authority",
    "host_authority_id": "Host authority (placed out of area)",
    "placement_provider_id": "Placement",
    "carer_id": "Carer",
    "school_id": "School",
    "social_worker_id": "Social worker",
    "iro_id": "Independent reviewing officer",
    "flags": "Risk flags",
}
AUTHORITY_ID_MAX = 20


def _name_of(model, row_id: str | None) -> str:
    row = db.session.get(model, row_id) if row_id else None
    return row.name if row is not None else "None"


def snapshot(child: Child) -> dict[str, str]:
    """Each editable field as the history shows it (names, not ids)."""
    return {
        "first_name": child.first_name,
        "last_name": child.last_name,
        "date_of_birth": child.date_of_birth.strftime("%-d %B %Y"),
        "sex": SEX_LABELS.get(child.sex, child.sex),
        "legal_status": child.legal_status_label,
        "looked_after_since": (
            child.looked_after_since.strftime("%-d %B %Y") if child.looked_after_since else "None"
        ),
        "authority_child_id": child.authority_child_id or "None",
        "responsible_authority_id": _name_of(Organisation, child.responsible_authority_id),
        "host_authority_id": _name_of(Organisation, child.host_authority_id),
        "placement_provider_id": _name_of(Organisation, child.placement_provider_id),
        "carer_id": _name_of(User, child.carer_id),
        "school_id": _name_of(Organisation, child.school_id),
        "social_worker_id": _name_of(User, child.social_worker_id),
        "iro_id": _name_of(User, child.iro_id),
        "flags": ", ".join(child.flags) or "None",
    }


def _org(field: str, org_id: str | None, kind: str, message: str) -> str | None:
    if not org_id:
        return None
    org = db.session.get(Organisation, org_id)
    if org is None or org.kind != kind:
        raise RuleError(field, message)
    return org.id


def update_child(
    user: User, child: Child, data: dict, *, seen: datetime | None
) -> ChildChange | None:
    """A manager corrects a child's record. `seen`: the record's updated_at when the form was
    drawn; someone else's change since is not silently overwritten. The change, its author and
    what each field said before and after (sealed) are kept in the child's history; reminders
    and escalations follow (the reminders' hooks watch the child's facts)."""
    if not access.can_manage(user):
        raise NotAllowed("Only managers correct a child's record")
    if seen is not None and deadlines.ensure_utc(child.updated_at) != deadlines.ensure_utc(seen):
        raise RuleError(
            None,
            "Someone else changed this child's record while you were editing it: "
            "check what it says now and make your change again",
        )
    dob: date = data["date_of_birth"]
    if dob > utcnow().date():
        raise RuleError("date_of_birth", "Date of birth must be in the past")
    if (utcnow().date() - dob).days > 25 * 366:
        raise RuleError("date_of_birth", "Homeward is for children and care leavers up to 25")
    _no_episode_before_birth(child, dob)
    ident = (data.get("authority_child_id") or "").strip() or None
    if ident and len(ident) > AUTHORITY_ID_MAX:
        raise RuleError("authority_child_id", f"Enter {AUTHORITY_ID_MAX} characters or fewer")
    responsible = (
        _org(
            "responsible_authority_id",
            data.get("responsible_authority_id"),
            OrgKind.LOCAL_AUTHORITY,
            "Choose a local authority from the list",
        )
        or child.responsible_authority_id
    )
    if ident and db.session.scalar(
        select(Child.id).where(
            Child.responsible_authority_id == responsible,
            Child.authority_child_id == ident,
            Child.id != child.id,
        )
    ):
        raise RuleError("authority_child_id", "Another child of the authority has this identifier")
    before = snapshot(child)
    # Nothing is written until every value is checked: a refusal leaves the record as it was.
    with db.session.no_autoflush:
        try:
            _apply_edit(user, child, data, dob, ident, responsible)
        except RuleError:
            db.session.refresh(child)  # what the record says, not half an edit
            raise
    after = snapshot(child)
    changed = [f for f in EDITABLE if before[f] != after[f]]
    if not changed:
        return None
    change = ChildChange(
        id=new_id(), child_id=child.id, changed_by_id=user.id, fields=",".join(changed)
    )
    change.values = {
        "before": {f: before[f] for f in changed},
        "after": {f: after[f] for f in changed},
    }
    db.session.add(change)
    db.session.flush()
    audit.record("update", "child", child.id, child_id=child.id, detail=",".join(changed))
    uow.commit()
    return change


def _no_episode_before_birth(child: Child, dob: date) -> None:
    """A date of birth corrected to after the child's first episode began would put that
    episode before the birth (SSDA903 rule 586): refused here as report_missing refuses it."""
    first = db.session.scalar(
        select(func.min(Episode.last_seen_at)).where(
            Episode.child_id == child.id, Episode.status != EpisodeStatus.WITHDRAWN
        )
    )
    if first is not None and dob > deadlines.to_local(first).date():
        raise RuleError(
            "date_of_birth",
            "The child has an episode from "
            f"{deadlines.to_local(first).strftime('%-d %B %Y')}: the date of birth cannot be "
            "after it",
        )


def _apply_edit(user: User, child: Child, data: dict, dob, ident, responsible: str) -> None:
    legal = LegalStatus(data.get("legal_status") or LegalStatus.NONE)
    child.first_name = data["first_name"].strip()
    child.last_name = data["last_name"].strip()
    child.date_of_birth = dob
    child.sex = data["sex"]
    child.legal_status = legal
    child.looked_after = legal == LegalStatus.LOOKED_AFTER
    child.looked_after_since = _care_start(
        data.get("looked_after_since"), child.looked_after, dob, child.looked_after_since
    )
    child.authority_child_id = ident
    child.responsible_authority_id = responsible
    child.host_authority_id = _org(
        "host_authority_id",
        data.get("host_authority_id"),
        OrgKind.LOCAL_AUTHORITY,
        "Choose a local authority from the list",
    )
    if child.host_authority_id == child.responsible_authority_id:
        child.host_authority_id = None  # placed in its own authority: no host to tell
    child.placement_provider_id = _org(
        "placement_provider_id",
        data.get("placement_provider_id"),
        OrgKind.PROVIDER,
        "Choose a placement from the list",
    )
    for field in ("school_id", "social_worker_id", "carer_id", "iro_id"):
        setattr(child, field, data.get(field) or None)
    flags = set(data.get("flags") or ())
    child.sealed_flags = {key: key in flags for key in FLAG_LABELS}
    _check_links(user, child)


def changes_of(child: Child) -> list[ChildChange]:
    """The child's corrections, latest first (the caller has read the child, audited)."""
    return list(
        db.session.scalars(
            select(ChildChange)
            .where(ChildChange.child_id == child.id)
            .order_by(ChildChange.changed_at.desc())
        )
    )


# ---------------------------------------------------------------- finding a child

SEARCH_LIMIT = 50
LIST_LIMIT = 200


def _prefix(word: str) -> str:
    """A LIKE pattern for names starting with `word`, its own % and _ taken literally."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def find_children(user: User, query: str | None) -> tuple[list[Child], bool]:
    """The children this person may see that match `query`: a date of birth (DD/MM/YYYY or
    YYYY-MM-DD), the authority's identifier or a UPN exactly, or names starting with each word
    typed (first or last name, any case). Without a query, the first of the list by name.
    Returns the children and whether there were more than shown. Audited without the query:
    what was typed may be a name."""
    text_ = (query or "").strip()
    base = access.children_query(user)
    limit = SEARCH_LIMIT if text_ else LIST_LIMIT
    if text_:
        dob = parse_date(text_)
        if dob is not None:
            base = base.where(Child.date_of_birth == dob)
        else:
            words = text_.lower().split()[:4]
            names = and_(
                *(
                    or_(
                        func.lower(Child.first_name).like(_prefix(w), escape="\\"),
                        func.lower(Child.last_name).like(_prefix(w), escape="\\"),
                    )
                    for w in words
                )
            )
            base = base.where(
                or_(
                    names,
                    Child.authority_child_id == text_,
                    Child.upn == normalise_upn(text_),
                )
            )
    rows = list(
        db.session.scalars(
            base.order_by(Child.last_name, Child.first_name, Child.id).limit(limit + 1)
        )
    )
    audit.record(
        "search" if text_ else "list",
        "child",
        None,
        detail=f"{min(len(rows), limit)}{'+' if len(rows) > limit else ''} children",
    )
    uow.commit()
    return rows[:limit], len(rows) > limit
