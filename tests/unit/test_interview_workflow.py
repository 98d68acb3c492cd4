"""The interview workflow on its own: every transition, and every refusal."""

import pytest

from webapp.interviews import workflow
from webapp.interviews.workflow import Action, Status

ALL_ROLES = ("worker", "manager", "social_worker", "dsl", "carer", "admin")

# (action, from, to) for every move the workflow allows; anything else is refused.
MOVES = [
    (Action.ALLOCATE, Status.AWAITING_ALLOCATION, Status.ALLOCATED),
    (Action.ALLOCATE, Status.ALLOCATED, Status.ALLOCATED),
    (Action.ALLOCATE, Status.SENT_BACK, Status.SENT_BACK),
    (Action.EDIT, Status.ALLOCATED, Status.ALLOCATED),
    (Action.EDIT, Status.SENT_BACK, Status.SENT_BACK),
    (Action.SUBMIT, Status.ALLOCATED, Status.SUBMITTED),
    (Action.SUBMIT, Status.SENT_BACK, Status.SUBMITTED),
    (Action.AUTHORISE, Status.SUBMITTED, Status.AUTHORISED),
    (Action.SEND_BACK, Status.SUBMITTED, Status.SENT_BACK),
    (Action.FORWARD_TO_POLICE, Status.AUTHORISED, Status.AUTHORISED),
    (Action.TAKE, Status.AWAITING_ALLOCATION, Status.ALLOCATED),
    (Action.PASS_ON, Status.ALLOCATED, Status.ALLOCATED),
]
# Who takes each action (a looked-after child's social worker may also hold the interview: the
# Hertfordshire model).
ACTORS = {
    Action.ALLOCATE: {"manager"},
    Action.EDIT: {"worker", "social_worker"},
    Action.SUBMIT: {"worker", "social_worker"},
    Action.AUTHORISE: {"manager"},
    Action.SEND_BACK: {"manager"},
    Action.FORWARD_TO_POLICE: {"manager"},
    Action.TAKE: {"social_worker"},
    Action.PASS_ON: {"social_worker"},
}
ACTOR = {action: sorted(roles)[-1] for action, roles in ACTORS.items()}


@pytest.mark.parametrize(("action", "source", "target"), MOVES)
def test_each_allowed_move(action, source, target):
    assert workflow.refusal(action, source) is None
    assert workflow.can(action, source, ACTOR[action], is_assignee=True)
    assert workflow.next_status(action, source) == target


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(Status))
def test_every_other_status_is_refused_with_a_message(action, status):
    if (action, status) in {(a, s) for a, s, _ in MOVES}:
        return
    field, message = workflow.refusal(action, status)
    assert message
    assert not workflow.can(action, status, ACTOR[action], is_assignee=True)
    with pytest.raises(KeyError):
        workflow.next_status(action, status)


def test_refusals_keep_the_messages_people_see():
    assert workflow.refusal(Action.ALLOCATE, Status.SUBMITTED) == (
        "worker_id",
        "This interview has already been submitted",
    )
    assert workflow.refusal(Action.AUTHORISE, Status.ALLOCATED) == (
        None,
        "Only a submitted interview can be authorised",
    )
    assert workflow.refusal(Action.SEND_BACK, Status.AUTHORISED) == (
        "note",
        "Only a submitted interview can be sent back",
    )
    assert workflow.refusal(Action.FORWARD_TO_POLICE, Status.SUBMITTED) == (
        "forwarded_at",
        "Authorise the interview before forwarding it",
    )


@pytest.mark.parametrize(("action", "source", "_target"), MOVES)
def test_only_the_actions_role_may_take_it(action, source, _target):
    for role in ALL_ROLES:
        allowed = workflow.can(action, source, role, is_assignee=True)
        assert allowed == (role in ACTORS[action]), (action, role)
        assert workflow.role_may(action, role) == (role in ACTORS[action])


@pytest.mark.parametrize("role", ["worker", "social_worker"])
@pytest.mark.parametrize("action", [Action.EDIT, Action.SUBMIT])
def test_a_worker_edits_and_submits_only_what_is_allocated_to_them(action, role):
    assert workflow.can(action, Status.ALLOCATED, role, is_assignee=True)
    assert not workflow.can(action, Status.ALLOCATED, role, is_assignee=False)


