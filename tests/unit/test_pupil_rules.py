"""The pure rules of a school's pupils: UPN check letters, year groups, reading an MIS export."""

import json
from datetime import date
from pathlib import Path

import pytest

from webapp.schools import pupil_rules as r

TODAY = date(2026, 11, 30)


def upn(body: str) -> str:
    return r.upn_check_letter(body) + body


def test_the_check_letter_of_a_known_upn():
    # The DfE's worked shape: LA 801, establishment 2000, year 05, serial 001.
    assert r.upn_check_letter("801200005001") == "B"
    assert r.upn_problem("B801200005001") is None


@pytest.mark.parametrize(
    "value",
    ["A801200005001", "C801200005001"],  # wrong check letter
)
def test_a_wrong_check_letter_is_refused(value):
    assert "does not match" in r.upn_problem(value)


def test_a_transposition_changes_the_check_letter():
    body = "801200005001"
    swapped = "801200050001"
    assert r.upn_problem(r.upn_check_letter(body) + swapped) is not None


@pytest.mark.parametrize(
    "value",
    ["", "B80120000500", "B8012000050011", "180120000500A", "B80120000A001", "I801200005001"],
)
def test_shapes_that_are_not_upns(value):
    assert r.upn_problem(value) is not None


def test_a_temporary_upn_ends_in_a_letter_counted_by_its_place():
    body = "80120000501A"
    assert r.upn_problem(upn(body)) is None
    # A is worth 0, B 1: a different last letter, a different check letter.
    assert r.upn_check_letter("80120000501A") != r.upn_check_letter("80120000501B")


def test_spaces_and_case_do_not_matter():
    assert r.normalise_upn(" b801 2000 05001 ") == "B801200005001"


@pytest.mark.parametrize(
    ("value", "year"),
    [
        ("R", "R"),
        ("Reception", "R"),
        ("YR", "R"),
        ("1", "1"),
        ("07", "7"),
        ("Y7", "7"),
        ("Year 7", "7"),
        ("year  13", "13"),
        ("NC 10", "10"),
    ],
)
def test_year_groups(value, year):
    assert r.parse_year_group(value) == year


@pytest.mark.parametrize("value", ["", "0", "14", "N1", "Year", "7A", "Year 14"])
def test_not_year_groups(value):
    assert r.parse_year_group(value) is None


def test_reception_sorts_first_and_none_last():
    assert sorted(["10", None, "2", "R", "1"], key=r.year_group_order) == [
        "R",
        "1",
        "2",
        "10",
        None,
    ]


@pytest.mark.parametrize(
    ("value", "sex"),
    [
        ("M", "male"),
        ("f", "female"),
        ("Male", "male"),
        ("FEMALE", "female"),
        ("U", "unknown"),
        ("X", "other"),
        ("Not known", "unknown"),
    ],
)
def test_genders(value, sex):
    assert r.parse_sex(value) == sex


def test_dates_in_both_formats():
    assert r.parse_date("05/09/2014") == date(2014, 9, 5)
    assert r.parse_date("2014-09-05") == date(2014, 9, 5)
    assert r.parse_date("5/9/2014") == date(2014, 9, 5)
    assert r.parse_date("31/02/2014") is None
    assert r.parse_date("09/05/14") is None


HEADER = "UPN,Legal Surname,Legal Forename,DOB,Gender,Year\n"


def test_a_good_file_with_a_bom_and_other_header_names():
    text = (
        "\ufeffupn, SURNAME ,Forename,Date of Birth,Sex,NC Year\r\n"
        f"{upn('801200005001')},Smith,Amy,05/09/2014,F,Year 7\r\n"
        "\r\n"
        f'{upn("801200005002")},"O\'Neil, Jr",Ben,2015-01-31,M,R\r\n'
    )
    parsed = r.parse_csv(text, TODAY)
    assert parsed.errors == []
    assert [(line, p.last_name, p.year_group, p.sex) for line, p in parsed.pupils] == [
        (2, "Smith", "7", "female"),
        (4, "O'Neil, Jr", "R", "male"),
    ]


