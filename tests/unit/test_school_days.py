"""School days and the absence timeline, at their edges: half-terms, bank holidays, Christmas,
weekends, closures, a count that crosses a term break, an absence recorded late, and which
milestones a follow-up has."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from webapp.schools.days import (
    MILESTONES,
    SchoolCalendar,
    england_bank_holidays,
    school_day_number,
    timeline,
)

D = date

# A typical English authority's 2026/27 year (half-terms and holidays are the gaps).
TERMS_2026_27 = (
    (D(2026, 9, 2), D(2026, 10, 23)),  # autumn 1; half-term 26-30 October
    (D(2026, 11, 2), D(2026, 12, 18)),  # autumn 2; Christmas
    (D(2027, 1, 4), D(2027, 2, 12)),  # spring 1; half-term 15-19 February
    (D(2027, 2, 22), D(2027, 3, 25)),  # spring 2; Easter (Good Friday 26 March)
    (D(2027, 4, 12), D(2027, 5, 28)),  # summer 1 (May Day 3 May); half-term 31 May-4 June
    (D(2027, 6, 7), D(2027, 7, 21)),  # summer 2
)
BANK = england_bank_holidays([2026, 2027])


def cal(**kw) -> SchoolCalendar:
    return SchoolCalendar(terms=TERMS_2026_27, bank_holidays=BANK, **kw)


def test_england_bank_holidays_come_from_the_library_with_substitute_days():
    assert D(2027, 5, 3) in BANK  # early May bank holiday, a Monday
    assert D(2026, 8, 31) in BANK  # summer bank holiday (England, not Scotland's 3 August)
    assert D(2026, 8, 3) not in BANK
    # Boxing Day 2026 is a Saturday: the Monday after is the day off.
    assert D(2026, 12, 28) in BANK
    assert D(2027, 3, 17) not in BANK  # St Patrick's Day is Northern Ireland's


def test_a_weekend_is_not_a_school_day_and_counting_from_it_starts_on_monday():
    c = cal()
    saturday, sunday, monday = D(2026, 11, 7), D(2026, 11, 8), D(2026, 11, 9)
    assert not c.is_school_day(saturday) and not c.is_school_day(sunday)
    assert c.is_school_day(monday)
    assert c.add_school_days(saturday, 1) == monday
    assert c.add_school_days(saturday, 2) == D(2026, 11, 10)
    assert c.count(saturday, sunday) == 0


def test_half_term_is_a_gap():
    c = cal()
    assert not c.is_school_day(D(2026, 10, 28))  # Wednesday of half-term
    # Thursday 22 October is day 1; Friday day 2; the Monday after half-term day 3.
    assert c.add_school_days(D(2026, 10, 22), 3) == D(2026, 11, 2)
    assert c.count(D(2026, 10, 19), D(2026, 11, 6)) == 10


def test_a_bank_holiday_monday_in_term_is_skipped():
    c = cal()
    assert c.in_term(D(2027, 5, 3)) and not c.is_school_day(D(2027, 5, 3))
    assert c.add_school_days(D(2027, 4, 30), 2) == D(2027, 5, 4)
    # Without England's bank holidays it would have counted.
    plain = SchoolCalendar(terms=TERMS_2026_27)
    assert plain.add_school_days(D(2027, 4, 30), 2) == D(2027, 5, 3)


def test_christmas_term_ends_before_and_starts_after():
    c = cal()
    for day in (D(2026, 12, 21), D(2026, 12, 25), D(2026, 12, 28), D(2027, 1, 1)):
        assert not c.is_school_day(day)
    assert c.add_school_days(D(2026, 12, 16), 3) == D(2026, 12, 18)
    assert c.add_school_days(D(2026, 12, 16), 4) == D(2027, 1, 4)
    assert c.count(D(2026, 12, 14), D(2027, 1, 8)) == 10


def test_bank_holidays_are_not_school_days_even_inside_a_term_entered_across_them():
    # A school that entered one long term over Christmas still does not count Christmas.
    c = SchoolCalendar(terms=((D(2026, 12, 1), D(2027, 1, 29)),), bank_holidays=BANK)
    assert not c.is_school_day(D(2026, 12, 25))
    assert not c.is_school_day(D(2026, 12, 28))  # Boxing Day observed
    assert c.is_school_day(D(2026, 12, 29))


def test_a_closure_day_is_not_a_school_day():
    inset = D(2026, 11, 2)
    c = cal(closures=frozenset({inset}))
    assert c.in_term(inset) and not c.is_school_day(inset)
    assert c.add_school_days(D(2026, 10, 22), 3) == D(2026, 11, 3)
    assert cal().add_school_days(D(2026, 10, 22), 3) == D(2026, 11, 2)


def test_school_days_are_inclusive_and_empty_when_the_end_is_first():
    c = cal()
    assert c.school_days(D(2026, 11, 2), D(2026, 11, 2)) == [D(2026, 11, 2)]
    assert c.school_days(D(2026, 11, 3), D(2026, 11, 2)) == []
    assert c.school_days(D(2026, 11, 6), D(2026, 11, 9)) == [D(2026, 11, 6), D(2026, 11, 9)]


def test_day_one_is_the_start_and_n_must_be_positive():
    c = cal()
    assert c.add_school_days(D(2026, 11, 4), 1) == D(2026, 11, 4)
    with pytest.raises(ValueError):
        c.add_school_days(D(2026, 11, 4), 0)


def test_beyond_the_terms_entered_every_weekday_that_is_not_a_holiday_counts():
    # A school that has not entered next year's terms yet: deadlines fall earlier, never nowhere.
    c = cal()
    assert c.last_known == D(2027, 7, 21)
    assert c.is_school_day(D(2027, 9, 1))  # after the last term entered, a Wednesday
    assert not c.is_school_day(D(2027, 8, 30))  # the summer bank holiday, even there
    assert not c.is_school_day(D(2027, 9, 4))  # a Saturday, even there
    # Inside the span, a gap between terms is a holiday.
    assert c.covers(D(2026, 10, 28)) and not c.is_school_day(D(2026, 10, 28))


def test_a_calendar_with_no_terms_counts_weekdays_less_bank_holidays():
    c = SchoolCalendar(terms=(), bank_holidays=BANK)
    assert c.first_known is None and c.last_known is None
    assert c.add_school_days(D(2027, 4, 30), 2) == D(2027, 5, 4)
    assert c.add_school_days(D(2026, 11, 2), 10) == D(2026, 11, 13)


def _by_code(milestones):
    return {m.code: m for m in milestones}


def test_timeline_days_1_3_10_and_20():
    first = D(2026, 11, 2)  # a Monday in term
    ms = _by_code(timeline(first, cal(), today=first))
    assert list(ms) == ["contact_day1", "ews_day3", "notify_day10", "joint_enquiries_day20"]
    assert ms["contact_day1"].due_on == first
    assert ms["contact_day1"].who == "Designated safeguarding lead"
    assert ms["ews_day3"].due_on == D(2026, 11, 4)
    assert ms["notify_day10"].due_on == D(2026, 11, 13)
    assert ms["joint_enquiries_day20"].due_on == D(2026, 11, 27)
    assert ms["contact_day1"].state == "due"
    assert {m.state for c, m in ms.items() if c != "contact_day1"} == {"upcoming"}


def test_day_10_lands_after_half_term():
    first = D(2027, 2, 8)  # Monday before February half-term
    ms = _by_code(timeline(first, cal(), today=first))
    assert ms["ews_day3"].due_on == D(2027, 2, 10)
    assert ms["notify_day10"].due_on == D(2027, 2, 26)  # not 19 February: half-term
    # Days 11 to 20 are the next two weeks of March.
    assert ms["joint_enquiries_day20"].due_on == D(2027, 3, 12)


def test_day_20_crosses_christmas_and_the_new_year_bank_holiday():
    first = D(2026, 12, 7)
    ms = _by_code(timeline(first, cal(), today=first))
    # 7-18 December are days 1-10; school resumes on 4 January 2027 (day 11).
    assert ms["notify_day10"].due_on == D(2026, 12, 18)
    assert ms["joint_enquiries_day20"].due_on == D(2027, 1, 15)


def test_an_absence_recorded_late_has_its_milestones_already_due():
    first = D(2026, 11, 2)
    today = D(2026, 11, 20)
    ms = _by_code(timeline(first, cal(), today=today))
    assert ms["contact_day1"].state == "due"
    assert ms["ews_day3"].state == "due"
    assert ms["notify_day10"].state == "due"
    assert ms["joint_enquiries_day20"].state == "upcoming"
    # Due on the day itself, not only after it.
    on_the_day = _by_code(timeline(first, cal(), today=D(2026, 11, 27)))
    assert on_the_day["joint_enquiries_day20"].state == "due"


def test_done_milestones_are_marked_done_whatever_their_date():
    first = D(2026, 11, 2)
    ms = _by_code(timeline(first, cal(), today=D(2026, 11, 20), done={"ews_day3"}))
    assert ms["ews_day3"].state == "done"
    assert ms["notify_day10"].state == "due"


def test_joint_enquiries_only_when_whereabouts_unknown():
    first = D(2026, 11, 2)
    known = _by_code(timeline(first, cal(), today=first, whereabouts_unknown=False))
    assert "joint_enquiries_day20" not in known
    assert "notify_day10" in known
    unknown = _by_code(timeline(first, cal(), today=first, whereabouts_unknown=True))
    assert "joint_enquiries_day20" in unknown


def test_illness_has_the_15_day_sickness_return_instead_of_the_unauthorised_notification():
    first = D(2026, 11, 2)
    ill = _by_code(timeline(first, cal(), today=first, illness=True, whereabouts_unknown=False))
    assert list(ill) == ["contact_day1", "ews_day3", "illness_day15"]
    assert ill["illness_day15"].due_on == D(2026, 11, 20)
    assert "illness_day15" not in _by_code(timeline(first, cal(), today=first))


def test_counting_from_a_non_school_day_starts_at_the_next_one():
    # The first day recorded is in half-term (a pupil who did not come back after it).
    first = D(2026, 10, 28)
    ms = _by_code(timeline(first, cal(), today=first))
    assert ms["contact_day1"].due_on == D(2026, 11, 2)
    assert ms["contact_day1"].state == "upcoming"
    assert ms["ews_day3"].due_on == D(2026, 11, 4)
    # From a Sunday, with a bank holiday Monday: day 1 is the Tuesday.
    ms = _by_code(timeline(D(2027, 5, 2), cal(), today=D(2027, 5, 2)))
    assert ms["contact_day1"].due_on == D(2027, 5, 4)


def test_milestones_come_in_the_contracts_order_and_in_date_order():
    ms = timeline(D(2026, 11, 2), cal(), today=D(2026, 11, 2), illness=True)
    codes = [m.code for m in ms]
    assert codes == [c for c in MILESTONES if c in codes]
    assert [m.due_on for m in ms] == sorted(m.due_on for m in ms)


def test_school_day_number():
    c = cal()
    first = D(2026, 10, 22)
    assert school_day_number(first, c, first) == 1
    assert school_day_number(first, c, D(2026, 10, 28)) == 2  # half-term: still day 2
    assert school_day_number(first, c, D(2026, 11, 2)) == 3
    assert school_day_number(first, c, first - timedelta(days=1)) == 0
