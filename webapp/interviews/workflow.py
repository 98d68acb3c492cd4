"""The return home interview's life: its statuses, what moves it between them, and who may.

One pure module (no Flask, no database) so the services, the access rules, the templates and the
sync payload cannot disagree about what a person may do to an interview now. The field client is
sent the actions and their labels; it never works out a status for itself.

A manager records the return (awaiting allocation) and allocates a worker (allocated); the
worker saves answers and sends the interview for authorisation (submitted); the manager
authorises it or sends it back for changes (sent back, the worker's again); once authorised, the
manager records when it was forwarded to the police.

A looked-after child's social worker may hold the interview themself (the Hertfordshire model):
a manager allocates it to them, or they take it while it awaits allocation; once it is theirs
they fill it in and send it like a worker, or pass it on to a return interview worker (or back
to the team for a manager to allocate). Whether the child is looked after and theirs is a fact
of the child, checked by webapp.access, not a status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache


class Status(StrEnum):
    AWAITING_ALLOCATION = "awaiting_allocation"
    ALLOCATED = "allocated"
    SUBMITTED = "submitted"  # awaiting manager authorisation
    SENT_BACK = "sent_back"  # manager asked for changes
    AUTHORISED = "authorised"
    # The only episode it covered was withdrawn (recorded by mistake) before it was held.
    NOT_NEEDED = "not_needed"


STATUS_LABELS = {
    Status.AWAITING_ALLOCATION: "Awaiting allocation",
    Status.ALLOCATED: "Allocated",
    Status.SUBMITTED: "Awaiting authorisation",
    Status.SENT_BACK: "Sent back for changes",
    Status.AUTHORISED: "Authorised",
    Status.NOT_NEEDED: "Not needed: its episode was withdrawn",
}

# Statuses in which the worker is still responsible for getting the interview done: the 72-hour
# clock runs and reminders fire.
OPEN_STATUSES = (Status.AWAITING_ALLOCATION, Status.ALLOCATED, Status.SENT_BACK)
DONE_STATUSES = frozenset(Status) - frozenset(OPEN_STATUSES)

# Role names as stored on accounts (webapp.accounts.models.Role is a StrEnum of these); spelt
# here so this module needs no model.
WORKER = "worker"
MANAGER = "manager"
SOCIAL_WORKER = "social_worker"


class Action(StrEnum):
    ALLOCATE = "allocate"
    EDIT = "edit"  # save answers, on the web form or from a phone
    SUBMIT = "submit"
    AUTHORISE = "authorise"
    SEND_BACK = "send_back"
    FORWARD_TO_POLICE = "forward_to_police"
    TAKE = "take"  # the child's social worker holds it themself
    # The social worker holding it passes it to a worker (or the team). noqa: a name, no secret.
    PASS_ON = "pass_on"  # noqa: S105


@dataclass(frozen=True)
class Transition:
    action: Action
    label: str
    roles: frozenset[str]
    # Each status the action may start from, and the status it leads to.
    moves: dict[Status, Status]
    # Said when the status does not allow the action, beside this form field.
    refusal_field: str | None
    refusal: str
    # Only the person the interview is allocated to (or their team, where the authority allows).
    assignee_only: bool = False
    sources: frozenset[Status] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "sources", frozenset(self.moves))


def _stay(*statuses: Status) -> dict[Status, Status]:
    return {s: s for s in statuses}


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(
            Action.ALLOCATE,
            "Allocate",
            frozenset({MANAGER}),
            {
                Status.AWAITING_ALLOCATION: Status.ALLOCATED,
                Status.ALLOCATED: Status.ALLOCATED,
                Status.SENT_BACK: Status.SENT_BACK,  # reallocated, still waiting for changes
            },
            "worker_id",
            "This interview has already been submitted",
        ),
        Transition(
            Action.EDIT,
            "Save answers",
            frozenset({WORKER, SOCIAL_WORKER}),
            _stay(Status.ALLOCATED, Status.SENT_BACK),
            None,
            "This interview cannot be changed now",
            assignee_only=True,
        ),
        Transition(
            Action.SUBMIT,
            "Send for authorisation",
            frozenset({WORKER, SOCIAL_WORKER}),
            {Status.ALLOCATED: Status.SUBMITTED, Status.SENT_BACK: Status.SUBMITTED},
            None,
            "This interview cannot be submitted now",
            assignee_only=True,
        ),
        Transition(
            Action.AUTHORISE,
            "Authorise",
            frozenset({MANAGER}),
            {Status.SUBMITTED: Status.AUTHORISED},
            None,
            "Only a submitted interview can be authorised",
        ),
        Transition(
            Action.SEND_BACK,
            "Send back for changes",
            frozenset({MANAGER}),
            {Status.SUBMITTED: Status.SENT_BACK},
            "note",
            "Only a submitted interview can be sent back",
        ),
        Transition(
            Action.FORWARD_TO_POLICE,
            "Record as forwarded to the police",
            frozenset({MANAGER}),
            _stay(Status.AUTHORISED),
            "forwarded_at",
            "Authorise the interview before forwarding it",
        ),
        Transition(
            Action.TAKE,
            "Hold it myself",
            frozenset({SOCIAL_WORKER}),
            {Status.AWAITING_ALLOCATION: Status.ALLOCATED},
            None,
            "This interview has already been allocated",
        ),
        Transition(
            Action.PASS_ON,
            "Pass it on",
            frozenset({SOCIAL_WORKER}),
            # To a named worker it stays allocated; to the team it awaits allocation again
            # (pass_on_status).
            {Status.ALLOCATED: Status.ALLOCATED},
            "worker_id",
            "Only an interview not yet sent for authorisation can be passed on",
            assignee_only=True,
        ),
    )
}


def pass_on_status(to_worker: bool) -> Status:
    """Where passing the interview on leads: allocated to the worker chosen, or awaiting a
    manager's allocation when passed to the team."""
    return Status.ALLOCATED if to_worker else Status.AWAITING_ALLOCATION


