"""The school calendar through the real HTTP stack: the DSL keeps their own school's terms and
closure days; another school's DSL cannot touch or read them; a manager of the authority reads
them; the authority's CSV is all or nothing with every bad line named; calendar_for merges
England's bank holidays; every change is audited."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from tests import factories
from webapp.accounts.models import OrgKind, Role
from webapp.audit import AuditEvent
from webapp.extensions import db
from webapp.schools import calendar
from webapp.schools.calendar_models import SchoolClosure, SchoolTerm

D = date
PAGE = "/school/calendar"


@pytest.fixture
def school(app):
    """A school with its DSL, a second school of the same authority with its own DSL, the
    authority's manager, and a manager of another authority."""
    authority = factories.local_authority()
    school = factories.organisation(OrgKind.SCHOOL, authority)
    other_school = factories.organisation(OrgKind.SCHOOL, authority)
    people = {
        "authority": authority,
        "school": school,
        "other_school": other_school,
        "dsl": factories.user(Role.DSL, organisation_=school),
        "other_dsl": factories.user(Role.DSL, organisation_=other_school),
        "manager": factories.manager(authority),
        "outsider": factories.manager(),
        "worker": factories.worker(authority),
    }
    db.session.commit()
    return people


def terms_of(school_id: str) -> list[SchoolTerm]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(SchoolTerm)
            .where(SchoolTerm.school_id == school_id)
            .order_by(SchoolTerm.starts_on)
        )
    )


def closures_of(school_id: str) -> list[SchoolClosure]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(SchoolClosure).where(SchoolClosure.school_id == school_id))
    )


def audits(action: str, object_type: str) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.object_type == object_type)
    )


def term_form(name="Autumn 1", start=(2, 9, 2026), end=(23, 10, 2026)) -> dict:
    return {
        "term-name": name,
        "term-starts_on": [str(x) for x in start],
        "term-ends_on": [str(x) for x in end],
    }