def test_the_social_worker_passes_on_only_what_they_hold():
    assert workflow.can(Action.PASS_ON, Status.ALLOCATED, "social_worker", is_assignee=True)
    assert not workflow.can(Action.PASS_ON, Status.ALLOCATED, "social_worker")
    # Once sent for authorisation or sent back, it is the social worker's to finish.
    for status in (Status.SUBMITTED, Status.SENT_BACK, Status.AUTHORISED):
        assert not workflow.can(Action.PASS_ON, status, "social_worker", is_assignee=True)
    assert workflow.pass_on_status(to_worker=True) == Status.ALLOCATED
    assert workflow.pass_on_status(to_worker=False) == Status.AWAITING_ALLOCATION


def test_the_social_worker_takes_only_an_unallocated_interview():
    assert workflow.allowed_actions(Status.AWAITING_ALLOCATION, "social_worker") == [Action.TAKE]
    for status in set(Status) - {Status.AWAITING_ALLOCATION}:
        assert Action.TAKE not in workflow.allowed_actions(status, "social_worker")


def test_manager_actions_do_not_need_the_allocation():
    assert workflow.can(Action.AUTHORISE, Status.SUBMITTED, "manager", is_assignee=False)


def test_allowed_actions_per_role_and_state():
    assert workflow.allowed_actions(Status.ALLOCATED, "worker", is_assignee=True) == [
        Action.EDIT,
        Action.SUBMIT,
    ]
    assert workflow.allowed_actions(Status.ALLOCATED, "worker", is_assignee=False) == []
    assert workflow.allowed_actions(Status.SUBMITTED, "worker", is_assignee=True) == []
    assert workflow.allowed_actions(Status.SUBMITTED, "manager") == [
        Action.AUTHORISE,
        Action.SEND_BACK,
    ]
    assert workflow.allowed_actions(Status.AUTHORISED, "manager") == [Action.FORWARD_TO_POLICE]
    assert workflow.allowed_actions(Status.AUTHORISED, "manager", forwarded=True) == []
    assert workflow.allowed_actions(Status.AWAITING_ALLOCATION, "manager") == [Action.ALLOCATE]
    for role in ("dsl", "carer", "admin"):
        for status in Status:
            assert workflow.allowed_actions(status, role, is_assignee=True) == []
    assert workflow.allowed_actions(Status.ALLOCATED, "social_worker", is_assignee=True) == [
        Action.EDIT,
        Action.SUBMIT,
        Action.PASS_ON,
    ]
    assert workflow.allowed_actions(Status.ALLOCATED, "social_worker") == []


def test_actions_travel_with_their_labels():
    assert workflow.action_labels([Action.EDIT, Action.SUBMIT]) == [
        {"action": "edit", "label": "Save answers"},
        {"action": "submit", "label": "Send for authorisation"},
    ]


def test_statuses_labels_and_open_set():
    assert set(workflow.STATUS_LABELS) == set(Status)
    assert workflow.status_label("sent_back") == "Sent back for changes"
    assert set(workflow.OPEN_STATUSES) | workflow.DONE_STATUSES == set(Status)
    assert workflow.DONE_STATUSES == {Status.SUBMITTED, Status.AUTHORISED, Status.NOT_NEEDED}
    assert workflow.statuses_allowing(Action.EDIT) == (Status.ALLOCATED, Status.SENT_BACK)


def test_who_reads_the_answers():
    assert workflow.can_read_content("worker", Status.ALLOCATED)
    assert workflow.can_read_content("manager", Status.SUBMITTED)
    assert not workflow.can_read_content("social_worker", Status.SUBMITTED)
    assert workflow.can_read_content("social_worker", Status.AUTHORISED)
    # The Hertfordshire model: the social worker holding it reads what they wrote.
    assert workflow.can_read_content("social_worker", Status.SUBMITTED, is_assignee=True)
    for role in ("dsl", "carer", "admin"):
        assert not workflow.can_read_content(role, Status.AUTHORISED)
