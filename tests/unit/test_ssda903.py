"""The SSDA903 Missing table's rules and the SSD extract's answers, on hand-made rows and records.

Each DfE rule passes and fails at its edges: the collection year's 1 April and 31 March, a
clock-change night (last seen at 00:30 BST is the previous day in UTC), open periods, overlaps,
an open period followed by a new one. The rules are checked on rows as written (text), so a row
the product never makes (a blank start, a bad code) is tested too.
"""

from datetime import UTC, date, datetime

import pytest

from webapp.oversight import csvsafe, ssda903
from webapp.oversight.ssda903 import CollectionYear, EpisodeRecord, Row, SsdRecord

Y2025 = CollectionYear(2025)  # 1 April 2025 to 31 March 2026


def row(start="10/06/2025", end="12/06/2025", code="M", **kw) -> Row:
    kw.setdefault("child", "NC-1")
    kw.setdefault("dob", "01/01/2010")
    kw.setdefault("child_id", "c1")
    kw.setdefault("episode_id", f"e-{start}-{end}")
    kw.setdefault("looked_after_since", date(2020, 1, 1))
    return Row(missing=code, mis_start=start, mis_end=end, **kw)


def rules(rows, year=Y2025, *, warnings=False) -> list[str]:
    return [p.rule for p in ssda903.validate(rows, year) if p.warning == warnings]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def record(last_seen, returned=None, **kw) -> EpisodeRecord:
    kw.setdefault("episode_id", f"e{last_seen.isoformat()}")
    kw.setdefault("child_id", "c1")
    kw.setdefault("child_ref", "NC-1")
    kw.setdefault("date_of_birth", date(2010, 1, 1))
    kw.setdefault("looked_after_since", date(2020, 1, 1))
    kw.setdefault("reported_type", "missing")
    return EpisodeRecord(last_seen_at=last_seen, returned_at=returned, **kw)


# ---------------------------------------------------------------- the year and the dates


def test_the_collection_year_runs_from_1_april_to_31_march_in_uk_time():
    assert (Y2025.start, Y2025.end, Y2025.label) == (date(2025, 4, 1), date(2026, 3, 31), "2025-26")
    # Midnight BST on 1 April is 23:00 UTC on 31 March; both ends are in BST.
    assert Y2025.starts_utc == utc(2025, 3, 31, 23)
    assert Y2025.ends_utc == utc(2026, 3, 31, 23)
    assert ssda903.collection_year_of(date(2026, 3, 31)) == Y2025
    assert ssda903.collection_year_of(date(2026, 4, 1)) == CollectionYear(2026)


def test_a_clock_change_night_counts_on_the_uk_date():
    # 00:30 BST on 1 April 2025 is 23:30 UTC on 31 March: the period started on 1 April.
    r = record(utc(2025, 3, 31, 23, 30), utc(2025, 4, 1, 10))
    assert ssda903.in_year(r, Y2025)
    out = ssda903.build([r], Y2025)
    assert out.rows[0].cells == ["NC-1", "01/01/2010", "M", "01/04/2025", "01/04/2025"]
    assert out.problems == []
    # 23:30 BST on 31 March 2025 (22:30 UTC) ended the day before the year: not in it.
    before = record(utc(2025, 3, 30, 20), utc(2025, 3, 31, 22, 30))
    assert not ssda903.in_year(before, Y2025)
    # The spring change itself: 00:30 GMT on 30 March 2025 is 00:30 UTC, the same date.
    assert ssda903.uk_date(utc(2025, 3, 30, 0, 30)) == date(2025, 3, 30)
    # The autumn change: 00:30 BST on 26 October 2025 is 23:30 UTC on the 25th.
    assert ssda903.uk_date(utc(2025, 10, 25, 23, 30)) == date(2025, 10, 26)


def test_which_periods_are_in_the_year():
    in_year = [
        record(utc(2025, 3, 1), None),  # open across the whole year
        record(utc(2025, 3, 1), utc(2025, 4, 1, 8)),  # ends on 1 April
        record(utc(2026, 3, 31, 12), None),  # starts on 31 March
        record(utc(2026, 3, 30), utc(2026, 4, 2)),  # ends after 31 March: returned open
    ]
    out = [
        record(utc(2025, 3, 1), utc(2025, 3, 31, 12)),  # ended on 31 March 2025
        record(utc(2026, 3, 31, 23, 30), None),  # 00:30 BST on 1 April 2026: next year
    ]
    assert [ssda903.in_year(r, Y2025) for r in in_year] == [True] * 4
    assert [ssda903.in_year(r, Y2025) for r in out] == [False] * 2
    built = ssda903.build(in_year[3:], Y2025)
    assert built.rows[0].mis_end == "" and built.problems == []


