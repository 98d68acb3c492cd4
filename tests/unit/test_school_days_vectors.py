"""School days and the absence timeline against the vectors the DSL's tablet also runs
(tests/js/school_days.test.mjs against static/js/school-days.js), so the tablet with no signal
shows the same due dates, states and words as the server."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from webapp.schools import days

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "school_days.json").read_text())
D = date.fromisoformat


def _calendar(name: str) -> days.SchoolCalendar:
    facts = VECTORS["calendars"][name]
    bank = facts["bankHolidays"]
    if bank == "england":
        bank = VECTORS["englandBankHolidays"]
    return days.SchoolCalendar(
        terms=tuple((D(start), D(end)) for start, end in facts["terms"]),
        closures=frozenset(map(D, facts["closures"])),
        bank_holidays=frozenset(map(D, bank)),
    )


def _run(case: dict):
    cal = _calendar(case["calendar"])
    op = case["op"]
    if op == "isSchoolDay":
        return cal.is_school_day(D(case["date"]))
    if op == "addSchoolDays":
        return cal.add_school_days(D(case["start"]), case["n"]).isoformat()
    if op == "count":
        return cal.count(D(case["start"]), D(case["end"]))
    if op == "schoolDays":
        return [d.isoformat() for d in cal.school_days(D(case["start"]), D(case["end"]))]
    if op == "schoolDayNumber":
        return days.school_day_number(D(case["firstDay"]), cal, D(case["today"]))
    if op == "timeline":
        milestones = days.timeline(
            D(case["firstDay"]),
            cal,
            D(case["today"]),
            illness=case.get("illness", False),
            whereabouts_unknown=case.get("whereaboutsUnknown", True),
            done=case.get("done", ()),
        )
        for m in milestones:  # the words the DSL sees, as the vectors (and the tablet) have them
            rule = VECTORS["rules"][m.code]
            assert (m.title, m.who) == (rule["title"], rule["who"])
        return [
            {"code": m.code, "dueOn": m.due_on.isoformat(), "state": m.state} for m in milestones
        ]
    raise AssertionError(f"unknown op {op}")


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_days_py_matches_the_shared_vectors(case):
    if case.get("error"):
        with pytest.raises(ValueError):
            _run(case)
    else:
        assert _run(case) == case["expected"]


def test_the_vectors_bank_holidays_are_the_librarys():
    # The tablet gets England's bank holidays from the server; the vectors must be the real ones.
    years = {int(d[:4]) for d in VECTORS["englandBankHolidays"]}
    library = sorted(d.isoformat() for d in days.england_bank_holidays(years))
    assert VECTORS["englandBankHolidays"] == library


def test_the_milestones_and_their_words_are_the_vectors():
    # static/js/school-days.js is held to the same by tests/js/school_days.test.mjs.
    assert list(days.MILESTONES) == VECTORS["milestones"]
    rules = {code: {"day": d, "title": t, "who": w} for code, (d, t, w) in days.RULES.items()}
    assert rules == VECTORS["rules"]


def test_the_vectors_cover_every_operation_and_variant():
    ops = {c["op"] for c in VECTORS["cases"]}
    assert ops == {
        "isSchoolDay",
        "addSchoolDays",
        "count",
        "schoolDays",
        "timeline",
        "schoolDayNumber",
    }
    timelines = [c for c in VECTORS["cases"] if c["op"] == "timeline"]
    assert any(c.get("illness") for c in timelines)
    assert any(c.get("whereaboutsUnknown") is False for c in timelines)
    assert any(c.get("done") for c in timelines)
    assert len(VECTORS["cases"]) >= 25
