"""The oversight figures (issue 13, the dashboard), against hand-computed fixtures on SQLite and
PostgreSQL: periods by the UK date (a month from 00:00 London on the 1st, whatever the clocks
do), age on the UK date across both clock changes, open episodes by duration, withdrawn episodes
counting for nothing, repeat children, the 72-hour share, push and pull factors kept in step
with the sealed answers, the filters; under the access rules (a drill-down never shows a child
of another authority; a child placed here by another authority is counted as such); CSV cells
that would run as formulas neutralised."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from tests import factories
from webapp import sealed
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.episodes.models import FOUND_PLACE_LABELS, Episode, EpisodeStatus
from webapp.extensions import db
from webapp.interviews import service as interviews
from webapp.interviews.models import Interview, InterviewStatus
from webapp.interviews.questions import SECTIONS
from webapp.oversight import charts, factors, figures
from webapp.oversight.factors import InterviewFactor
from webapp.oversight.figures import Filters

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
APRIL = figures.month_period(2026, 4)
MARCH = figures.month_period(2026, 3)
OCTOBER = figures.month_period(2026, 10)
ALL = Filters()


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def ep(child, last_seen: datetime, hours: float | None = 6, **kw) -> Episode:
    """An episode last seen at `last_seen`, back `hours` later (None: still missing)."""
    returned = last_seen + timedelta(hours=hours) if hours is not None else None
    status = kw.pop("status", EpisodeStatus.RETURNED if returned else EpisodeStatus.MISSING)
    episode = Episode(
        child_id=child.id,
        reported_type=kw.pop("reported_type", "missing"),
        missing_from=kw.pop("missing_from", "home"),
        last_seen_at=last_seen,
        returned_at=returned,
        how_returned=kw.pop("how_returned", "own_accord" if returned else None),
        status=status,
        **kw,
    )
    db.session.add(episode)
    db.session.flush()
    return episode


@pytest.fixture
def la(app):
    authority = factories.local_authority()
    return {
        "authority": authority,
        "manager": factories.manager(authority),
        "other": factories.local_authority(),
    }


def tables(manager, period, filters=ALL):
    return figures.episode_tables(manager, period, filters)


def counts(table) -> dict[str, tuple[int, int]]:
    return {r.key: (r.count, r.children) for r in table.rows}


# ---------------------------------------------------------------- periods and clock changes


def test_a_month_runs_from_midnight_london_time_whatever_the_clocks_do():
    assert MARCH.start == utc(2026, 3, 1, 0, 0)  # GMT
    assert MARCH.end == utc(2026, 3, 31, 23, 0)  # 1 April 00:00 BST
    assert APRIL.start == MARCH.end
    assert OCTOBER.start == utc(2026, 9, 30, 23, 0)  # 1 October 00:00 BST
    assert OCTOBER.end == utc(2026, 11, 1, 0, 0)  # 1 November 00:00 GMT
    assert figures.quarter_period(2026, 1).end == MARCH.end
    fy = figures.financial_year_period(2025)
    assert (fy.start, fy.end) == (utc(2025, 3, 31, 23, 0), utc(2026, 3, 31, 23, 0))
    assert figures.parse_period("r2026-03-29.2026-03-29", NOW).end == utc(2026, 3, 29, 23, 0)
    # The last full month, in London: at 00:30 BST on 1 June it is already June.
    assert figures.default_period(utc(2026, 5, 31, 23, 30)).code == "m2026-05"
    assert figures.default_period(utc(2026, 5, 31, 22, 30)).code == "m2026-04"


@pytest.mark.parametrize(
    "code", ["", "m2026-13", "q2026-5", "y1999", "x", "r2026-04-02.2026-04-01"]
)
def test_a_period_code_is_checked(code):
    if code == "":
        assert figures.parse_period(code, NOW) == figures.default_period(NOW)
        return
    with pytest.raises(figures.RuleError):
        figures.parse_period(code, NOW)


def test_an_episode_belongs_to_the_uk_month_it_began_in(la):
    child = factories.child(la["authority"])
    ep(child, utc(2026, 3, 31, 22, 59))  # 23:59 BST, 31 March: March
    ep(child, utc(2026, 3, 31, 23, 30))  # 00:30 BST, 1 April: April
    ep(child, utc(2026, 3, 1, 0, 0))  # 00:00 GMT, 1 March: March
    ep(child, utc(2026, 2, 28, 23, 59))  # February
    ep(child, utc(2026, 9, 30, 23, 30))  # 00:30 BST, 1 October: October
    ep(child, utc(2026, 10, 31, 23, 30))  # 23:30 GMT, 31 October: October
    ep(child, utc(2026, 11, 1, 0, 0))  # November
    db.session.commit()
    manager = la["manager"]
    assert tables(manager, MARCH)["episodes"].count == 2
    assert tables(manager, APRIL)["episodes"].count == 1
    assert tables(manager, OCTOBER)["episodes"].count == 2
    # The trend puts each in the same month as the period does.
    months = {m.period.code: m.episodes for m in figures.trend(manager, OCTOBER, ALL)}
    assert months["m2026-02"] == 1 and months["m2026-03"] == 2 and months["m2026-04"] == 1
    assert months["m2026-10"] == 2 and len(months) == 12 and "m2026-11" not in months


@pytest.mark.parametrize(
    ("born", "last_seen", "band"),
    [
        # Spring: BST from 01:00 UTC on Sunday 29 March 2026.
        (date(2016, 4, 1), utc(2026, 3, 31, 22, 30), "under10"),  # 23:30 BST on 31 March
        (date(2016, 4, 1), utc(2026, 3, 31, 23, 30), "10-13"),  # 00:30 BST on 1 April: 10
        (date(2016, 3, 29), utc(2026, 3, 29, 0, 30), "10-13"),  # 00:30 GMT on the 29th
        (date(2016, 3, 30), utc(2026, 3, 29, 23, 30), "10-13"),  # 00:30 BST on the 30th
        (date(2016, 3, 30), utc(2026, 3, 29, 22, 30), "under10"),  # 23:30 BST on the 29th
        # Autumn: GMT from 01:00 UTC on Sunday 25 October 2026.
        (date(2012, 10, 25), utc(2026, 10, 24, 23, 30), "14-15"),  # 00:30 BST on the 25th: 14
        (date(2012, 10, 26), utc(2026, 10, 25, 23, 30), "10-13"),  # 23:30 GMT on the 25th: 13
        (date(2010, 11, 1), utc(2026, 11, 1, 0, 0), "16-17"),  # 16 that day
        (date(2008, 6, 1), utc(2026, 5, 31, 23, 30), "none"),  # 18 on 1 June (BST): no band
    ],
)
def test_the_age_band_is_the_age_on_the_uk_date_the_episode_began(la, born, last_seen, band):
    child = factories.child(la["authority"], date_of_birth=born)
    ep(child, last_seen)
    db.session.commit()
    period = figures.range_period(date(2026, 1, 1), date(2026, 12, 31))
    found = {
        code
        for code in figures.AGE_BANDS
        if tables(la["manager"], period, Filters(age_band=code))["episodes"].count
    }
    assert found == (set() if band == "none" else {band})


# ---------------------------------------------------------------- what the episodes say


def test_episodes_by_type_where_from_how_found_and_withdrawn_ones_count_for_nothing(la):
    a = factories.child(la["authority"])
    b = factories.child(la["authority"])
    day = utc(2026, 4, 10, 9)
    ep(a, day, reported_type="missing", missing_from="home")
    ep(
        a,
        day + timedelta(days=1),
        reported_type="not_back",
        missing_from="placement",
        how_returned="found_by_police",
    )
    ep(b, day, reported_type="absent", missing_from="school", how_returned=None)
    ep(b, day + timedelta(days=2), None, reported_type="away", missing_from="placement")
    # Recorded by mistake: counts nowhere, not even as still missing.
    ep(
        b,
        day + timedelta(days=3),
        None,
        reported_type="missing",
        missing_from="school",
        status=EpisodeStatus.WITHDRAWN,
    )
    db.session.commit()
    t = tables(la["manager"], APRIL)
    assert (t["episodes"].count, t["episodes"].children) == (4, 2)
    assert counts(t["type"]) == {"missing": (2, 1), "absent": (1, 1), "away": (1, 1)}
    assert counts(t["from"]) == {"home": (1, 1), "placement": (2, 2), "school": (1, 1)}
    found = counts(t["found"])
    assert found["own_accord"] == (1, 1)
    assert found["found_by_police"] == (1, 1)
    assert found["not_recorded"] == (1, 1)
    assert found["still_missing"] == (1, 1)
    assert sum(n for n, _ in found.values()) == 4


def test_where_children_were_found(app, la, as_user):
    """Every episode of the period in one row: a place, back with none recorded, or still
    missing; withdrawn ones nowhere; another authority's child never, even with a place."""
    a, b, c = (factories.child(la["authority"]) for _ in range(3))
    theirs = factories.child(la["other"])
    day = utc(2026, 4, 10, 9)
    ep(a, day, found_place="friend")
    ep(a, day + timedelta(days=1), found_place="friend")
    ep(a, day + timedelta(days=2), found_place="transport")
    ep(b, day, found_place="friend")
    ep(b, day + timedelta(days=1), found_place="not_known")
    ep(b, day + timedelta(days=2))  # back, where not recorded
    ep(c, day, None)  # still missing
    # Recorded by mistake, with a place: counted nowhere.
    ep(c, day - timedelta(days=2), found_place="hospital", status=EpisodeStatus.WITHDRAWN)
    ep(c, utc(2026, 5, 1, 9), found_place="hospital")  # May: not April's
    ep(theirs, day, found_place="hospital")
    ep(theirs, day + timedelta(days=1), found_place="friend")
    db.session.commit()
    t = tables(la["manager"], APRIL)
    place = counts(t["place"])
    assert {k: v for k, v in place.items() if v != (0, 0)} == {
        "friend": (3, 2),
        "transport": (1, 1),
        "not_known": (1, 1),
        "not_recorded": (1, 1),
        "still_missing": (1, 1),
    }
    assert list(place)[: len(FOUND_PLACE_LABELS)] == list(FOUND_PLACE_LABELS)  # every place
    assert sum(n for n, _ in place.values()) == t["episodes"].count == 7
    # The other authority's manager counts only their own child's.
    theirs_count = counts(tables(factories.manager(la["other"]), APRIL)["place"])
    assert theirs_count["hospital"] == (1, 1) and theirs_count["friend"] == (1, 1)

    behind = figures.children_behind(la["manager"], "place", "friend", APRIL, ALL, NOW)
    assert {(r.child_id, r.count) for r in behind.rows} == {(a.id, 2), (b.id, 1)}
    assert behind.title == "Where found: A friend's home"
    assert figures.children_behind(la["manager"], "place", "hospital", APRIL, ALL, NOW).rows == ()
    db.session.commit()

    manager = as_user(la["manager"])
    page = manager.get("/manage/figures/?period=m2026-04").get_data(as_text=True)
    assert "Where children were found" in page
    assert "/manage/figures/children?figure=place&amp;key=friend&amp;period=m2026-04" in page
    rows = _csv(manager.get("/manage/figures/place.csv?period=m2026-04"))
    assert rows[0] == ["Where children were found", "Episodes", "Children"]
    assert ["A friend's home", "3", "2"] in rows and ["Still missing", "1", "1"] in rows
    assert ["A hospital", "0", "0"] in rows
    listed = _csv(
        manager.get("/manage/figures/children.csv?figure=place&key=hospital&period=m2026-04")
    )
    assert listed == [["Child", "Authority identifier", "Episodes"]]
    assert manager.get("/manage/figures/children?figure=place&key=moon").status_code == 404