def test_the_dsl_adds_and_deletes_terms_and_closure_days(school, as_user):
    dsl = as_user(school["dsl"])
    assert dsl.get(PAGE).status_code == 200

    r = dsl.post(f"{PAGE}/terms", term_form())
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    r = dsl.post(f"{PAGE}/terms", term_form("Autumn 2", (2, 11, 2026), (18, 12, 2026)))
    assert r.status_code == 302
    terms = terms_of(school["school"].id)
    assert [(t.name, t.starts_on, t.ends_on) for t in terms] == [
        ("Autumn 1", D(2026, 9, 2), D(2026, 10, 23)),
        ("Autumn 2", D(2026, 11, 2), D(2026, 12, 18)),
    ]
    assert terms[0].created_by_id == school["dsl"].id

    r = dsl.post(
        f"{PAGE}/closures", {"closure-on": ["2", "11", "2026"], "closure-reason": "INSET day"}
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    [closure] = closures_of(school["school"].id)
    assert (closure.on, closure.reason) == (D(2026, 11, 2), "INSET day")

    page = dsl.get(PAGE).get_data(as_text=True)
    assert "Autumn 2" in page and "INSET day" in page and "18 December 2026" in page

    assert dsl.post(f"{PAGE}/terms/{terms[1].id}/delete").status_code == 302
    assert dsl.post(f"{PAGE}/closures/{closure.id}/delete").status_code == 302
    assert [t.name for t in terms_of(school["school"].id)] == ["Autumn 1"]
    assert closures_of(school["school"].id) == []
    assert audits("create", "school_term") == 2
    assert audits("delete", "school_term") == 1
    assert audits("create", "school_closure") == 1
    assert audits("delete", "school_closure") == 1


def test_a_term_that_ends_first_or_overlaps_is_refused_with_what_was_typed_kept(school, as_user):
    dsl = as_user(school["dsl"])
    dsl.post(f"{PAGE}/terms", term_form())

    r = dsl.post(f"{PAGE}/terms", term_form("Backwards", (23, 10, 2026), (2, 9, 2026)))
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "There is a problem" in body
    assert "The last day of the term must be after its first day" in body
    assert 'value="Backwards"' in body  # what was typed is kept

    r = dsl.post(f"{PAGE}/terms", term_form("Overlapping", (19, 10, 2026), (30, 10, 2026)))
    assert r.status_code == 422
    assert "These dates overlap Autumn 1 (2 September 2026 to 23 October 2026)" in r.get_data(
        as_text=True
    )
    # The same day as both ends is refused too (end after start).
    r = dsl.post(f"{PAGE}/terms", term_form("One day", (2, 11, 2026), (2, 11, 2026)))
    assert r.status_code == 422
    assert [t.name for t in terms_of(school["school"].id)] == ["Autumn 1"]


def test_a_closure_needs_a_weekday_and_a_reason_and_only_once(school, as_user):
    dsl = as_user(school["dsl"])
    r = dsl.post(f"{PAGE}/closures", {"closure-on": ["7", "11", "2026"], "closure-reason": "x"})
    assert r.status_code == 422 and "weekend" in r.get_data(as_text=True)
    r = dsl.post(f"{PAGE}/closures", {"closure-on": ["2", "11", "2026"], "closure-reason": ""})
    assert r.status_code == 422 and "Enter why the school is closed" in r.get_data(as_text=True)
    ok = {"closure-on": ["2", "11", "2026"], "closure-reason": "Polling day"}
    assert dsl.post(f"{PAGE}/closures", ok).status_code == 302
    r = dsl.post(f"{PAGE}/closures", ok)
    assert r.status_code == 422 and "already closed on 2 November 2026" in r.get_data(as_text=True)
    assert len(closures_of(school["school"].id)) == 1


def test_another_schools_dsl_can_neither_change_nor_read_the_calendar(school, as_user):
    dsl = as_user(school["dsl"])
    dsl.post(f"{PAGE}/terms", term_form())
    dsl.post(f"{PAGE}/closures", {"closure-on": ["2", "11", "2026"], "closure-reason": "INSET"})
    [term] = terms_of(school["school"].id)
    [closure] = closures_of(school["school"].id)

    other = as_user(school["other_dsl"])
    assert other.post(f"{PAGE}/terms/{term.id}/delete").status_code == 404
    assert other.post(f"{PAGE}/closures/{closure.id}/delete").status_code == 404
    assert other.get(f"/schools/{school['school'].id}/calendar").status_code == 404
    # Their own page shows their own (empty) calendar, not the first school's.
    assert "23 October 2026" not in other.get(PAGE).get_data(as_text=True)
    # What they add goes to their own school.
    assert other.post(f"{PAGE}/terms", term_form("Theirs")).status_code == 302
    assert [t.name for t in terms_of(school["school"].id)] == ["Autumn 1"]
    assert [t.name for t in terms_of(school["other_school"].id)] == ["Theirs"]
    assert len(closures_of(school["school"].id)) == 1


def test_a_manager_of_the_authority_reads_but_cannot_edit(school, as_user):
    as_user(school["dsl"]).post(f"{PAGE}/terms", term_form())
    url = f"/schools/{school['school'].id}/calendar"

    manager = as_user(school["manager"])
    r = manager.get(url)
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "Autumn 1" in body and "23 October 2026" in body
    assert "Add a term" not in body and "Delete" not in body
    assert manager.get(PAGE).status_code == 404
    assert manager.post(f"{PAGE}/terms", term_form("Manager's")).status_code == 404

    assert as_user(school["outsider"]).get(url).status_code == 404  # another authority
    assert as_user(school["worker"]).get(url).status_code == 404  # not a reader
    # Their own school's link takes the DSL to the page they edit.
    r = as_user(school["dsl"]).get(url)
    assert r.status_code == 302 and r.headers["Location"].endswith(PAGE)


def upload(dsl, text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    return dsl.post(
        f"{PAGE}/import",
        {"import-file": (io.BytesIO(data), "terms.csv")},
        content_type="multipart/form-data",
    )


GOOD_CSV = """name,start,end
Autumn 1,2026-09-02,2026-10-23
Autumn 2,02/11/2026,18/12/2026
Spring 1,2027-01-04,2027-02-12
"""


def test_the_authoritys_csv_is_imported_in_both_date_forms(school, as_user):
    dsl = as_user(school["dsl"])
    r = upload(dsl, "\ufeff" + GOOD_CSV)  # Excel's byte order mark
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    terms = terms_of(school["school"].id)
    assert [(t.name, t.starts_on, t.ends_on) for t in terms] == [
        ("Autumn 1", D(2026, 9, 2), D(2026, 10, 23)),
        ("Autumn 2", D(2026, 11, 2), D(2026, 12, 18)),
        ("Spring 1", D(2027, 1, 4), D(2027, 2, 12)),
    ]
    # The same file again adds nothing and is not an overlap.
    assert upload(dsl, GOOD_CSV).status_code == 302
    assert len(terms_of(school["school"].id)) == 3
    assert audits("import", "school_calendar") == 2


def test_the_csv_import_rejects_bad_lines_by_number_and_imports_nothing(school, as_user):
    dsl = as_user(school["dsl"])
    dsl.post(f"{PAGE}/terms", term_form("Summer 2", (7, 6, 2027), (21, 7, 2027)))
    bad = (
        "name,start,end\n"
        "Autumn 1,2026-09-02,2026-10-23\n"
        "Autumn 2,2026-11-02,2026-13-18\n"  # line 3: no 13th month
        "\n"
        "Spring 1,2027-02-12,2027-01-04\n"  # line 5: ends first
        "Summer 2 again,2027-07-01,2027-07-30\n"  # line 6: overlaps the term entered
        "Too few,2027-01-01\n"  # line 7
    )
    r = upload(dsl, bad)
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "Nothing was imported" in body
    assert "Line 3: the end date is not a date as YYYY-MM-DD or DD/MM/YYYY" in body
    assert "Line 5: the last day of the term must be after its first day" in body
    assert "Line 6: these dates overlap Summer 2" in body
    assert "Line 7: expected 3 values (name,start,end), found 2" in body
    assert "Line 2" not in body
    # All or nothing: the good line 2 was not kept either.
    assert [t.name for t in terms_of(school["school"].id)] == ["Summer 2"]
    assert audits("import_refused", "school_calendar") == 1


def test_the_csv_import_refuses_a_file_that_is_not_term_dates(school, as_user):
    dsl = as_user(school["dsl"])
    r = upload(dsl, b"\x89PNG\r\n\x1a\n\x00\x00")
    assert r.status_code == 422 and "Choose a CSV file of term dates" in r.get_data(as_text=True)
    r = dsl.post(f"{PAGE}/import", {}, content_type="multipart/form-data")
    assert r.status_code == 422 and "Choose the CSV file of term dates" in r.get_data(as_text=True)
    r = upload(dsl, "Autumn 1,2026-09-02,2026-10-23\nAutumn 2,2026-10-01,2026-12-18\n")
    assert r.status_code == 422  # overlapping lines inside the file (no header: line 2)
    assert "Line 2: these dates overlap Autumn 1" in r.get_data(as_text=True)
    assert terms_of(school["school"].id) == []


@pytest.mark.both_databases
def test_calendar_for_merges_terms_closures_and_englands_bank_holidays(school, as_user):
    dsl = as_user(school["dsl"])
    assert upload(dsl, GOOD_CSV).status_code == 302
    dsl.post(f"{PAGE}/closures", {"closure-on": ["2", "11", "2026"], "closure-reason": "INSET"})

    cal = calendar.calendar_for(db.session.get(type(school["school"]), school["school"].id))
    assert cal.terms[0] == (D(2026, 9, 2), D(2026, 10, 23))
    assert cal.closures == frozenset({D(2026, 11, 2)})
    assert D(2026, 12, 25) in cal.bank_holidays and D(2026, 12, 28) in cal.bank_holidays
    assert D(2027, 5, 3) in cal.bank_holidays  # years beyond the terms too
    # Day 3 of an absence from Thursday 22 October: Friday, then half-term, then the INSET
    # Monday is skipped: Tuesday 3 November.
    assert cal.add_school_days(D(2026, 10, 22), 3) == D(2026, 11, 3)
    # Christmas: 16-18 December are days 1-3; 4 January is day 4 (1 January a bank holiday).
    assert cal.add_school_days(D(2026, 12, 16), 4) == D(2027, 1, 4)
    # Years asked for explicitly: only those bank holidays.
    only_2026 = calendar.calendar_for(school["school"], years=[2026])
    assert (
        D(2027, 1, 1) not in only_2026.bank_holidays and D(2026, 12, 25) in only_2026.bank_holidays
    )
    # Another school's calendar has none of these terms.
    assert calendar.calendar_for(school["other_school"]).terms == ()