def test_legal_names_win_over_preferred_ones():
    text = (
        "UPN,Surname,Legal Surname,Forename,Legal Forename,DOB,Gender,Year\n"
        f"{upn('801200005001')},Pref,Legal,Amy-pref,Amy,05/09/2014,F,7\n"
    )
    [(_, pupil)] = r.parse_csv(text, TODAY).pupils
    assert (pupil.last_name, pupil.first_name) == ("Legal", "Amy")


def test_a_missing_column_is_named_and_nothing_else_is_read():
    parsed = r.parse_csv("UPN,Surname,Forename,Gender,Year\nB801200005001,A,B,F,7\n", TODAY)
    assert parsed.pupils == []
    assert [str(e) for e in parsed.errors] == ["Line 1: DOB: No DOB column"]


def test_every_bad_row_by_its_line_and_column_never_its_value():
    text = (
        HEADER
        + f"{upn('801200005001')},Smith,Amy,05/09/2014,F,7\n"
        + "A801200005002,Jones,Ben,05/09/2014,M,7\n"  # line 3: wrong check letter
        + f'{upn("801200005003")},"Multi\nline",Cat,05/09/2014,F,7\n'  # lines 4-5: fine
        + f"{upn('801200005004')},Secretname,,31/02/2014,Q,Year 15\n"  # line 6: four problems
        + f"{upn('801200005001')},Smith,Amy,05/09/2014,F,7\n"  # line 7: the UPN of line 2 again
        + f"{upn('801200005005')},Too,Many,05/09/2014,F,7,extra\n"  # line 8
    )
    parsed = r.parse_csv(text, TODAY)
    problems = [(e.line, e.field) for e in parsed.errors]
    assert problems == [
        (3, "UPN"),
        (6, "Legal Forename"),
        (6, "DOB"),
        (6, "Gender"),
        (6, "Year"),
        (7, "UPN"),
        (8, "Row"),
    ]
    assert "line 2" in parsed.errors[5].message
    everything = " ".join(str(e) for e in parsed.errors)
    assert "Secretname" not in everything and "A801200005002" not in everything
    assert [line for line, _ in parsed.pupils] == [2, 4]


def test_a_date_of_birth_in_the_future_or_over_25_years_ago():
    text = (
        HEADER
        + f"{upn('801200005001')},A,B,01/12/2026,F,R\n"
        + f"{upn('801200005002')},A,B,01/01/1990,F,13\n"
    )
    assert [(e.line, e.field) for e in r.parse_csv(text, TODAY).errors] == [
        (2, "DOB"),
        (3, "DOB"),
    ]


def test_empty_files():
    assert r.parse_csv("", TODAY).errors[0].message == "The file is empty"
    assert r.parse_csv(HEADER, TODAY).errors[0].message == "The file has no pupils in it"


def test_windows_1252_exports_are_read():
    data = (HEADER + f"{upn('801200005001')},Zoë,Amy,05/09/2014,F,7\n").encode("cp1252")
    [(_, pupil)] = r.parse_csv(r.decode(data), TODAY).pupils
    assert pupil.last_name == "Zoë"


def test_rows_already_read_are_numbered_as_lines():
    rows = [
        {
            "UPN": upn("801200005001"),
            "Surname": "A",
            "Forename": "B",
            "DOB": "05/09/2014",
            "Gender": "F",
            "Year": "7",
        },
        {
            "UPN": "nonsense",
            "Surname": "A",
            "Forename": "B",
            "DOB": "05/09/2014",
            "Gender": "F",
            "Year": "7",
        },
    ]
    parsed = r.parse_rows(rows, TODAY)
    assert [(e.line, e.field) for e in parsed.errors] == [(3, "UPN")]


# The UPN check the DSL's tablet also runs (static/js/school-work.js upnProblem), case by case.
UPN_VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "upn.json").read_text())["cases"]


@pytest.mark.parametrize("case", UPN_VECTORS, ids=[c["note"] for c in UPN_VECTORS])
def test_upn_problem_matches_the_shared_vectors(case):
    upn = r.normalise_upn(case["typed"])
    assert upn == case["upn"]
    assert r.upn_problem(upn) == case["problem"]