def test_open_episodes_by_how_long_now(la):
    child = factories.child(la["authority"])
    others = [factories.child(la["authority"]) for _ in range(4)]
    ep(child, NOW - timedelta(hours=23), None)
    ep(others[0], NOW - timedelta(hours=24, minutes=1), None)
    ep(others[1], NOW - timedelta(hours=73), None)
    ep(others[2], NOW - timedelta(days=8), None)
    ep(others[3], NOW - timedelta(days=9), 2)  # back: not open
    ep(others[3], NOW - timedelta(days=10), None, status=EpisodeStatus.WITHDRAWN)
    db.session.commit()
    table = figures.open_episodes(la["manager"], ALL, NOW)
    assert counts(table) == {"24h": (3, 3), "72h": (2, 2), "7d": (1, 1)}
    behind = figures.children_behind(la["manager"], "open", "72h", APRIL, ALL, NOW)
    assert {r.child_id for r in behind.rows} == {others[1].id, others[2].id}
    assert behind.period is None  # now, not the period


def test_children_with_repeat_episodes(la):
    a, b, c = (factories.child(la["authority"]) for _ in range(3))
    for n in range(3):
        ep(a, utc(2026, 4, 2 + n, 10))
    ep(a, utc(2026, 5, 2, 10))  # another month: not in April's count
    ep(b, utc(2026, 4, 3, 10))
    ep(b, utc(2026, 4, 20, 10))
    ep(c, utc(2026, 4, 4, 10))
    ep(c, utc(2026, 4, 5, 10), status=EpisodeStatus.WITHDRAWN)
    db.session.commit()
    table = figures.repeat_table(la["manager"], APRIL, ALL)
    assert counts(table) == {"2": (5, 2), "3": (3, 1)}
    behind = figures.children_behind(la["manager"], "repeat", "2", APRIL, ALL, NOW)
    assert {(r.child_id, r.count) for r in behind.rows} == {(a.id, 3), (b.id, 2)}


