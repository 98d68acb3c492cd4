"""Escalations that close, through the real stack: the Record action page (webapp/episodes/
escalation_views.py) posted as a browser posts it, the rows it writes (the action with its words
sealed, the audit row without them), the reminders the commit hook cancels, the episode page and
the manager's page (`/manage/`) that show what became of each task.

Each escalation is raised by an episode made to measure (tests/factories.py): missing 30 hours
for the Need to Know and the 24-hour intervention meeting, 80 hours for the urgent strategy
meeting, 8 days for the strategy meeting, a second episode for the repeat-episode steps, a tenth
in 90 days of a looked-after child for the second-stage meeting, a looked-after child back for the
social worker's visit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import func, select, text

from tests import factories
from tests.integration.helpers import fresh
from webapp import deadlines
from webapp.accounts.models import OrgKind, Role, User
from webapp.audit import AuditEvent
from webapp.children.models import Child, LegalStatus
from webapp.episodes import escalations, tasks
from webapp.episodes.models import Episode, EscalationAction
from webapp.errors import RuleError
from webapp.extensions import db
from webapp.reminders import schedule
from webapp.reminders import service as reminders
from webapp.reminders.models import Reminder, ReminderStatus
from webapp.templating import local_time

H = timedelta(hours=1)
DAY = timedelta(days=1)

# Words that name people and say what happened: they must never be stored in clear.
WHO = "Quillbrook Marrowgate"
NOTE = "Vexhollow agreed Thistlewick"


def local(dt: datetime) -> str:
    """As a browser's datetime-local input posts it (UK wall clock, to the minute)."""
    return deadlines.to_local(dt).strftime("%Y-%m-%dT%H:%M")


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- the world of one test


class World:
    """An authority with its manager, a social worker, an IRO, and one child of theirs."""

    def __init__(self, looked_after: bool = False):
        self.authority = factories.local_authority()
        self.manager = factories.manager(self.authority)
        self.sw = factories.user(Role.SOCIAL_WORKER, authority=self.authority)
        self.iro = factories.iro(self.authority)
        self.child = self.new_child(looked_after)

    def new_child(self, looked_after: bool = False, **kw) -> Child:
        kw.setdefault("social_worker_id", self.sw.id)
        kw.setdefault("iro_id", self.iro.id)
        status = LegalStatus.LOOKED_AFTER if looked_after else LegalStatus.NONE
        return factories.child(self.authority, legal_status=status, **kw)


def raise_escalation(world: World, code: str, child: Child | None = None) -> Episode:
    """An episode of the world's child (or `child`) that raises the escalation `code`."""
    child = child or world.child
    if code in ("need_to_know", "intervention_meeting"):
        return factories.episode(child, last_seen_hours_ago=30, missing_hours=None)
    if code == "urgent_strategy_meeting":
        return factories.episode(child, last_seen_hours_ago=80, missing_hours=None)
    if code == "strategy_meeting":
        return factories.episode(child, last_seen_hours_ago=8 * 24, missing_hours=None)
    if code == "repeat_episodes":
        factories.episode(child, last_seen_hours_ago=60 * 24, missing_hours=5)
        return factories.episode(child, last_seen_hours_ago=10, missing_hours=3)
    if code == "lac_second_stage_intervention":
        # Nine in the 90 days before this one: the tenth is "more than 9".
        for days in range(81, 0, -9):
            factories.episode(child, last_seen_hours_ago=days * 24, missing_hours=2)
        return factories.episode(child, last_seen_hours_ago=10, missing_hours=2)
    if code == "lac_visit":
        # Back 2 hours ago: the visit is due within 24 hours of the return.
        return factories.episode(child, last_seen_hours_ago=8, missing_hours=6)
    raise AssertionError(code)


def page_url(episode: Episode, code: str) -> str:
    return f"/episodes/{episode.id}/escalations/{code}"


def form(kind: str | None, **kw) -> dict:
    """The Record action form as a person fills it in: done an hour ago unless told."""
    done_at = kw.pop("done_at", now() - H)
    data = {
        "done_at": done_at if isinstance(done_at, str) else local(done_at),
        "who": kw.pop("who", WHO),
        "note": kw.pop("note", NOTE),
    }
    if kind is not None:
        data["kind"] = kind
    data.update(kw)
    return data