def test_a_period_ended_before_the_child_came_into_care_is_not_a_903_period():
    before_care = record(utc(2025, 5, 1), utc(2025, 5, 2), looked_after_since=date(2025, 6, 1))
    assert not ssda903.in_year(before_care, Y2025)
    # Ending on the day care began, it is one: and it started before care (rule 581).
    crossing = record(utc(2025, 5, 30), utc(2025, 6, 1, 9), looked_after_since=date(2025, 6, 1))
    out = ssda903.build([crossing], Y2025)
    assert [p.rule for p in out.failures] == ["581"]


def test_the_codes_missing_absent_and_not_back_are_m_and_away_is_a():
    assert {k: ssda903.missing_code(k) for k in ("missing", "absent", "not_back", "away")} == {
        "missing": "M",
        "absent": "M",
        "not_back": "M",
        "away": "A",
    }


def test_rows_are_each_childs_periods_in_the_order_they_began():
    records = [
        record(utc(2025, 7, 1), utc(2025, 7, 2), child_id="c2", child_ref="NC-2"),
        record(utc(2025, 6, 1, 18), utc(2025, 6, 2), reported_type="away"),
        record(utc(2025, 6, 1, 9), utc(2025, 6, 1, 12)),
    ]
    out = ssda903.build(records, Y2025)
    assert [r.cells for r in out.rows] == [
        ["NC-1", "01/01/2010", "M", "01/06/2025", "01/06/2025"],
        ["NC-1", "01/01/2010", "A", "01/06/2025", "02/06/2025"],
        ["NC-2", "01/01/2010", "M", "01/07/2025", "02/07/2025"],
    ]
    assert out.problems == []


# ---------------------------------------------------------------- each rule


def test_a_clean_row_passes_every_rule():
    assert ssda903.validate([row()], Y2025) == []


def test_child_identifier_missing():
    problems = ssda903.validate([row(child="")], Y2025)
    assert [(p.rule, p.fix) for p in problems] == [("CHILD", "child")]


@pytest.mark.parametrize(
    ("start", "expected"),
    [("31/02/2025", ["1004"]), ("2025-06-10", ["1004"]), ("1/6/2025", ["1004"]), ("", ["564"])],
)
def test_1004_the_start_is_a_real_dd_mm_yyyy_date(start, expected):
    assert rules([row(start=start, end="")]) == expected


def test_1004_a_row_with_no_start_and_no_code():
    assert rules([row(start="", end="", code="")]) == ["1004"]


@pytest.mark.parametrize(("end", "expected"), [("30/06/2025", []), ("31/06/2025", ["1005"])])
def test_1005_the_end_is_a_real_date_or_blank(end, expected):
    assert rules([row(end=end)]) == expected


@pytest.mark.parametrize(
    ("code", "expected"), [("M", []), ("A", []), ("X", ["1006"]), ("m", ["1006"])]
)
def test_1006_the_code_is_m_or_a(code, expected):
    assert rules([row(code=code)]) == expected


def test_564_565_566_code_and_dates_go_together():
    assert rules([row(start="", end="")]) == ["564"]
    assert rules([row(code="", end="")]) == ["565"]
    assert rules([row(code="")]) == ["565", "566"]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("10/06/2025", "10/06/2025", []),  # the same day: fine
        ("10/06/2025", "09/06/2025", ["567"]),
        ("10/06/2025", "", []),  # open
    ],
)
def test_567_the_end_is_not_before_the_start(start, end, expected):
    assert rules([row(start=start, end=end)]) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [("31/03/2026", []), ("01/04/2026", ["570"]), ("01/04/2024", [])],
)
def test_570_the_start_is_not_after_the_year_end(start, expected):
    assert rules([row(start=start, end="")]) == expected


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        ("01/04/2025", []),
        ("31/03/2026", []),
        ("31/03/2025", ["571"]),
        ("01/04/2026", ["571"]),
    ],
)
def test_571_the_end_is_inside_the_year(end, expected):
    assert rules([row(start="01/03/2025", end=end)]) == expected


@pytest.mark.parametrize(("start", "expected"), [("01/01/2010", []), ("31/12/2009", ["586"])])
def test_586_the_start_is_not_before_birth(start, expected):
    # (A period of care recorded from before the birth, so that only 586 can fail.)
    r = row(start=start, end="", looked_after_since=date(2009, 1, 1))
    assert rules([r], CollectionYear(2009)) == expected


@pytest.mark.parametrize(
    ("since", "expected"), [(date(2025, 6, 10), []), (date(2025, 6, 11), ["581"])]
)
def test_581_the_start_is_inside_the_period_of_care(since, expected):
    assert rules([row(start="10/06/2025", looked_after_since=since)]) == expected