# ---------------------------------------------------------------- return interviews


def _interview(child, episode, **kw):
    return factories.interview(child_=child, episodes=[episode], **kw)


def test_return_interviews_and_the_share_held_within_72_hours(la):
    authority = la["authority"]
    made = []
    for n in range(6):
        child = factories.child(authority)
        made.append((child, ep(child, utc(2026, 4, 6 + n, 10), 6)))
    (c0, e0), (c1, e1), (c2, e2), (c3, e3), (c4, e4), (c5, e5) = made
    due = lambda e: e.returned_at + timedelta(hours=72)  # noqa: E731
    _interview(
        c0,
        e0,
        status=InterviewStatus.AUTHORISED,
        offered="Y",
        outcome="accepted",
        held_at=due(e0) - timedelta(hours=1),
    )
    _interview(
        c1, e1, status=InterviewStatus.SUBMITTED, offered="Y", outcome="accepted", held_at=due(e1)
    )  # at the due instant: within
    _interview(c2, e2, offered="Y", outcome="accepted", held_at=due(e2) + timedelta(minutes=1))
    _interview(c3, e3, offered="Y", outcome="declined")  # past due, never held
    _interview(c4, e4, offered="N")
    # A withdrawn episode's interview (not needed) counts nowhere.
    e5.status = EpisodeStatus.WITHDRAWN
    _interview(c5, e5, status=InterviewStatus.NOT_NEEDED)
    db.session.commit()
    table = figures.interview_table(la["manager"], APRIL, ALL, NOW)
    got = {k: n for k, (n, _) in counts(table).items()}
    assert got == {
        "all": 5,
        "offered": 4,
        "accepted": 3,
        "declined": 1,
        "authorised": 1,
        "held": 3,
        "within_72h": 2,
        "late": 1,
        "overdue": 2,
    }
    timely = figures.timeliness(table)
    assert (timely.held, timely.within_72h) == (3, 2)
    assert figures.percent(timely.share) == "67%" and timely.national == 0.63
    behind = figures.children_behind(la["manager"], "interviews", "within_72h", APRIL, ALL, NOW)
    assert {r.child_id for r in behind.rows} == {c0.id, c1.id}
    april = next(m for m in figures.trend(la["manager"], APRIL, ALL) if m.period == APRIL)
    assert (april.held, april.within_72h) == (3, 2)