def actions_of(episode: Episode) -> list[EscalationAction]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(EscalationAction).where(EscalationAction.episode_id == episode.id)
        )
    )


def action_count_of(*episodes: Episode) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count())
        .select_from(EscalationAction)
        .where(EscalationAction.episode_id.in_([e.id for e in episodes]))
    )


# ---------------------------------------------------------------- reading the pages

_TASK = re.compile(
    r'<li class="hw-escalation hw-escalation--(\w+)">\s*<strong>([^<]+)</strong>(.*?)</li>', re.S
)


def episode_tasks(browser, episode: Episode) -> dict[str, tuple[str, str]]:
    """The episode page's tasks: title -> (state, the words under it)."""
    r = browser.get(f"/episodes/{episode.id}")
    assert r.status_code == 200, r.status_code
    return {
        title: (state, " ".join(re.sub(r"<[^>]+>", " ", rest).split()))
        for state, title, rest in _TASK.findall(r.get_data(as_text=True))
    }


def escalation_section(html: str) -> str:
    start = html.index('id="escalations"')
    return html[start : html.index('id="at-risk"', start)]


_CARD = re.compile(r'<li class="hw-card[^"]*">(.*?)</li>', re.S)
_CARD_TITLE = re.compile(r'href="/episodes/([^"/?]+)">[^<]*: ([^<]+)</a>')


def worklist(browser) -> list[tuple[str, str, str]]:
    """The manager's "Escalations to act on", in order: (episode id, title, the card's HTML)."""
    r = browser.get("/manage/")
    assert r.status_code == 200, r.status_code
    cards = []
    for card in _CARD.findall(escalation_section(r.get_data(as_text=True))):
        episode_id, title = _CARD_TITLE.search(card).groups()
        cards.append((episode_id, title, card))
    return cards


def on_worklist(browser, episode: Episode, code: str) -> bool:
    title = deadlines.TITLES[code]
    return any(e == episode.id and t == title for e, t, _ in worklist(browser))


def field_error(html: str, field: str) -> str:
    """The error message shown beside a field (GOV.UK: <p id="FIELD-error">)."""
    match = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert match, f"no error beside {field}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


# ---------------------------------------------------------------- 1. each kind closed by its owner

CASES = [
    ("need_to_know", "sent", "manager"),
    ("urgent_strategy_meeting", "held", "manager"),
    ("strategy_meeting", "held", "manager"),
    ("intervention_meeting", "held", "manager"),
    ("repeat_episodes", "interview_offered", "manager"),
    ("repeat_episodes", "panel_referral", "manager"),
    ("repeat_episodes", "not_referred", "manager"),
    ("lac_second_stage_intervention", "held", "iro"),
    ("lac_second_stage_intervention", "held", "manager"),
    ("lac_visit", "visited", "sw"),
    ("lac_visit", "exception", "manager"),
]


