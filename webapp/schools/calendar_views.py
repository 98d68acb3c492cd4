"""The school calendar pages: the DSL keeps their own school's terms and closure days on one
tablet-first page; a manager or CME officer of the authority reads a school's calendar.

One page, several small forms, each posting to its own route; a form that fails is shown again
on the page with what was typed and the error summary at the top (422)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.errors import RuleError
from webapp.schools import calendar
from webapp.schools.calendar_forms import (
    CSV_ACCEPT,
    ClosureForm,
    DeleteForm,
    ImportForm,
    TermForm,
    add_error,
)
from webapp.security import roles_required

bp = Blueprint("school_calendar", __name__)

READ_ROLES = (Role.DSL, *calendar.READERS)


def _page(school, *, status=200, term_form=None, closure_form=None, import_form=None, lines=()):
    page = calendar.read_calendar(current_user, school)
    return (
        render_template(
            "schools/calendar.html",
            page=page,
            term_form=term_form or TermForm(formdata=None),
            closure_form=closure_form or ClosureForm(formdata=None),
            import_form=import_form or ImportForm(formdata=None),
            delete_form=DeleteForm(formdata=None),
            import_lines=list(lines),
            csv_accept=CSV_ACCEPT,
        ),
        status,
    )


@bp.route("/school/calendar")
@roles_required(Role.DSL)
def own():
    return _page(calendar.own_school(current_user))


@bp.route("/schools/<school_id>/calendar")
@roles_required(*READ_ROLES)
def show(school_id: str):
    school = calendar.readable_school(current_user, school_id)
    if calendar.can_edit(current_user, school):
        return redirect(url_for("school_calendar.own"))
    return _page(school)


@bp.route("/school/calendar/terms", methods=["POST"])
@roles_required(Role.DSL)
def add_term():
    school = calendar.own_school(current_user)
    form = TermForm()
    if form.validate_on_submit():
        try:
            calendar.add_term(current_user, form.name.data, form.starts_on.data, form.ends_on.data)
        except RuleError as err:
            add_error(form, err.field, err.message)
        else:
            flash("Term added.", "success")
            return redirect(url_for("school_calendar.own"))
    return _page(school, status=422, term_form=form)


@bp.route("/school/calendar/terms/<term_id>/delete", methods=["POST"])
@roles_required(Role.DSL)
def delete_term(term_id: str):
    if DeleteForm().validate_on_submit():
        calendar.delete_term(current_user, term_id)
        flash("Term deleted.", "success")
    return redirect(url_for("school_calendar.own"))


@bp.route("/school/calendar/closures", methods=["POST"])
@roles_required(Role.DSL)
def add_closure():
    school = calendar.own_school(current_user)
    form = ClosureForm()
    if form.validate_on_submit():
        try:
            calendar.add_closure(current_user, form.on.data, form.reason.data)
        except RuleError as err:
            add_error(form, err.field, err.message)
        else:
            flash("Closure day added.", "success")
            return redirect(url_for("school_calendar.own"))
    return _page(school, status=422, closure_form=form)


@bp.route("/school/calendar/closures/<closure_id>/delete", methods=["POST"])
@roles_required(Role.DSL)
def delete_closure(closure_id: str):
    if DeleteForm().validate_on_submit():
        calendar.delete_closure(current_user, closure_id)
        flash("Closure day deleted.", "success")
    return redirect(url_for("school_calendar.own"))


@bp.route("/school/calendar/import", methods=["POST"])
@roles_required(Role.DSL)
def import_terms():
    school = calendar.own_school(current_user)
    form = ImportForm()
    lines = []
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", ""):
            add_error(form, "file", "Choose the CSV file of term dates")
        else:
            result = calendar.import_terms(current_user, upload.stream)
            if result.ok:
                flash(
                    f"{result.added} terms imported"
                    + (f", {result.already_there} already there." if result.already_there else "."),
                    "success",
                )
                return redirect(url_for("school_calendar.own"))
            lines = [str(e) for e in result.errors]
            add_error(form, "file", "Nothing was imported: correct the file and import it again")
    return _page(school, status=422, import_form=form, lines=lines)