def test_interviews_by_team_and_the_team_filter(la):
    authority = la["authority"]
    red, blue = factories.team(authority, name="Red team"), factories.team(authority, name="Blue")
    red_worker = factories.worker(authority, team_=red)
    blue_worker = factories.worker(authority, team_=blue)
    c1, c2, c3 = (factories.child(authority) for _ in range(3))
    e1, e2, e3 = ep(c1, utc(2026, 4, 3, 9)), ep(c2, utc(2026, 4, 4, 9)), ep(c3, utc(2026, 4, 5, 9))
    _interview(c1, e1, worker_=red_worker, held_at=e1.returned_at + timedelta(hours=2))
    _interview(c2, e2, worker_=blue_worker, held_at=e2.returned_at + timedelta(hours=80))
    _interview(c3, e3, status=InterviewStatus.AWAITING_ALLOCATION)
    db.session.commit()
    rows = figures.team_table(la["manager"], APRIL, ALL)
    assert [(r.label, r.interviews, r.held, r.within_72h) for r in rows] == [
        ("Blue", 1, 1, 0),
        ("Red team", 1, 1, 1),
        ("Not allocated", 1, 0, 0),
    ]
    only_red = Filters(team_id=red.id)
    assert tables(la["manager"], APRIL, only_red)["episodes"].count == 1
    assert figures.interview_table(la["manager"], APRIL, only_red, NOW).row("all").count == 1
    # The interview figures filter by the interview's own team (an episode has one interview),
    # not through the episodes' semi join: the same answer, checked on each of them.
    assert [
        (r.label, r.interviews) for r in figures.team_table(la["manager"], APRIL, only_red)
    ] == [("Red team", 1)]
    april = next(m for m in figures.trend(la["manager"], APRIL, only_red) if m.period == APRIL)
    assert (april.episodes, april.held, april.within_72h) == (1, 1, 1)
    only_blue = Filters(team_id=blue.id)
    april = next(m for m in figures.trend(la["manager"], APRIL, only_blue) if m.period == APRIL)
    assert (april.episodes, april.held, april.within_72h) == (1, 1, 0)
    behind = figures.children_behind(la["manager"], "team", "none", APRIL, ALL, NOW)
    assert [r.child_id for r in behind.rows] == [c3.id]