@pytest.mark.both_databases
@pytest.mark.parametrize(
    ("code", "kind", "owner"), CASES, ids=[f"{c}-{k}-{o}" for c, k, o in CASES]
)
def test_each_escalation_is_closed_by_its_owner_through_the_page(as_user, code, kind, owner):
    world = World(looked_after=code.startswith("lac_"))
    episode = raise_escalation(world, code)
    db.session.commit()
    person: User = getattr(world, owner)
    manager, browser = as_user(world.manager), as_user(person)
    title = deadlines.TITLES[code]

    # Open, on the manager's list, with its Record action page for the owner.
    assert episode_tasks(manager, episode)[title][0] == "open"
    assert on_worklist(manager, episode, code)
    r = browser.get(page_url(episode, code))
    assert r.status_code == 200
    assert tasks.kind_label(code, kind) in r.get_data(as_text=True)

    r = browser.post(page_url(episode, code), form(kind))
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    assert urlsplit(r.headers["Location"]).path == f"/episodes/{episode.id}"

    # Done on the episode page, for the owner and the manager, saying what was done.
    for viewer in {browser, manager}:
        state, words = episode_tasks(viewer, episode)[title]
        assert state == "done"
        assert tasks.kind_label(code, kind) in words
        assert WHO not in words and NOTE not in words  # the page lists, the action holds them
    # Gone from the manager's list.
    assert not on_worklist(manager, episode, code)

    # One action, its words sealed: readable through the model, absent from the raw column.
    [action] = actions_of(episode)
    assert (action.code, action.kind, action.recorded_by_id) == (code, kind, person.id)
    assert action.details == {"who": WHO, "note": NOTE}
    raw = db.session.execute(
        text("SELECT * FROM escalation_actions WHERE id = :id"), {"id": action.id}
    ).one()
    assert raw.details_enc
    for word in (*WHO.split(), *NOTE.split()):
        assert not any(word in str(value) for value in raw), word

    # Audited by who and what, never the words.
    [event] = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "create",
            AuditEvent.object_type == "escalation_action",
            AuditEvent.object_id == action.id,
        )
    ).all()
    assert (event.user_id, event.child_id, event.detail) == (
        person.id,
        world.child.id,
        f"{code}:{kind}",
    )
    row = db.session.execute(
        text("SELECT * FROM audit_events WHERE id = :id"), {"id": event.id}
    ).one()
    for word in (*WHO.split(), *NOTE.split()):
        assert not any(word in str(value) for value in row), word


# ---------------------------------------------------------------- 2. its reminders are cancelled


def need_to_know_reminders(episode: Episode) -> list[Reminder]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Reminder).where(
                Reminder.subject_id == episode.id, Reminder.kind == "need_to_know"
            )
        )
    )


@pytest.mark.both_databases
def test_recording_the_need_to_know_cancels_its_reminders_and_makes_none_again(as_user):
    world = World()
    episode = raise_escalation(world, "need_to_know")  # missing 30 hours
    db.session.commit()
    before = need_to_know_reminders(episode)
    assert before and {r.status for r in before} == {ReminderStatus.PENDING}
    assert world.manager.id in {r.recipient_id for r in before}

    manager = as_user(world.manager)
    r = manager.post(page_url(episode, "need_to_know"), form("sent"))
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]

    after = need_to_know_reminders(episode)
    assert {r.id for r in after} == {r.id for r in before}  # no new one
    assert {r.status for r in after} == {ReminderStatus.CANCELLED}
    # The other escalations of the episode still remind (the urgent strategy meeting at 72 h).
    pending = db.session.scalars(
        select(Reminder.kind).where(
            Reminder.subject_id == episode.id, Reminder.status == ReminderStatus.PENDING
        )
    ).all()
    assert "urgent_strategy_meeting" in pending

    # Recomputed again later (any change to the episode): still none wanted.
    reminders.refresh(schedule.EPISODE, episode.id, now() + H)
    db.session.commit()
    again = need_to_know_reminders(episode)
    assert {r.id for r in again} == {r.id for r in before}
    assert {r.status for r in again} == {ReminderStatus.CANCELLED}


# ---------------------------------------------------------------- 3. closed by the return


