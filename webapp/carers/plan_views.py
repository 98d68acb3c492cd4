"""The risk assessment and action plan, online (filled in by its owner): the social worker and
the carer complete it together on one page, and each signs it off for themself."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.carers import plan_forms, plan_rules, plans
from webapp.children import service as children
from webapp.db_types import utcnow
from webapp.errors import RuleError
from webapp.security import roles_required

bp = Blueprint("plans", __name__)

# can_edit_plan narrows these to the child's own carer and social worker (and managers).
PLAN_ROLES = (Role.CARER, Role.SOCIAL_WORKER, Role.MANAGER)


def _render(child, plan, form, status=200, sign_form=None):
    user = current_user
    can_sign = (user.role == Role.CARER and child.carer_id == user.id) or (
        user.role == Role.SOCIAL_WORKER and child.social_worker_id == user.id
    )
    return (
        render_template(
            "carers/plan.html",
            child=child,
            plan=plan,
            form=form,
            sign_form=sign_form or plan_forms.SignForm(),
            can_sign=can_sign,
            review_state=plan_rules.review_state(plan.review_due_at if plan else None, utcnow()),
            risk_labels=plan_rules.RISK_LABELS,
        ),
        status,
    )


@bp.route("/children/<child_id>/plan", methods=["GET", "POST"])
@roles_required(*PLAN_ROLES)
def show(child_id: str):
    child = children.read_child(current_user, child_id)
    plan = plans.read_plan(current_user, child)
    # A post keeps what was typed; a first look shows what was saved.
    posted = request.method == "POST"
    form = plan_forms.PlanForm() if posted else plan_forms.PlanForm(data=plan_forms.form_data(plan))
    if form.validate_on_submit():
        try:
            plans.save_plan(current_user, child, plan_forms.service_data(form))
        except RuleError as err:
            plan_forms.add_error(form, err.field, err.message)
        else:
            flash("Plan saved.", "success")
            return redirect(url_for("plans.show", child_id=child.id))
    status = 422 if form.is_submitted() else 200
    return _render(child, plan, form, status)


@bp.route("/children/<child_id>/plan/sign", methods=["POST"])
@roles_required(Role.CARER, Role.SOCIAL_WORKER)
def sign(child_id: str):
    child = children.read_child(current_user, child_id)
    form = plan_forms.SignForm()
    if form.validate_on_submit():
        try:
            plans.sign_plan(current_user, child)
        except RuleError as err:
            form.form_errors.append(err.message)
        else:
            flash("Plan signed off.", "success")
            return redirect(url_for("plans.show", child_id=child.id))
    plan = plans.read_plan(current_user, child)
    edit = plan_forms.PlanForm(formdata=None, data=plan_forms.form_data(plan))
    return _render(child, plan, edit, 422, sign_form=form)