# ---------------------------------------------------------------- push and pull factors


def _why():
    return next(s for s in SECTIONS if s.slug == "why")


def test_factors_follow_the_sealed_answers_and_are_counted(app, la):
    authority = la["authority"]
    worker = factories.worker(authority)
    children = [factories.child(authority) for _ in range(3)]
    made = [
        _interview(c, ep(c, utc(2026, 4, 3 + n, 9)), worker_=worker) for n, c in enumerate(children)
    ]
    db.session.commit()
    # Saved the way the form saves them: the listener copies the codes in the same flush.
    interviews.save_section(
        worker, made[0], _why(), {"reasons": ["home", "friends"], "why_details": "=not copied"}
    )
    interviews.save_section(worker, made[1], _why(), {"reasons": ["home"]})
    interviews.save_section(worker, made[2], _why(), {"reasons": ["planned", "drugs_alcohol"]})
    # A change of mind: the old codes go.
    interviews.save_section(worker, made[2], _why(), {"reasons": ["planned"]})
    ours = [i.id for i in made]  # the demo's interviews have reasons of their own

    def factor_rows():
        return set(
            db.session.execute(
                select(InterviewFactor.interview_id, InterviewFactor.code).where(
                    InterviewFactor.interview_id.in_(ours)
                )
            )
        )

    rows = factor_rows()
    assert rows == {
        (made[0].id, "friends"),
        (made[0].id, "home"),
        (made[1].id, "home"),
        (made[2].id, "planned"),
    }
    table = figures.factor_table(la["manager"], APRIL, ALL)
    assert table.rows[0].key == "home" and (table.rows[0].count, table.rows[0].kind) == (2, "push")
    got = {r.key: (r.count, r.kind) for r in table.rows if r.count}
    assert got == {"home": (2, "push"), "friends": (1, "pull"), "planned": (1, "other")}
    assert len(table.rows) == len(factors.REASON_LABELS)  # every reason, none given as 0
    behind = figures.children_behind(la["manager"], "factor", "home", APRIL, ALL, NOW)
    assert {r.child_id for r in behind.rows} == {children[0].id, children[1].id}
    svg = str(charts.factors_chart(table.rows))
    assert 'role="img"' in svg and "Something happening at home or in placement (push)" in svg
    # Interviews saved before the table existed: the backfill writes the same rows again.
    db.session.execute(delete(InterviewFactor))
    db.session.commit()
    with_content = db.session.scalar(
        select(func.count()).select_from(Interview).where(Interview.content_enc.is_not(None))
    )  # these three and the demo's
    assert factors.backfill(batch=2) == with_content
    assert factor_rows() == rows
    assert factors.backfill() == with_content  # idempotent
    assert factor_rows() == rows


