"""Least privilege, in one place.

Every service asks this module which children, episodes and interviews a user may see, as query
filters, so a list and a single lookup can never disagree. Something a user may not see is
indistinguishable from something that does not exist: NotFound for both (answered 404).

- worker: children with a return interview allocated to them (or to their team, where the
  authority turns on HOMEWARD_WORKER_SEES_TEAM);
- social worker: children allocated to them;
- manager: children their authority is responsible for, or hosts in an out-of-area placement;
- school DSL: their school's pupils; no interview content;
- carer: children placed with them; no interview content;
- independent reviewing officer (IRO): the looked-after children allocated to them and their
  episodes; no interview content, not even once authorised (least privilege until an
  authority asks for it: the IRO is told of episodes, the social worker reads the interview);
- children-missing-education (CME) officer: the children the schools of their authority have
  notified the authority of (10 days, 20 days, a referral, missing in the school day) or that
  have a CME case there, and those children's episodes; never an interview, and never the
  school's enquiry notes (webapp.schools.cme shows the notifications, not the notes);
- administrator: manages accounts and devices; no child records.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import and_, false, or_, select
from sqlalchemy.sql import Select

from webapp.accounts.models import Organisation, Role, User
from webapp.children.models import Child
from webapp.episodes.models import Episode
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.interviews import workflow
from webapp.interviews.models import Interview
from webapp.schools.absence_models import SchoolNotification
from webapp.schools.cme_models import CME_KINDS, CmeCase


def _worker_interview_clause(user: User):
    clauses = [Interview.allocated_to_id == user.id]
    if user.team_id and current_app.config.get("HOMEWARD_WORKER_SEES_TEAM"):
        clauses.append(Interview.team_id == user.team_id)
    return or_(*clauses)


def child_clause(user: User):
    """A WHERE clause on Child for the children `user` may see."""
    role = user.role
    if role in (Role.MANAGER, Role.SENIOR_MANAGER):
        return or_(
            Child.responsible_authority_id == user.authority_id,
            Child.host_authority_id == user.authority_id,
        )
    if role == Role.WORKER:
        allocated = select(Interview.child_id).where(_worker_interview_clause(user))
        return Child.id.in_(allocated)
    if role == Role.SOCIAL_WORKER:
        return Child.social_worker_id == user.id
    if role == Role.DSL:
        return Child.school_id == user.organisation_id
    if role == Role.CARER:
        return Child.carer_id == user.id
    if role == Role.IRO:
        # An IRO reviews the care plan of a looked-after child: once the child is no longer
        # looked after, the allocation left on the record gives no access.
        return and_(Child.iro_id == user.id, Child.looked_after.is_(True))
    if role == Role.CME:
        return _cme_child_clause(user)
    return false()


def _cme_child_clause(user: User):
    """The CME officer's children: notified by a school of their authority, or with a case
    there. By the notifying school, not the child's school today: a child found at a school of
    another authority stays visible to the officer who worked the case."""
    schools = select(Organisation.id).where(Organisation.parent_id == user.authority_id)
    notified = select(SchoolNotification.child_id).where(
        SchoolNotification.school_id.in_(schools), SchoolNotification.kind.in_(CME_KINDS)
    )
    cased = select(CmeCase.child_id).where(CmeCase.school_id.in_(schools))
    return or_(Child.id.in_(notified), Child.id.in_(cased))


def interview_clause(user: User):
    role = user.role
    if role == Role.WORKER:
        return _worker_interview_clause(user)
    if role in (Role.MANAGER, Role.SOCIAL_WORKER):
        return Interview.child_id.in_(select(Child.id).where(child_clause(user)))
    # DSLs, carers, IROs and administrators never see interview content.
    return false()


def children_query(user: User) -> Select:
    return select(Child).where(child_clause(user))


def episodes_query(user: User) -> Select:
    return select(Episode).join(Child, Episode.child_id == Child.id).where(child_clause(user))


def interviews_query(user: User) -> Select:
    return select(Interview).where(interview_clause(user))


def field_interviews_query(user: User) -> Select:
    """What a phone copies for field mode ("My returns"): the interviews allocated to this
    person (or to their team, where the authority lets workers see it). A manager's phone holds
    only what the manager allocated to themself, never the whole authority the web pages show."""
    if user.role == Role.WORKER:
        mine = _worker_interview_clause(user)
    else:
        mine = Interview.allocated_to_id == user.id
    return interviews_query(user).where(mine)


def get_child_or_404(user: User, child_id: str) -> Child:
    child = db.session.scalar(children_query(user).where(Child.id == child_id))
    if child is None:
        raise NotFound
    return child


def get_episode_or_404(user: User, episode_id: str) -> Episode:
    episode = db.session.scalar(episodes_query(user).where(Episode.id == episode_id))
    if episode is None:
        raise NotFound
    return episode


def get_interview_or_404(user: User, interview_id: str) -> Interview:
    interview = db.session.scalar(interviews_query(user).where(Interview.id == interview_id))
    if interview is None:
        raise NotFound
    return interview


# The roles with a children's list (each sees the children child_clause gives it).
CHILDREN_READERS = (
    Role.MANAGER,
    Role.SENIOR_MANAGER,
    Role.WORKER,
    Role.SOCIAL_WORKER,
    Role.DSL,
    Role.CARER,
    Role.IRO,
)


# What each role may do, beyond seeing. Checked in services; views hide what a role cannot do.
def can_manage(user: User) -> bool:
    """Record episodes and returns, allocate, authorise, forward to police."""
    return user.role == Role.MANAGER


def can_report(user: User, child: Child) -> bool:
    """Report the child missing or back, update the details police ask for, and add what the
    carer noticed: the child's carer (placed with them), or a manager of the authority. The
    caller has already found the child through children_query, so it is visible."""
    return user.role == Role.MANAGER or (user.role == Role.CARER and child.carer_id == user.id)


def can_act_on_escalation(user: User, child: Child, code: str) -> bool:
    """Record what was done about an escalation (webapp/episodes/escalations.py): a manager of
    the authority for any; the child's social worker for the visit after a return (theirs to
    make); the child's IRO for the second-stage meeting (a senior IRO manages it). The caller
    has already found the episode through episodes_query, so it is visible."""
    if user.role == Role.MANAGER:
        return True
    code = code.split(":", 1)[0]  # a repeating task's kind (deadlines.base_code)
    if code == "lac_visit":
        return user.role == Role.SOCIAL_WORKER and child.social_worker_id == user.id
    if code in ("lac_second_stage_intervention", "care_plan_review"):
        return user.role == Role.IRO and child.iro_id == user.id
    return False


def can_keep_profile(user: User, child: Child) -> bool:
    """Keep the standing profile and its photo, and print the police handover: the carer, the
    child's social worker, or a manager (workers and schools never see it)."""
    return (
        user.role == Role.MANAGER
        or (user.role == Role.CARER and child.carer_id == user.id)
        or (user.role == Role.SOCIAL_WORKER and child.social_worker_id == user.id)
    )