@pytest.mark.both_databases
def test_a_missing_time_task_closes_itself_once_the_child_is_back(as_user):
    world = World(looked_after=True)
    episode = raise_escalation(world, "need_to_know")  # missing 30 hours: Need to Know overdue
    db.session.commit()
    manager = as_user(world.manager)
    shown = episode_tasks(manager, episode)
    assert shown["Need to Know notification"][0] == "open"
    assert "Overdue" in shown["Need to Know notification"][1]
    assert on_worklist(manager, episode, "need_to_know")

    returned = now() - 2 * H
    r = manager.post(
        f"/episodes/{episode.id}/return",
        {"returned_at": local(returned), "how_returned": "own_accord"},
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    returned_at = fresh(episode).returned_at

    shown = episode_tasks(manager, episode)
    state, words = shown["Need to Know notification"]
    assert state == "closed"
    assert f"No longer needed: the child came back on {local_time(returned_at)}" in words
    assert not on_worklist(manager, episode, "need_to_know")
    # Nothing was recorded: it closed by itself.
    assert actions_of(episode) == []

    # About the pattern and the return, not the missing time: they stay open, and listed.
    assert shown["Intervention meeting"][0] == "open"
    assert shown["Social worker visit"][0] == "open"
    assert on_worklist(manager, episode, "intervention_meeting")
    assert on_worklist(manager, episode, "lac_visit")


# ---------------------------------------------------------------- 4. who may record


@pytest.mark.both_databases
def test_only_the_owner_reaches_the_record_action_page(as_user):
    world = World(looked_after=True)
    school = factories.organisation(OrgKind.SCHOOL, world.authority)
    dsl = factories.school_dsl(school)
    carer = factories.carer(world.authority)
    worker = factories.worker(world.authority)
    stranger = factories.manager()  # another authority's
    child = world.child
    child.school_id = school.id
    child.carer_id = carer.id
    child.placement_provider_id = carer.organisation_id
    # Missing 30 hours, back 2 hours ago: Need to Know (closed, still recordable), the
    # intervention meeting, the visit; nine earlier episodes: the second-stage meeting too.
    for days in range(81, 0, -9):
        factories.episode(child, last_seen_hours_ago=days * 24, missing_hours=2)
    episode = factories.episode(child, last_seen_hours_ago=30, missing_hours=28)
    factories.interview(worker_=worker, child_=child, episodes=[episode])
    # Another child of the authority, with another social worker, back too.
    other_sw = factories.user(Role.SOCIAL_WORKER, authority=world.authority)
    other = raise_escalation(
        world, "lac_visit", world.new_child(True, social_worker_id=other_sw.id)
    )
    db.session.commit()
    codes = [t.code for t in escalations.episode_tasks(fresh(episode), now())]
    assert set(codes) >= {
        "need_to_know",
        "intervention_meeting",
        "repeat_episodes",
        "lac_second_stage_intervention",
        "lac_visit",
    }

    # Each of them can see the episode, so a 404 is the page refusing them, not a wrong address.
    for person in (dsl, carer, worker, world.iro, world.sw):
        assert as_user(person).get(f"/episodes/{episode.id}").status_code == 200, person.role

    refused = [(p, code) for p in (worker, carer, dsl, stranger) for code in codes]
    iro_tasks = ("lac_second_stage_intervention", "care_plan_review")
    refused += [(world.iro, c) for c in codes if c not in iro_tasks]
    refused += [(world.sw, c) for c in codes if c != "lac_visit"]
    refused += [(world.sw, "lac_visit", other)]
    browsers = {}
    for person, code, *rest in refused:
        target = rest[0] if rest else episode
        browser = browsers.setdefault(person.id, as_user(person))
        kind = tasks.FORMS[code].kinds[0].value
        assert browser.get(page_url(target, code)).status_code == 404, (person.role, code)
        r = browser.post(page_url(target, code), form(kind))
        assert r.status_code == 404, (person.role, code)
    assert action_count_of(episode, other) == 0

    # The owners do reach it (the same addresses answer, for the right person).
    assert as_user(world.sw).get(page_url(episode, "lac_visit")).status_code == 200
    assert as_user(other_sw).get(page_url(other, "lac_visit")).status_code == 200
    iro = as_user(world.iro)
    assert iro.get(page_url(episode, "lac_second_stage_intervention")).status_code == 200
    manager = as_user(world.manager)
    for code in codes:
        assert manager.get(page_url(episode, code)).status_code == 200, code


# ---------------------------------------------------------------- 5. bad input


BAD = [
    # (code, the form's fields changed, the field, its message)
    ("lac_visit", {"kind": None}, "kind", "Choose what was done"),
    ("need_to_know", {"kind": "sent", "done_at": 3 * H}, "done_at", "must be in the past"),
    (
        "need_to_know",
        {"kind": "sent", "done_at": -31 * H},
        "done_at",
        "must be after the child went missing",
    ),
    ("intervention_meeting", {"kind": "held", "who": ""}, "who", "Enter who attended"),
    (
        "intervention_meeting",
        {"kind": "held", "note": "  "},
        "note",
        "Enter outcome and actions agreed",
    ),
    (
        "lac_visit",
        {"kind": "exception", "note": ""},
        "note",
        "Enter what happened, or the reason for the exception",
    ),
    (
        "repeat_episodes",
        {"kind": "not_referred", "note": ""},
        "note",
        "Enter outcome, or why there is no referral",
    ),
    ("lac_visit", {"kind": "sent"}, "kind", "Not a valid choice"),
    ("need_to_know", {"kind": "sent", "done_at": "yesterday"}, "done_at", "real date and time"),
]


@pytest.mark.parametrize(
    ("code", "change", "field", "message"),
    BAD,
    ids=[f"{b[0]}-{b[2]}-{i}" for i, b in enumerate(BAD)],
)
def test_bad_input_keeps_what_was_typed_and_says_why_beside_the_field(
    as_user, code, change, field, message
):
    world = World(looked_after=code == "lac_visit")
    if code == "need_to_know":
        episode = factories.episode(world.child, last_seen_hours_ago=30, missing_hours=None)
    else:
        episode = raise_escalation(world, code)
    db.session.commit()
    change = dict(change)
    kind = change.pop("kind")
    if isinstance(change.get("done_at"), timedelta):
        change["done_at"] = now() + change["done_at"]
    typed = form(kind, **change)
    manager = as_user(world.manager)
    r = manager.post(page_url(episode, code), typed)
    html = r.get_data(as_text=True)
    assert r.status_code == 422, html[:3000]
    assert message in field_error(html, field)
    assert "<title>Error:" in html
    # What was typed is still there.
    for name in ("who", "note", "done_at"):
        if typed[name].strip():
            assert typed[name] in html, name
    if kind in {k.value for k in tasks.FORMS[code].kinds}:
        assert re.search(rf'value="{kind}"\s+checked', html) or re.search(
            rf'checked[^>]*value="{kind}"', html
        ), "the chosen kind is no longer chosen"
    assert actions_of(episode) == []


@pytest.mark.both_databases
def test_a_task_is_recorded_once(as_user):
    world = World()
    episode = raise_escalation(world, "intervention_meeting")
    db.session.commit()
    manager = as_user(world.manager)
    r = manager.post(page_url(episode, "intervention_meeting"), form("held"))
    assert r.status_code == 302
    # Through the service (a second person who had the form open): refused, one row.
    with pytest.raises(RuleError, match="already recorded"):
        escalations.record_action(
            fresh(world.manager),
            fresh(episode),
            "intervention_meeting",
            {"kind": "held", "done_at": now() - H, "who": "Someone else", "note": "Again"},
        )
    db.session.rollback()
    [action] = actions_of(episode)
    assert action.details == {"who": WHO, "note": NOTE}


def test_a_second_recording_through_the_page_says_it_is_already_recorded(as_user):
    world = World()
    episode = raise_escalation(world, "intervention_meeting")
    db.session.commit()
    first, second = as_user(world.manager), as_user(world.manager)
    second.get(page_url(episode, "intervention_meeting"))  # the form open in another tab
    assert first.post(page_url(episode, "intervention_meeting"), form("held")).status_code == 302
    r = second.post(page_url(episode, "intervention_meeting"), form("held", who="Someone else"))
    assert len(actions_of(episode)) == 1
    assert r.status_code == 422
    assert "already recorded" in r.get_data(as_text=True)


@pytest.mark.both_databases
def test_an_unknown_code_or_an_escalation_not_raised_is_404(as_user):
    world = World()
    # Back after 3 hours, the first episode: no escalation at all.
    quiet = factories.episode(world.child, last_seen_hours_ago=10, missing_hours=3)
    missing = raise_escalation(world, "need_to_know", world.new_child())
    db.session.commit()
    manager = as_user(world.manager)
    for target, code in (
        (missing, "not_a_code"),
        (missing, "rhi"),
        (missing, "lac_visit"),  # not looked after, not back
        (missing, "lac_second_stage_intervention"),
        (quiet, "need_to_know"),
        (quiet, "repeat_episodes"),
    ):
        assert manager.get(page_url(target, code)).status_code == 404, code
        assert manager.post(page_url(target, code), form("held")).status_code == 404, code
    assert manager.get(f"/episodes/{'0' * 36}/escalations/need_to_know").status_code == 404
    assert action_count_of(quiet, missing) == 0


def _competing_insert(episode_id: str, code: str) -> None:
    """Another person's recording of the same task, committed on a connection of its own."""
    from webapp.db_types import new_id, utcnow

    with db.engine.begin() as conn:
        conn.execute(
            EscalationAction.__table__.insert().values(
                id=new_id(),
                episode_id=episode_id,
                code=code,
                kind="held",
                done_at=utcnow() - H,
                recorded_at=utcnow(),
            )
        )


@pytest.mark.both_databases
def test_two_recordings_at_the_same_instant_leave_one_and_say_already_recorded(
    as_user, monkeypatch
):
    world = World()
    episode = raise_escalation(world, "intervention_meeting")
    db.session.commit()
    original = escalations.new_id

    def someone_else_records_then_new_id():
        # Between the duplicate check and the insert: the other person's row is committed.
        _competing_insert(episode.id, "intervention_meeting")
        return original()

    monkeypatch.setattr(escalations, "new_id", someone_else_records_then_new_id)
    manager = as_user(world.manager)
    r = manager.post(page_url(episode, "intervention_meeting"), form("held"))
    assert len(actions_of(episode)) == 1
    assert r.status_code == 422
    assert "already recorded" in r.get_data(as_text=True)


# ---------------------------------------------------------------- 6. the manager's page


@pytest.mark.both_databases
def test_the_managers_page_leads_with_what_is_overdue_and_who_owns_it(as_user):
    world = World()
    # Back 2 hours ago, looked after: the social worker's visit is due within a day (due soon).
    back = raise_escalation(world, "lac_visit", world.new_child(True, last_name="Backhouse"))
    # Missing 30 hours: the Need to Know and the intervention meeting are overdue, the urgent
    # strategy meeting (at 72 hours) and the strategy meeting (7 days) are upcoming.
    missing = raise_escalation(world, "need_to_know", world.new_child(last_name="Farfield"))
    db.session.commit()
    manager = as_user(world.manager)
    html = manager.get("/manage/").get_data(as_text=True)
    assert html.index("Escalations to act on") < html.index("Return interviews overdue or due soon")
    assert html.index("Escalations to act on") < html.index("Awaiting allocation")
    assert html.index("Escalations to act on") < html.index("Missing now")

    cards = worklist(manager)
    order = [(e, t) for e, t, _ in cards]
    assert order == [
        (missing.id, "Need to Know notification"),
        (missing.id, "Intervention meeting"),
        (back.id, "Social worker visit"),
        (missing.id, "Urgent strategy meeting"),
        (missing.id, "Strategy meeting"),
    ]
    by_title = {t: card for _, t, card in cards}
    assert "Overdue" in by_title["Need to Know notification"]
    assert "Due soon" in by_title["Social worker visit"]
    assert "Upcoming" in by_title["Urgent strategy meeting"]
    # Who owns each: the social worker named on the child's record for the visit.
    assert (
        f"<strong>Owner:</strong> Social worker: {world.sw.name}</p>"
        in by_title["Social worker visit"]
    )
    assert "<strong>Owner:</strong> Manager</p>" in by_title["Need to Know notification"]
    # Each leads to its Record action page, and back here afterwards.
    assert (
        f'href="/episodes/{missing.id}/escalations/need_to_know?next=/manage/"'
        in by_title["Need to Know notification"]
    )

    # Recorded from the card: back on the manager's page, and the card is gone.
    r = manager.post(page_url(missing, "need_to_know") + "?next=/manage/", form("sent"))
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/manage/"
    assert [t for _, t, _ in worklist(manager)] == [
        "Intervention meeting",
        "Social worker visit",
        "Urgent strategy meeting",
        "Strategy meeting",
    ]


# ---------------------------------------------------------------- 7. next= stays on this site


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/manage/",
        "/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_next_never_leads_away_from_the_site(as_user, target):
    world = World()
    episode = raise_escalation(world, "need_to_know")
    db.session.commit()
    manager = as_user(world.manager)
    page = manager.get(page_url(episode, "need_to_know") + "?" + urlencode({"next": target}))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "evil.example" not in html and "javascript:" not in html
    r = manager.post(page_url(episode, "need_to_know"), form("sent", next=target))
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.path == f"/episodes/{episode.id}"
    assert len(actions_of(episode)) == 1
