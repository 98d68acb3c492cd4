"""The DSL's pupils pages: the school's list, add a pupil, import the MIS export."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.errors import RuleError
from webapp.schools import pupils
from webapp.schools.pupil_forms import ImportForm, PupilForm
from webapp.schools.pupil_rules import YEAR_GROUP_LABELS
from webapp.security import roles_required

bp = Blueprint("school_pupils", __name__, url_prefix="/school/pupils")


@bp.route("/")
@roles_required(Role.DSL)
def index():
    return render_template(
        "schools/pupils.html",
        pupils=pupils.list_pupils(current_user),
        year_labels=YEAR_GROUP_LABELS,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.DSL)
def new():
    form = PupilForm()
    status = 200
    if form.validate_on_submit():
        try:
            pupils.add_pupil(current_user, form.data)
        except RuleError as err:
            target = form[err.field] if err.field and err.field in form else form.upn
            target.errors = [*target.errors, err.message]
            status = 422
        else:
            # Generic: flash messages travel in the session cookie, which is signed, not secret.
            flash("Pupil added.", "success")
            return redirect(url_for("school_pupils.index"))
    elif form.is_submitted():
        status = 422
    return render_template("schools/pupil_new.html", form=form), status


@bp.route("/import", methods=["GET", "POST"])
@roles_required(Role.DSL)
def import_():
    form = ImportForm()
    result = None
    status = 200
    if form.validate_on_submit():
        storage = form.file.data
        if storage is None or not getattr(storage, "filename", ""):
            form.file.errors = [*form.file.errors, "Choose the CSV file to import"]
        else:
            result = pupils.import_pupils(current_user, current_user.organisation, storage.read())
            if not result.ok:
                count = len(result.errors)
                form.file.errors = [
                    *form.file.errors,
                    f"The file has {count} problem{'s' if count != 1 else ''}: nothing was "
                    "imported. Correct them in your MIS or the file and import it again.",
                ]
    if form.is_submitted() and (result is None or not result.ok):
        status = 422
    return render_template("schools/pupil_import.html", form=form, result=result), status