def can_edit_plan(user: User, child: Child) -> bool:
    """The risk assessment and action plan: the social worker and the carer complete it
    together (and sign it off, each for themself); a manager may too."""
    return can_keep_profile(user, child)


def can_record_absence(user: User, child: Child) -> bool:
    """Record a pupil's absences, enquiries, the always-refer checklist and the school's
    notifications, and report the pupil missing during the school day: the designated
    safeguarding lead of the child's own school, no one else (the school's record)."""
    return (
        user.role == Role.DSL
        and child.school_id is not None
        and child.school_id == user.organisation_id
    )


def is_assignee(user: User, interview: Interview) -> bool:
    """The interview is allocated to this user (or to their team, where the authority lets
    workers see their team's allocations)."""
    return interview.allocated_to_id == user.id or bool(
        user.team_id
        and interview.team_id == user.team_id
        and current_app.config.get("HOMEWARD_WORKER_SEES_TEAM")
    )


def may_hold_interview(user: User, child: Child) -> bool:
    """The Hertfordshire model: a looked-after child's own social worker may hold the child's
    return interview (allocated by a manager, or taken while it awaits allocation)."""
    return (
        user.role == Role.SOCIAL_WORKER
        and child.looked_after
        and child.social_worker_id == user.id
        and user.active
    )


def interview_actions(user: User, interview: Interview) -> list[workflow.Action]:
    """What `user` may do to the interview now (the workflow's rules, with this user's facts)."""
    actions = workflow.allowed_actions(
        interview.status,
        user.role,
        is_assignee=is_assignee(user, interview),
        forwarded=interview.forwarded_to_police_at is not None,
    )
    return [a for a in actions if _fits_child(user, interview, a)]


def _fits_child(user: User, interview: Interview, action: workflow.Action) -> bool:
    if action == workflow.Action.TAKE:
        return may_hold_interview(user, interview.child)
    return True


def can_take(user: User, interview: Interview, action: workflow.Action) -> bool:
    return workflow.can(
        action, interview.status, user.role, is_assignee=is_assignee(user, interview)
    ) and _fits_child(user, interview, action)


def can_edit_interview(user: User, interview: Interview) -> bool:
    return can_take(user, interview, workflow.Action.EDIT)


def can_read_interview_content(user: User, interview: Interview) -> bool:
    """Social workers read an interview once a manager has authorised it, or while they hold it
    themself (it is allocated to them); the others as allowed by interview_clause."""
    return workflow.can_read_content(
        user.role, interview.status, is_assignee=interview.allocated_to_id == user.id
    )
