"""The retention rules at their edges: 29 February, death before and after 18, the day itself."""

from __future__ import annotations

from datetime import date

import pytest

from webapp.retention import rules
from webapp.retention.rules import ChildFacts, Settings, anniversary, assess

NO_PERIOD = Settings()
SIX_YEARS = Settings(years_other=6)


def lac(dob, died_on=None, holds=(), closed_on=date(2020, 1, 1)):
    return ChildFacts(dob, died_on, True, closed_on, frozenset(holds))


def other(dob=date(2008, 5, 10), closed_on=date(2020, 3, 15), holds=(), died_on=None):
    return ChildFacts(dob, died_on, False, closed_on, frozenset(holds))


# ---------------------------------------------------------------- anniversaries


def test_anniversary_of_an_ordinary_day():
    assert anniversary(date(2010, 6, 30), 75) == date(2085, 6, 30)


def test_29_february_falls_on_1_march_in_a_common_year():
    assert anniversary(date(2008, 2, 29), 18) == date(2026, 3, 1)
    assert anniversary(date(2000, 2, 29), 75) == date(2075, 3, 1)


def test_29_february_stays_in_a_leap_year():
    assert anniversary(date(2008, 2, 29), 16) == date(2024, 2, 29)


# ---------------------------------------------------------------- looked after: 75th anniversary


def test_looked_after_kept_through_the_75th_birthday_and_due_the_day_after():
    facts = lac(date(1950, 7, 4))
    assert not assess(facts, date(2025, 7, 3), NO_PERIOD).due
    on_the_day = assess(facts, date(2025, 7, 4), NO_PERIOD)
    assert not on_the_day.due and on_the_day.rule == rules.LAC_75
    after = assess(facts, date(2025, 7, 5), NO_PERIOD)
    assert after.due and after.due_from == date(2025, 7, 5)


def test_looked_after_born_29_february_kept_through_1_march_of_a_common_year():
    facts = lac(date(1952, 2, 29))  # 75th anniversary in 2027, a common year
    assert not assess(facts, date(2027, 2, 28), NO_PERIOD).due
    assert not assess(facts, date(2027, 3, 1), NO_PERIOD).due
    assert assess(facts, date(2027, 3, 2), NO_PERIOD).due


def test_a_75th_anniversary_of_29_february_is_always_1_march():
    # 75 is odd, so the 75th anniversary of a leap year is a common year.
    assert lac(date(1948, 2, 29)) and anniversary(date(1948, 2, 29), 75) == date(2023, 3, 1)
    assert assess(lac(date(1948, 2, 29)), date(2023, 3, 1), NO_PERIOD).due_from == date(2023, 3, 2)


def test_the_day_after_28_february_in_a_leap_year_is_29_february():
    facts = lac(date(1949, 2, 28))
    assert not assess(facts, date(2024, 2, 28), NO_PERIOD).due
    assert assess(facts, date(2024, 2, 29), NO_PERIOD).due_from == date(2024, 2, 29)


def test_a_local_period_never_shortens_a_looked_after_childs_record():
    facts = lac(date(2000, 1, 1), closed_on=date(2005, 1, 1))
    decision = assess(facts, date(2030, 1, 1), Settings(years_other=1))
    assert decision.rule == rules.LAC_75 and not decision.due


# ---------------------------------------------------------------- looked after: died before 18


def test_died_before_18_due_on_the_15th_anniversary_of_death():
    facts = lac(date(2005, 3, 10), died_on=date(2010, 8, 20))
    d = assess(facts, date(2025, 8, 19), NO_PERIOD)
    assert d.rule == rules.LAC_DIED and not d.due
    # 15 years beginning with 20 August 2010 end on 19 August 2025.
    assert assess(facts, date(2025, 8, 20), NO_PERIOD).due


def test_died_the_day_before_the_18th_birthday_is_before_18():
    facts = lac(date(1990, 6, 1), died_on=date(2008, 5, 31))
    assert assess(facts, date(2023, 5, 31), NO_PERIOD).rule == rules.LAC_DIED
    assert assess(facts, date(2023, 5, 31), NO_PERIOD).due


def test_died_on_the_18th_birthday_keeps_the_75th_anniversary_rule():
    facts = lac(date(1990, 6, 1), died_on=date(2008, 6, 1))
    d = assess(facts, date(2040, 1, 1), NO_PERIOD)
    assert d.rule == rules.LAC_75 and not d.due
    assert d.due_from == date(2065, 6, 2)


