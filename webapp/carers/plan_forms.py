"""The risk assessment and action plan form: GOV.UK widgets, a fixed number of contact and
address rows (phone-first: no script needed to add a row), what was typed kept on an error."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import FieldList, Form, FormField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from webapp.carers import plan_rules as rules

HINTS = {
    "pattern": "Usual circumstances, running to or from, when they leave, the last episode, "
    "where they go, how they returned before.",
    "vulnerabilities": "Mental health, self-harm, medication, disability, substances, "
    "exploitation, associates, offending, bullying, trafficking, family events.",
    "circumstances": "Agreed coming-in times, money, bus pass, phone and credit, who can "
    "collect them.",
    "return_arrangements": "Who collects them, and how.",
    "welfare_check": "What the carer checks when the child is back.",
    "rhi_offer": "How the return interview is offered.",
}


def _text(name: str):
    return TextAreaField(
        rules.TEXT_LABELS[name],
        description=HINTS.get(name, ""),
        widget=GovTextArea(),
        validators=[Optional(), Length(max=rules.MAX_TEXT)],
    )


def _short(label: str):
    return StringField(label, widget=GovTextInput(), validators=[Optional(), Length(max=400)])


class ContactRow(Form):
    name = _short("Name")
    relationship = _short("Relationship")
    phone = _short("Phone")


class AddressRow(Form):
    address = TextAreaField(
        "Address or place",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=rules.MAX_TEXT)],
    )
    risk = RadioField(
        "Level of risk",
        choices=[("", "Not set"), *rules.RISK_LABELS.items()],
        default="",
        widget=GovRadioInput(),
        validate_choice=False,  # plan_rules says what a risk level must be
    )
    action = TextAreaField(
        "Action to take",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=rules.MAX_TEXT)],
    )
    max_wait_hours = StringField(
        "Longest wait before reporting to police (hours)",
        description="0 to 6.",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=3)],
    )


class PlanForm(FlaskForm):
    pattern = _text("pattern")
    vulnerabilities = _text("vulnerabilities")
    circumstances = _text("circumstances")
    contacts = FieldList(
        FormField(ContactRow), min_entries=rules.MAX_ROWS, max_entries=rules.MAX_ROWS
    )
    addresses = FieldList(
        FormField(AddressRow), min_entries=rules.MAX_ROWS, max_entries=rules.MAX_ROWS
    )
    report_after_hours = StringField(
        "Report to police if absent more than how many hours after due back?",
        description="0 to 6 hours (0: at once). A child of 12 or under is always reported at once.",
        widget=GovTextInput(),
        validators=[Length(max=3)],
    )
    return_arrangements = _text("return_arrangements")
    welfare_check = _text("welfare_check")
    rhi_offer = _text("rhi_offer")
    visit_within_days = StringField(
        "Social worker visit within how many days of a return?",
        description="Leave blank if not agreed.",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=3)],
    )
    submit = SubmitField("Save the plan", widget=GovSubmitInput())


class SignForm(FlaskForm):
    submit = SubmitField("Sign off the plan", widget=GovSubmitInput())


def form_data(plan) -> dict:
    """The form's values from a saved plan."""
    if plan is None:
        return {}
    content = dict(plan.content or {})
    data = {name: content.get(name) or "" for name in rules.TEXT_FIELDS}
    data["contacts"] = list(content.get("contacts") or [])
    data["addresses"] = [
        {**a, "max_wait_hours": str(a.get("max_wait_hours", ""))}
        for a in content.get("addresses") or []
    ]
    data["report_after_hours"] = str(plan.report_after_hours)
    visit = content.get("visit_within_days")
    data["visit_within_days"] = "" if visit is None else str(visit)
    return data


def service_data(form: PlanForm) -> dict:
    """What the form holds, in the shape plans.save_plan takes."""
    data = {name: form[name].data for name in rules.TEXT_FIELDS}
    data["contacts"] = [dict(row.data) for row in form.contacts]
    data["addresses"] = [dict(row.data) for row in form.addresses]
    data["report_after_hours"] = form.report_after_hours.data
    data["visit_within_days"] = form.visit_within_days.data
    return data


def add_error(form: PlanForm, name: str, message: str) -> None:
    """Show a RuleError beside the field it names ("addresses-0-risk" is a row's field), or
    above the form."""
    for field in form:
        if field.id == name:
            field.errors.append(message)
            return
        if isinstance(field, FieldList):
            for entry in field:
                for sub in entry:
                    if sub.id == name:
                        sub.errors = [*sub.errors, message]
                        # A FieldList keeps its entries' errors as of validation: rebuilt so the
                        # error summary sees the new one.
                        field.errors = [e.errors for e in field.entries]
                        return
    form.form_errors.append(message)
