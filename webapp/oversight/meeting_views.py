"""The monthly missing meeting pack (/manage/meeting): one month's agenda, printable, and the
actions the meeting agrees. Only the month's code is ever in the address."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovTextArea
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import Optional

from webapp.accounts.models import Role
from webapp.db_types import utcnow
from webapp.errors import RuleError
from webapp.formfields import DayMonthYearField
from webapp.oversight import figures, meeting
from webapp.security import roles_required

bp = Blueprint("meeting", __name__, url_prefix="/manage/meeting")
READERS = (Role.MANAGER, Role.SENIOR_MANAGER)


class ActionForm(FlaskForm):
    text = TextAreaField(
        "Action agreed",
        widget=GovTextArea(),
        description="What is to be done. Name a child only if the action is about them.",
    )
    owner_id = SelectField("Owner", widget=GovSelect(), choices=[], validate_choice=False)
    due_on = DayMonthYearField(
        "Due by", validators=[Optional()], description="Optional. For example, 15 12 2026"
    )


class DoneForm(FlaskForm):
    outcome = TextAreaField("What came of it", widget=GovTextArea())
    version = HiddenField()


def _render(period, action_form=None, done_forms=None, status=200, problem=None):
    now = utcnow()
    result = meeting.pack(current_user, period, now)
    if action_form is None:
        action_form = ActionForm()
    action_form.owner_id.choices = [("", "Choose the owner")] + [
        (p.id, f"{p.name} ({p.role_label})") for p in result.owners
    ]
    forms = {}
    for action in (*result.carried, *result.agreed):
        if action.done_at is None:
            form = (done_forms or {}).get(action.id) or DoneForm(
                prefix=f"d{action.id[:8]}", version=action.version
            )
            forms[action.id] = form
    return (
        render_template(
            "oversight/meeting.html",
            p=result,
            f=result.figures,
            months=meeting.month_choices(now),
            action_form=action_form,
            done_forms=forms,
            may_act=current_user.role == Role.MANAGER,
            params={"period": period.code},
            percent=figures.percent,
            frequent=meeting.FREQUENT_EPISODES,
            problem=problem,
        ),
        status,
    )


def _period_or_default(code):
    try:
        return meeting.month_of(code, utcnow()), None
    except RuleError as err:
        return meeting.month_of(None, utcnow()), err


@bp.route("/")
@roles_required(*READERS)
def page():
    period, error = _period_or_default(request.args.get("month"))
    if error:
        flash(error.message, "info")
    return _render(period)


@bp.route("/<month>/actions", methods=["POST"])
@roles_required(Role.MANAGER)
def add_action(month: str):
    period = meeting.month_of(month, utcnow())
    form = ActionForm()
    form.owner_id.choices = []
    if form.validate_on_submit():
        try:
            meeting.add_action(
                current_user, period, form.text.data, form.owner_id.data, form.due_on.data
            )
        except RuleError as err:
            field = getattr(form, err.field or "text")
            field.errors = [*field.errors, err.message]
        else:
            flash("Action recorded.", "success")
            return redirect(url_for("meeting.page", month=month) + "#actions")
    return _render(period, action_form=form, status=422)


@bp.route("/<month>/actions/<action_id>/done", methods=["POST"])
@roles_required(Role.MANAGER)
def action_done(month: str, action_id: str):
    period = meeting.month_of(month, utcnow())
    form = DoneForm(prefix=f"d{action_id[:8]}")
    if form.validate_on_submit():
        try:
            version = int(form.version.data) if (form.version.data or "").isdigit() else None
            meeting.complete_action(current_user, action_id, form.outcome.data, version)
        except RuleError as err:
            if err.field is None:
                # Recorded meanwhile (another manager, another tab): theirs stands; what was
                # typed here is shown back with the reason, not lost silently.
                return _render(period, status=422, problem=(err.message, form.outcome.data or ""))
            form.outcome.errors = [*form.outcome.errors, err.message]
        else:
            flash("Action recorded as done.", "success")
            return redirect(url_for("meeting.page", month=month) + "#actions")
    return _render(period, done_forms={action_id: form}, status=422)
