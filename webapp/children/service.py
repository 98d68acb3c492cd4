"""Children: create, list and read, always through the access rules, always audited."""

from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import select

from webapp import access, audit, deadlines, uow
from webapp.accounts.models import Organisation, OrgKind, Role, User
from webapp.children.models import Child, LegalStatus
from webapp.db_types import utcnow
from webapp.episodes.models import Episode
from webapp.errors import NotAllowed, RuleError
from webapp.extensions import db
from webapp.interviews.models import Interview


def list_children(user: User) -> list[Child]:
    children = db.session.scalars(
        access.children_query(user).order_by(Child.last_name, Child.first_name)
    ).all()
    audit.record("list", "child", None, detail=f"{len(children)} children")
    uow.commit()
    return list(children)


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
    episodes = db.session.scalars(
        select(Episode).where(Episode.child_id == child.id).order_by(Episode.last_seen_at)
    ).all()
    return [facts(e, child) for e in episodes]


def facts(episode: Episode, child: Child | None = None) -> deadlines.EpisodeFacts:
    child = child or episode.child
    return deadlines.EpisodeFacts(
        id=episode.id,
        last_seen_at=episode.last_seen_at,
        returned_at=episode.returned_at,
        looked_after=child.looked_after,
        legal_status=child.legal_status,
        # "away" (whereabouts known) raises no missing-time escalation.
        reported_type=episode.reported_type,
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
    child = Child(
        first_name=data["first_name"].strip(),
        last_name=data["last_name"].strip(),
        date_of_birth=dob,
        sex=data["sex"],
        legal_status=legal,
        looked_after=legal == LegalStatus.LOOKED_AFTER or bool(data.get("looked_after")),
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
