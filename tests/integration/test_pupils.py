"""A school's pupils: the DSL adds one or imports the MIS export (page and command line)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import func, select

from tests import factories
from webapp.accounts.models import Role
from webapp.audit import AuditEvent
from webapp.carers.models import ChildProfile
from webapp.children.models import Child
from webapp.errors import NotAllowed
from webapp.extensions import db
from webapp.fieldsync.models import ChangeLog
from webapp.schools import pupils
from webapp.schools.pupil_rules import upn_check_letter

HEADER = "UPN,Legal Surname,Legal Forename,DOB,Gender,Year\n"


def upn(serial: int) -> str:
    body = f"80120000{serial:04d}"
    return upn_check_letter(body) + body


def dsl_of_new_school():
    la = factories.local_authority()
    person = factories.user(Role.DSL, authority=la)
    db.session.commit()
    return person


def pupils_of(school_id: str) -> list[Child]:
    db.session.expire_all()
    found = db.session.scalars(select(Child).where(Child.school_id == school_id))
    return sorted(found, key=lambda c: (c.upn or "")[1:])  # by serial, not check letter


def form(**kw) -> dict:
    data = {
        "first_name": "Amira",
        "last_name": "Testpupil",
        "date_of_birth": ["5", "9", "2014"],
        "sex": "female",
        "upn": upn(1),
        "year_group": "7",
    }
    return data | kw


# --------------------------------------------------------------------------- add a pupil


def test_a_dsl_adds_a_pupil_of_their_school(app, as_user):
    dsl = dsl_of_new_school()
    page = as_user(dsl)
    assert page.get("/school/pupils/").status_code == 200
    response = page.post("/school/pupils/new", form(upn=upn(1).lower()))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    [child] = pupils_of(dsl.organisation_id)
    assert (child.upn, child.year_group, child.first_name) == (upn(1), "7", "Amira")
    assert child.date_of_birth == date(2014, 9, 5)
    # The school's authority is responsible; no legal status until the authority says so.
    assert child.responsible_authority_id == dsl.organisation.parent_id
    assert (child.legal_status, child.looked_after) == ("none", False)
    assert db.session.get(ChildProfile, child.id) is not None
    listing = page.get("/school/pupils/").get_data(as_text=True)
    assert "Amira Testpupil" in listing and "Year 7" in listing
    assert "Amira" not in listing.split("<title>")[1].split("</title>")[0]


def test_a_duplicate_upn_is_refused_and_the_form_keeps_what_was_typed(app, as_user):
    dsl = dsl_of_new_school()
    page = as_user(dsl)
    assert page.post("/school/pupils/new", form()).status_code == 302
    response = page.post("/school/pupils/new", form(first_name="Bethan"))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "already on your school" in body
    assert 'value="Bethan"' in body and "govuk-error-summary" in body
    assert len(pupils_of(dsl.organisation_id)) == 1


def test_the_same_upn_may_be_at_another_school(app, as_user):
    # A pupil who moved keeps their UPN; each school has its own record.
    first, second = dsl_of_new_school(), dsl_of_new_school()
    assert as_user(first).post("/school/pupils/new", form()).status_code == 302
    assert as_user(second).post("/school/pupils/new", form()).status_code == 302


def test_a_wrong_check_letter_is_refused_beside_the_field(app, as_user):
    dsl = dsl_of_new_school()
    wrong = ("A" if upn(1)[0] != "A" else "B") + upn(1)[1:]
    response = as_user(dsl).post("/school/pupils/new", form(upn=wrong))
    assert response.status_code == 422
    assert "does not match" in response.get_data(as_text=True)
    assert pupils_of(dsl.organisation_id) == []


def test_only_a_dsl_has_the_pupils_pages(app, as_user):
    manager = factories.manager()
    db.session.commit()
    page = as_user(manager)
    for url in ("/school/pupils/", "/school/pupils/new", "/school/pupils/import"):
        assert page.get(url).status_code == 404


def test_a_dsl_sees_only_their_own_schools_pupils(app, as_user):
    mine, other = dsl_of_new_school(), dsl_of_new_school()
    assert (
        as_user(other).post("/school/pupils/new", form(first_name="Elsewhere")).status_code == 302
    )
    listing = as_user(mine).get("/school/pupils/").get_data(as_text=True)
    assert "Elsewhere" not in listing


def test_a_child_the_authority_linked_to_the_school_is_not_added_twice(app, as_user):
    dsl = dsl_of_new_school()
    known = factories.child(
        dsl.organisation.parent,
        first_name="Amira",
        last_name="Testpupil",
        date_of_birth=date(2014, 9, 5),
        school_id=dsl.organisation_id,
    )
    db.session.commit()
    assert as_user(dsl).post("/school/pupils/new", form()).status_code == 302
    [child] = pupils_of(dsl.organisation_id)
    assert (child.id, child.upn) == (known.id, upn(1))


# --------------------------------------------------------------------------- import


def csv_of(rows: list[tuple]) -> bytes:
    return (HEADER + "".join(",".join(map(str, row)) + "\n" for row in rows)).encode()


@pytest.mark.both_databases
def test_an_import_updates_pupils_by_upn_and_creates_the_rest(app, as_user):
    dsl = dsl_of_new_school()
    page = as_user(dsl)
    assert page.post("/school/pupils/new", form(upn=upn(1), year_group="6")).status_code == 302
    [existing] = pupils_of(dsl.organisation_id)

    data = csv_of(
        [
            (upn(1), "Testpupil", "Amira", "05/09/2014", "F", "Year 7"),  # moved up a year
            (upn(2), "Second", "Ben", "2015-01-31", "Male", "R"),
            (upn(3), "Third", "Cara", "01/03/2013", "F", "8"),
        ]
    )
    response = page.post(
        "/school/pupils/import",
        {"file": (io.BytesIO(b"\xef\xbb\xbf" + data), "export.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    assert "2 added, 1 updated, 0 unchanged" in response.get_data(as_text=True)

    children = pupils_of(dsl.organisation_id)
    assert [(c.upn, c.first_name, c.year_group, c.sex) for c in children] == [
        (upn(1), "Amira", "7", "female"),
        (upn(2), "Ben", "R", "male"),
        (upn(3), "Cara", "8", "female"),
    ]
    assert children[0].id == existing.id
    for child in children[1:]:
        # What the ORM's listeners would have done for each: sealed flags, a profile, a log row.
        assert child.sealed_flags == dict.fromkeys(child.sealed_flags, 0)
        assert child.responsible_authority_id == dsl.organisation.parent_id
        assert child.legal_status == "none"
        assert db.session.get(ChildProfile, child.id).version == 1
        assert db.session.scalar(
            select(func.count())
            .select_from(ChangeLog)
            .where(ChangeLog.record_type == "child", ChangeLog.record_id == child.id)
        )
    [audit_row] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import")).all()
    assert audit_row.detail == "2 created, 1 updated, 0 unchanged"
    assert audit_row.user_id == dsl.id and audit_row.object_id == dsl.organisation_id

    # The same file again changes nothing.
    again = pupils.import_pupils(None, dsl.organisation, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


@pytest.mark.both_databases
def test_a_bad_row_anywhere_imports_nothing_and_names_its_line(app, as_user):
    dsl = dsl_of_new_school()
    page = as_user(dsl)
    assert page.post("/school/pupils/new", form(upn=upn(1), year_group="6")).status_code == 302
    rows = [(upn(1), "Testpupil", "Amira", "05/09/2014", "F", "7")]
    rows += [(upn(n), f"Pupil{n}", "Good", "05/09/2014", "M", "7") for n in range(2, 40)]
    rows.append((upn(40), "Secretsurname", "Last", "31/13/2014", "F", "7"))  # line 41
    response = page.post(
        "/school/pupils/import",
        {"file": (io.BytesIO(csv_of(rows)), "export.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "nothing was" in body and "govuk-error-summary" in body
    assert '<td class="govuk-table__cell">41</td>' in body
    assert '<td class="govuk-table__cell">DOB</td>' in body
    [only] = pupils_of(dsl.organisation_id)
    assert only.year_group == "6"  # not updated either
    refused = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "import_refused")
    ).all()
    assert [e.detail for e in refused] == ["1 problems, nothing imported"]


def test_no_file_chosen(app, as_user):
    dsl = dsl_of_new_school()
    response = as_user(dsl).post("/school/pupils/import", {}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose the CSV file" in response.get_data(as_text=True)


def test_a_dsl_of_another_school_cannot_import_into_this_one(app):
    mine, other = dsl_of_new_school(), dsl_of_new_school()
    data = csv_of([(upn(1), "Testpupil", "Amira", "05/09/2014", "F", "7")])
    with pytest.raises(NotAllowed):
        pupils.import_pupils(other, mine.organisation, data)
    manager = factories.manager(mine.organisation.parent)
    db.session.commit()
    with pytest.raises(NotAllowed):
        pupils.import_pupils(manager, mine.organisation, data)
    assert pupils_of(mine.organisation_id) == []


# --------------------------------------------------------------------------- the command line


def run_cli(app, *args):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    environ.update(
        HOMEWARD_INSTANCE_PATH=app.config["INSTANCE_PATH"],
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
    )
    return subprocess.run(  # noqa: S603  (our own CLI)
        [sys.executable, "-m", "webapp.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_import_command_and_its_exit_codes(app, tmp_path):
    dsl = dsl_of_new_school()
    urn = dsl.organisation.urn
    good = tmp_path / "good.csv"
    good.write_bytes(csv_of([(upn(1), "Testpupil", "Amira", "05/09/2014", "F", "7")]))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_of(
            [
                (upn(2), "Fine", "Ben", "05/09/2014", "M", "7"),
                (upn(3), "Secretsurname", "Cara", "05/09/2014", "F", "Year 99"),
            ]
        )
    )

    r = run_cli(app, "import", "pupils", "--school", urn, str(bad))
    assert r.returncode == 1
    assert "Line 3: Year:" in r.stderr
    assert "Secretsurname" not in r.stderr + r.stdout and upn(3) not in r.stderr
    assert pupils_of(dsl.organisation_id) == []

    r = run_cli(app, "import", "pupils", "--school", urn, str(good))
    assert r.returncode == 0, r.stderr
    assert "1 added" in r.stdout
    assert [c.upn for c in pupils_of(dsl.organisation_id)] == [upn(1)]

    r = run_cli(app, "import", "pupils", "--school", "00000000", str(good))
    assert r.returncode == 1 and "No organisation" in r.stderr
    r = run_cli(app, "import", "pupils", "--school", dsl.organisation.parent.ons_code, str(good))
    assert r.returncode == 1 and "not a school" in r.stderr