def status_label(status: str) -> str:
    return STATUS_LABELS[Status(status)]


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


def role_may(action: Action | str, role: str) -> bool:
    """Whether the role ever takes this action (whatever the interview's status)."""
    return role in TRANSITIONS[Action(action)].roles


def can(action: Action | str, status: str, role: str, *, is_assignee: bool = False) -> bool:
    """Whether a person with `role` may take `action` on an interview in `status` now."""
    t = TRANSITIONS[Action(action)]
    return role in t.roles and status in t.sources and (is_assignee or not t.assignee_only)


def refusal(action: Action | str, status: str) -> tuple[str | None, str] | None:
    """(field, message) saying why the status does not allow the action; None if it does."""
    t = TRANSITIONS[Action(action)]
    return None if status in t.sources else (t.refusal_field, t.refusal)


def next_status(action: Action | str, status: str) -> Status:
    """Where the action leads from `status` (check refusal() first: KeyError otherwise)."""
    return TRANSITIONS[Action(action)].moves[Status(status)]


def allowed_actions(
    status: str, role: str, *, is_assignee: bool = False, forwarded: bool = False
) -> list[Action]:
    """The actions to offer this person now, in the order of TRANSITIONS."""
    return list(_allowed_actions(str(status), str(role), bool(is_assignee), bool(forwarded)))


@lru_cache(maxsize=256)  # bounded all the same: statuses x roles x 2 x 2 is well under
def _allowed_actions(
    status: str, role: str, is_assignee: bool, forwarded: bool
) -> tuple[Action, ...]:
    # Pure and asked for every interview a page or a phone's copy shows (a fresh phone's 500
    # records asked it 500 times, each walking every transition): worked out once for each of
    # the few dozen combinations there are.
    out = [a for a in TRANSITIONS if can(a, status, role, is_assignee=is_assignee)]
    if forwarded:
        # Recorded once; the service still accepts a correction sent deliberately.
        out = [a for a in out if a != Action.FORWARD_TO_POLICE]
    return tuple(out)


def action_labels(actions: list[Action]) -> list[dict[str, str]]:
    """The actions as the field client receives them."""
    return [{"action": str(a), "label": TRANSITIONS[a].label} for a in actions]


def statuses_allowing(action: Action | str) -> tuple[Status, ...]:
    """Statuses from which the action may be taken, in the order statuses are declared."""
    sources = TRANSITIONS[Action(action)].sources
    return tuple(s for s in Status if s in sources)


def can_read_content(role: str, status: str, *, is_assignee: bool = False) -> bool:
    """Whether the role reads an interview's answers (given it may see the interview at all):
    a child's social worker once a manager has authorised it, or while it is theirs to hold."""
    if role == SOCIAL_WORKER:
        return status == Status.AUTHORISED or is_assignee
    return role in (WORKER, MANAGER)
