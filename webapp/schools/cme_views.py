"""The CME officer's pages: the worklist, a case with its joint enquiries and outcome; and the
school side of a child on the child's page (a template global, for the roles cme.school_side
allows)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.db_types import utcnow
from webapp.errors import CHANGED, ChangedMeanwhile, RuleError
from webapp.extensions import db
from webapp.schools import cme
from webapp.schools.absence_models import NOTIFICATION_KIND_LABELS
from webapp.schools.cme_forms import JointEnquiryForm, OutcomeForm, version_of
from webapp.security import roles_required

bp = Blueprint("cme", __name__, url_prefix="/cme")


@bp.app_context_processor
def _school_side_global():
    def school_side(child):
        if not current_user.is_authenticated:
            return None
        return cme.school_side(current_user, child)

    return {"school_side": school_side, "notification_kind_labels": NOTIFICATION_KIND_LABELS}


@bp.route("/")
@roles_required(Role.CME)
def worklist():
    items = cme.worklist(current_user)
    return render_template("schools/cme_worklist.html", items=items)


@bp.route("/notifications/<notification_id>/case", methods=["POST"])
@roles_required(Role.CME)
def open_case(notification_id: str):
    case = cme.open_case(current_user, notification_id)
    return redirect(url_for("cme.case", case_id=case.id))


def _render_case(case_id: str, enquiry_form=None, outcome_form=None, status: int = 200):
    view = cme.read_case(current_user, case_id)
    enquiry_form = enquiry_form or JointEnquiryForm(formdata=None)
    outcome_form = outcome_form or OutcomeForm(formdata=None)
    for form in (enquiry_form, outcome_form):
        # The version of the case as this page shows it: after a clash the page shows the other
        # change, so sending again is a choice made having seen it.
        form.version.data = str(view.case.version)
    return render_template(
        "schools/cme_case.html",
        view=view,
        case=view.case,
        enquiry_form=enquiry_form,
        outcome_form=outcome_form,
        now=utcnow(),
    ), status


@bp.route("/cases/<case_id>")
@roles_required(Role.CME)
def case(case_id: str):
    return _render_case(case_id)


def _refused(form, err: Exception) -> int:
    db.session.rollback()
    if isinstance(err, ChangedMeanwhile):
        form.form_errors.append(CHANGED)
        return 409
    field = form[err.field] if err.field and err.field in form else None
    if field is not None:
        field.errors = [*field.errors, err.message]
    else:
        form.form_errors.append(err.message)
    return 422


@bp.route("/cases/<case_id>/enquiries", methods=["POST"])
@roles_required(Role.CME)
def add_enquiry(case_id: str):
    form = JointEnquiryForm()
    if form.validate_on_submit():
        try:
            cme.add_joint_enquiry(
                current_user, case_id, form.data_for_service(), version=version_of(form)
            )
        except (RuleError, ChangedMeanwhile) as err:
            return _render_case(case_id, enquiry_form=form, status=_refused(form, err))
        flash("Joint enquiry added.", "success")
        return redirect(url_for("cme.case", case_id=case_id))
    return _render_case(case_id, enquiry_form=form, status=422)


@bp.route("/cases/<case_id>/outcome", methods=["POST"])
@roles_required(Role.CME)
def record_outcome(case_id: str):
    form = OutcomeForm()
    if form.validate_on_submit():
        try:
            cme.close_case(
                current_user,
                case_id,
                {"outcome": form.outcome.data, "note": form.note.data},
                version=version_of(form),
            )
        except (RuleError, ChangedMeanwhile) as err:
            return _render_case(case_id, outcome_form=form, status=_refused(form, err))
        flash("Outcome recorded. The case is closed.", "success")
        return redirect(url_for("cme.case", case_id=case_id))
    return _render_case(case_id, outcome_form=form, status=422)