def test_a_flush_that_failed_writes_none_of_its_factors_later(app, la):
    """A flush's factor rows are written at its end: one that fails part-way must leave none of
    them to be written by the next flush, after the rollback undid the answers they came from."""
    authority = la["authority"]
    worker = factories.worker(authority)
    first, second, third = (
        _interview(c, ep(c, utc(2026, 4, 3, 9)), worker_=worker)
        for c in (factories.child(authority) for _ in range(3))
    )
    db.session.commit()
    interviews.save_section(worker, second, _why(), {"reasons": ["home"]})

    def codes(interview):
        return set(
            db.session.scalars(
                select(InterviewFactor.code).where(InterviewFactor.interview_id == interview.id)
            )
        )

    # The first interview's reasons, and in the same flush the second's return linked to it
    # too (a return belongs to one interview): the interviews' UPDATE (and the listener) runs,
    # then the link's INSERT fails the flush.
    first.episodes.append(second.episodes[0])  # loaded first: a load flushes what is pending
    first.content_enc = sealed.seal({"reasons": ["bored"]}, "interview", first.id, "content")
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    interviews.save_section(worker, third, _why(), {"why_details": "no reasons"})
    assert codes(first) == set()
    assert codes(second) == {"home"}
    assert codes(third) == set()


# ---------------------------------------------------------------- filters


def test_placement_and_looked_after_filters(la):
    authority = la["authority"]
    home = factories.child(authority)
    cared = factories.child(authority, legal_status="looked_after")
    ep(home, utc(2026, 4, 3, 9), missing_from="home")
    ep(cared, utc(2026, 4, 4, 9), missing_from="placement")
    ep(cared, utc(2026, 4, 5, 9), missing_from="school")
    db.session.commit()

    def n(placement):
        return tables(la["manager"], APRIL, Filters(placement=placement))["episodes"].count

    assert [n(p) for p in ("home", "placement", "school", "looked_after", "not_looked_after")] == [
        1,
        1,
        1,
        2,
        1,
    ]


# ---------------------------------------------------------------- access


def test_only_the_authoritys_children_and_those_placed_here(app, la, as_user):
    authority, other = la["authority"], la["other"]
    third = factories.local_authority()
    ours = factories.child(authority, first_name="Ourchild", last_name="Figures")
    placed_here = factories.child(
        other, first_name="Hosted", last_name="Figures", host_authority_id=authority.id
    )
    theirs = factories.child(other, first_name="Theirchild", last_name="Figures")
    elsewhere = factories.child(
        other, first_name="Elsewhere", last_name="Figures", host_authority_id=third.id
    )
    for child in (ours, placed_here, theirs, elsewhere):
        ep(child, utc(2026, 4, 8, 9))
        ep(child, utc(2026, 4, 9, 9))
    factories.school_notification(
        ours,
        "notify_day10",
        school=factories.organisation(factories.OrgKind.SCHOOL, authority),
        sent_at=utc(2026, 4, 20, 9),
    )
    factories.school_notification(
        theirs,
        "notify_day10",
        school=factories.organisation(factories.OrgKind.SCHOOL, other),
        sent_at=utc(2026, 4, 20, 9),
    )
    other_manager = factories.manager(other)
    db.session.commit()
    t = tables(la["manager"], APRIL)
    assert (t["episodes"].count, t["episodes"].children) == (4, 2)
    assert counts(t["placed"]) == {"all": (2, 1)}
    assert counts(t["cme"]) == {"all": (2, 1)}
    assert counts(tables(other_manager, APRIL)["placed"]) == {"all": (0, 0)}

    manager = as_user(la["manager"])
    for figure, key, shown in [
        ("episodes", "all", {"Ourchild", "Hosted"}),
        ("placed", "all", {"Hosted"}),
        ("cme", "all", {"Ourchild"}),
        ("repeat", "2", {"Ourchild", "Hosted"}),
        ("type", "missing", {"Ourchild", "Hosted"}),
    ]:
        page = manager.get(
            f"/manage/figures/children?figure={figure}&key={key}&period=m2026-04"
        ).get_data(as_text=True)
        present = {n for n in ("Ourchild", "Hosted", "Theirchild", "Elsewhere") if n in page}
        assert present == shown, (figure, key)
    # The other authority's manager sees their own children and never ours.
    theirs_page = (
        as_user(other_manager)
        .get("/manage/figures/children?figure=episodes&key=all&period=m2026-04")
        .get_data(as_text=True)
    )
    assert "Ourchild" not in theirs_page and "Theirchild" in theirs_page
    assert "Hosted" in theirs_page and "Elsewhere" in theirs_page  # theirs, hosted elsewhere