def test_died_after_18_keeps_the_75th_anniversary_rule():
    facts = lac(date(1990, 6, 1), died_on=date(2012, 1, 1))
    assert assess(facts, date(2030, 1, 1), NO_PERIOD).rule == rules.LAC_75


def test_born_29_february_died_28_february_of_the_18th_year_is_before_18():
    # The 18th birthday in 2026 (common) is 1 March: 28 February is still 17.
    facts = lac(date(2008, 2, 29), died_on=date(2026, 2, 28))
    assert assess(facts, date(2041, 2, 28), NO_PERIOD).due
    facts = lac(date(2008, 2, 29), died_on=date(2026, 3, 1))
    assert assess(facts, date(2050, 1, 1), NO_PERIOD).rule == rules.LAC_75


def test_died_on_29_february_due_on_1_march_fifteen_years_on():
    facts = lac(date(2000, 1, 1), died_on=date(2012, 2, 29))
    assert not assess(facts, date(2027, 2, 28), NO_PERIOD).due
    assert assess(facts, date(2027, 3, 1), NO_PERIOD).due


def test_a_date_of_death_before_birth_holds_the_record():
    facts = lac(date(2005, 1, 1), died_on=date(2004, 1, 1))
    d = assess(facts, date(2100, 1, 1), NO_PERIOD)
    assert not d.due and rules.DIED_ON_UNCERTAIN in d.holds


# ---------------------------------------------------------------- other children


def test_other_children_are_kept_when_no_period_is_set():
    d = assess(other(), date(2100, 1, 1), NO_PERIOD)
    assert d.rule == rules.OTHER_NOT_SET and d.due_from is None and not d.due


def test_other_children_due_on_the_anniversary_of_closing():
    facts = other(closed_on=date(2019, 11, 30))
    assert not assess(facts, date(2025, 11, 29), SIX_YEARS).due
    d = assess(facts, date(2025, 11, 30), SIX_YEARS)
    assert d.rule == rules.OTHER and d.due and d.due_from == date(2025, 11, 30)


def test_other_children_closed_on_29_february():
    facts = other(closed_on=date(2020, 2, 29))
    assert assess(facts, date(2026, 2, 28), SIX_YEARS).due_from == date(2026, 3, 1)


def test_other_children_not_before_the_local_minimum_age():
    settings = Settings(years_other=6, min_age_other=25)
    facts = other(dob=date(2004, 2, 29), closed_on=date(2019, 1, 1))
    d = assess(facts, date(2028, 1, 1), settings)
    assert not d.due and d.due_from == date(2029, 3, 1)
    assert assess(facts, date(2029, 3, 1), settings).due


def test_death_does_not_change_the_local_period():
    facts = other(died_on=date(2015, 1, 1), closed_on=date(2015, 2, 1))
    assert assess(facts, date(2021, 2, 1), SIX_YEARS).rule == rules.OTHER


# ---------------------------------------------------------------- anything in progress


@pytest.mark.parametrize("hold", sorted(set(rules.HOLD_LABELS) - {rules.DIED_ON_UNCERTAIN}))
def test_anything_in_progress_is_never_due(hold):
    for facts, settings in (
        (lac(date(1900, 1, 1), holds={hold}), NO_PERIOD),
        (other(holds={hold}), SIX_YEARS),
    ):
        d = assess(facts, date(2200, 1, 1), settings)
        assert not d.due and hold in d.holds


# ---------------------------------------------------------------- settings


def test_settings_from_configuration():
    s = rules.settings_from({rules.ENV_YEARS_OTHER: "7", rules.ENV_MIN_AGE_OTHER: " 25 "})
    assert s == Settings(years_other=7, min_age_other=25)
    assert rules.settings_from({rules.ENV_YEARS_OTHER: ""}) == Settings()
    assert rules.settings_from({}) == Settings()


@pytest.mark.parametrize(
    "values",
    [
        {rules.ENV_YEARS_OTHER: "six"},
        {rules.ENV_YEARS_OTHER: "0"},
        {rules.ENV_YEARS_OTHER: "-3"},
        {rules.ENV_MIN_AGE_OTHER: "12"},
    ],
)
def test_settings_refuse_nonsense(values):
    with pytest.raises(rules.SettingsError) as caught:
        rules.settings_from(values)
    assert next(iter(values)) in str(caught.value)