def test_581_cannot_be_checked_without_the_date_care_began_warned_once_per_child():
    rows = [
        row(start="10/06/2025", end="11/06/2025", looked_after_since=None),
        row(start="12/06/2025", end="13/06/2025", looked_after_since=None),
    ]
    problems = ssda903.validate(rows, Y2025)
    assert [(p.rule, p.warning, p.fix) for p in problems] == [("581", True, "child")]


def test_574_touching_periods_and_several_in_one_day_pass():
    rows = [
        row("10/06/2025", "12/06/2025"),
        row("12/06/2025", "12/06/2025"),
        row("12/06/2025", "12/06/2025", episode_id="e-again"),
        row("12/06/2025", "", episode_id="e-open"),  # open, after the closed ones that day
    ]
    assert rules(rows) == []


def test_574_overlapping_periods_fail_on_the_later_one():
    rows = [row("10/06/2025", "15/06/2025", episode_id="a"), row("14/06/2025", "16/06/2025")]
    problems = ssda903.validate(rows, Y2025)
    assert [(p.rule, p.episode_id) for p in problems] == [("574", "e-14/06/2025-16/06/2025")]
    assert "before the child's period that started on 10/06/2025 ended on 15/06/2025" in (
        problems[0].message
    )


def test_574_an_open_period_followed_by_a_new_one_fails():
    rows = [row("10/06/2025", "", episode_id="open"), row("20/06/2025", "21/06/2025")]
    problems = ssda903.validate(rows, Y2025)
    assert [p.rule for p in problems] == ["574"]
    assert "still open" in problems[0].message


def test_574_a_long_period_overlapping_two_short_ones_is_found_for_both():
    rows = [
        row("01/06/2025", "30/06/2025", episode_id="long"),
        row("05/06/2025", "06/06/2025", episode_id="a"),
        row("10/06/2025", "11/06/2025", episode_id="b"),
    ]
    assert [p.episode_id for p in ssda903.validate(rows, Y2025)] == ["a", "b"]


def test_574_compares_a_childs_periods_only_with_their_own():
    rows = [row("10/06/2025", ""), row("11/06/2025", "12/06/2025", child_id="c2", child="NC-2")]
    assert rules(rows) == []


def test_574_in_any_order_of_rows():
    rows = [row("14/06/2025", "16/06/2025"), row("10/06/2025", "15/06/2025", episode_id="a")]
    assert rules(rows) == ["574"]


# ---------------------------------------------------------------- the SSD extract


@pytest.mark.parametrize(
    ("returned", "offered", "outcome", "expected"),
    [
        (False, None, None, ("NA", "NA")),  # not back: nothing due yet
        (False, "Y", "accepted", ("NA", "NA")),
        (True, None, None, ("N", "NA")),  # no offer recorded
        (True, "Y", "accepted", ("Y", "Y")),
        (True, "Y", "declined", ("Y", "N")),
        (True, "Y", None, ("Y", "NA")),  # offered, answer not recorded yet
        (True, "N", None, ("N", "NA")),
        (True, "NA", None, ("NA", "NA")),
    ],
)
def test_rhi_offered_and_accepted(returned, offered, outcome, expected):
    assert ssda903.rhi_answers(returned, offered, outcome) == expected


def test_ssd_rows_in_uk_time_with_the_ssd_columns():
    records = [
        SsdRecord("e2", "NC-2", "away", utc(2025, 10, 25, 23, 30), None, None, None),
        SsdRecord("e1", "NC-1", "missing", utc(2025, 6, 1, 8), utc(2025, 6, 2, 9), "Y", "declined"),
        SsdRecord("old", "NC-1", "missing", utc(2025, 3, 1), utc(2025, 3, 2), "Y", "accepted"),
    ]
    assert ssda903.SSD_HEADER[-2:] == ("miss_mis_epi_rhi_offered", "miss_mis_epi_rhi_accepted")
    assert ssda903.ssd_rows(records, Y2025) == [
        ["e1", "NC-1", "2025-06-01 09:00", "M", "2025-06-02 10:00", "Y", "N"],
        ["e2", "NC-2", "2025-10-26 00:30", "A", "", "NA", "NA"],
    ]


# ---------------------------------------------------------------- CSV cells


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+44", "'+44"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("NC-1", "NC-1"),
        ("", ""),
        (None, ""),
        (-3, -3),
    ],
)
def test_cells_that_start_like_a_formula_are_neutralised(cell, written):
    assert csvsafe.neutralise(cell) == written


def test_the_csv_file_has_the_header_and_crlf_lines():
    text = csvsafe.rows_to_csv(ssda903.HEADER, [["=HYPERLINK(1)", "01/01/2010", "M", "a,b", ""]])
    assert text == (
        'CHILD,DOB,MISSING,MIS_START,MIS_END\r\n\'=HYPERLINK(1),01/01/2010,M,"a,b",\r\n'
    )