def test_the_page_for_managers_and_senior_managers_only(app, la, as_user):
    child = factories.child(la["authority"], first_name="Pagechild")
    ep(child, utc(2026, 4, 8, 9))
    senior = factories.user(Role.SENIOR_MANAGER, authority=la["authority"])
    worker = factories.worker(la["authority"])
    db.session.commit()
    page = as_user(la["manager"]).get("/manage/figures/?period=m2026-04")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('role="img"') == 3 and html.count("<desc id=") == 3
    assert "Figures for April 2026" in html and "Pagechild" not in html
    # Every drill-down link carries codes only: no child's id in any address on the page.
    assert child.id not in html
    assert "/manage/figures/children?figure=episodes&amp;key=all&amp;period=m2026-04" in html
    assert as_user(senior).get("/manage/figures/?period=m2026-04").status_code == 200
    assert as_user(worker).get("/manage/figures/").status_code == 404
    manager = as_user(la["manager"])
    assert manager.get("/manage/figures/?period=m2026-99").status_code == 422
    bad = manager.get("/manage/figures/?period=range&from=2026-04-10&to=2026-04-01")
    assert bad.status_code == 422 and "The end date must be on or after" in bad.get_data(True)
    ranged = manager.get("/manage/figures/?period=range&from=2026-04-01&to=2026-04-30")
    assert "1 April 2026 to 30 April 2026" in ranged.get_data(as_text=True)
    assert manager.get("/manage/figures/children?figure=nope&key=all").status_code == 404
    assert manager.get("/manage/figures/children?figure=factor&key=free text").status_code == 404
    other_team = factories.team(la["other"])
    db.session.commit()
    assert manager.get(f"/manage/figures/?team={other_team.id}").status_code == 422
    # Audited, with codes only.
    detail = db.session.scalars(
        select(AuditEvent.detail)
        .where(AuditEvent.object_type == "figures", AuditEvent.user_id == la["manager"].id)
        .order_by(AuditEvent.id)
    ).all()
    assert "m2026-04 none" in detail
    assert all("Pagechild" not in (d or "") for d in detail)


def test_a_drill_down_adds_up_to_its_number(la):
    kids = [factories.child(la["authority"]) for _ in range(3)]
    for n, child in enumerate(kids):
        for k in range(n + 1):
            ep(child, utc(2026, 4, 3 + k, 9), missing_from=("home", "school")[k % 2])
    db.session.commit()
    t = tables(la["manager"], APRIL)
    for figure, key in [("episodes", "all"), ("from", "home"), ("from", "school")]:
        table = t["episodes"] if figure == "episodes" else t[figure]
        row = table if figure == "episodes" else table.row(key)
        behind = figures.children_behind(la["manager"], figure, key, APRIL, ALL, NOW)
        assert sum(r.count for r in behind.rows) == row.count
        assert len(behind.rows) == row.children


# ---------------------------------------------------------------- CSV


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_csv_downloads_neutralise_cells_that_would_run_as_formulas(app, la, as_user):
    authority = la["authority"]
    team = factories.team(authority, name='=HYPERLINK("http://x")')
    worker = factories.worker(authority, team_=team)
    child = factories.child(
        authority, first_name="@SUM(A1)", last_name="Figures", authority_child_id="-12"
    )
    e = ep(child, utc(2026, 4, 3, 9))
    _interview(child, e, worker_=worker, held_at=e.returned_at + timedelta(hours=1))
    db.session.commit()
    manager = as_user(la["manager"])
    rows = _csv(manager.get(f"/manage/figures/team.csv?period=m2026-04&team={team.id}"))
    assert rows[0][0] == "Team"
    assert rows[1] == ['\'=HYPERLINK("http://x")', "1", "1", "1", "100%"]
    listed = _csv(
        manager.get("/manage/figures/children.csv?figure=episodes&key=all&period=m2026-04")
    )
    assert listed[1] == ["'@SUM(A1) Figures", "'-12", "1"]
    assert _csv(manager.get("/manage/figures/type.csv?period=m2026-04"))[1][1:] == ["1", "1"]
    trend = _csv(manager.get("/manage/figures/trend.csv?period=m2026-04"))
    assert len(trend) == 13 and trend[-1][:3] == ["April 2026", "1", "1"]
    assert manager.get("/manage/figures/nope.csv?period=m2026-04").status_code == 404
    exported = db.session.scalar(
        select(AuditEvent.detail).where(
            AuditEvent.action == "export", AuditEvent.object_type == "figures"
        )
    )
    assert exported == "episodes:all m2026-04 1 children"
