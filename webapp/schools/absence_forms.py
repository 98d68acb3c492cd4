"""The DSL's absence forms (GOV.UK). The service checks the rules; these check the shapes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from webapp.episodes.forms import CarerPoliceFields, ReportFields
from webapp.formfields import DayMonthYearField, LocalDateTimeField, OptionalRadioField
from webapp.schools.absence_models import (
    ATTENDANCE_CODES,
    CLOSED_REASON_LABELS,
    ENQUIRY_KIND_LABELS,
    NO_REASON_YET,
    NO_REASON_YET_LABEL,
    REFERRED_TO_LABELS,
    SESSION_LABELS,
)
from webapp.schools.absences import ALWAYS_REFER, FURTHER_QUESTIONS

# Every 2024 code, shown as "N: Reason for absence not yet established"; no reason yet first.
CODE_CHOICES = [(NO_REASON_YET, NO_REASON_YET_LABEL)] + [
    (code, f"{code}: {label}") for code, label in ATTENDANCE_CODES.items()
]
SESSION_CHOICES = [(k.value, v) for k, v in SESSION_LABELS.items()]
# The register's row select: blank records nothing for that pupil.
REGISTER_NOTHING = "-"
REGISTER_CHOICES = [(REGISTER_NOTHING, "Nothing to record")] + CODE_CHOICES
YES_NO = [("yes", "Yes"), ("no", "No")]


class AbsenceForm(FlaskForm):
    on = DayMonthYearField(
        "Date of the absence",
        description="For example, 27 3 2025. An absence recorded late counts from its own date.",
        required_message="Enter the date of the absence",
    )
    sessions = SelectMultipleField(
        "Sessions",
        choices=SESSION_CHOICES,
        widget=GovCheckboxesInput(),
        description="Choose the morning, the afternoon or both.",
        validators=[InputRequired(message="Choose the morning, the afternoon or both")],
    )
    code = SelectField(
        "Attendance code",
        choices=CODE_CHOICES,
        widget=GovSelect(),
        description="The 2024 code from the register. Unauthorised absence (G, N, O, U) or no "
        "reason yet starts a follow-up.",
    )
    submit = SubmitField("Record the absence", widget=GovSubmitInput())


class RegisterForm(FlaskForm):
    """The date and session of the register follow-up; each pupil's code is a select of its own
    (named code-<pupil id>), read by the view."""

    on = DayMonthYearField("Date", required_message="Enter the date")
    session = RadioField(
        "Session",
        choices=SESSION_CHOICES,
        default="am",
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose the morning or the afternoon")],
    )
    submit = SubmitField("Save the register", widget=GovSubmitInput())


class EnquiryForm(FlaskForm):
    kind = RadioField(
        "Who did you contact, and how?",
        choices=list(ENQUIRY_KIND_LABELS.items()),
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose the kind of contact")],
    )
    at = LocalDateTimeField(
        "When?",
        description="UK time.",
        validators=[InputRequired(message="Enter when it was made")],
    )
    outcome = TextAreaField(
        "What came of it?",
        description="Who you spoke to and what they said, or that there was no answer.",
        widget=GovTextArea(),
        validators=[InputRequired(message="Enter what came of it"), Length(max=2000)],
    )
    seen_safe = BooleanField(
        "The pupil has been seen safe (this closes the follow-up)", widget=GovCheckboxInput()
    )
    submit = SubmitField("Save the enquiry", widget=GovSubmitInput())


def checklist_form_class():
    """The always-refer checklist: each condition required, the further questions optional."""

    class ChecklistForm(FlaskForm):
        notes = TextAreaField(
            "Anything else that informs your judgement",
            widget=GovTextArea(),
            validators=[Optional(), Length(max=2000)],
        )
        submit = SubmitField("Save the checklist", widget=GovSubmitInput())

    for key, question in ALWAYS_REFER.items():
        setattr(
            ChecklistForm,
            key,
            RadioField(
                question,
                choices=YES_NO,
                widget=GovRadioInput(),
                validators=[InputRequired(message="Answer yes or no")],
            ),
        )
    for key, question in FURTHER_QUESTIONS.items():
        setattr(
            ChecklistForm,
            key,
            OptionalRadioField(
                question, choices=YES_NO, widget=GovRadioInput(), validators=[Optional()]
            ),
        )
    return ChecklistForm


ChecklistForm = checklist_form_class()


class ReferralForm(FlaskForm):
    referred_to = RadioField(
        "Who did you refer to?",
        choices=list(REFERRED_TO_LABELS.items()),
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose children's social care or the police")],
    )
    referred_at = LocalDateTimeField(
        "When?", description="UK time.", validators=[InputRequired(message="Enter when")]
    )
    reference = StringField(
        "Their reference",
        description="The reference or log number they gave you, if any.",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=60)],
    )
    submit = SubmitField("Record the referral", widget=GovSubmitInput())


class CloseForm(FlaskForm):
    reason = RadioField(
        "Why does the follow-up end?",
        choices=[(k, v) for k, v in CLOSED_REASON_LABELS.items() if k != "seen_safe"],
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose why the follow-up ends")],
    )
    submit = SubmitField(
        "Close the follow-up",
        widget=GovSubmitInput(),
    )


class FactsForm(FlaskForm):
    illness = BooleanField("Illness expected to reach 15 school days", widget=GovCheckboxInput())
    whereabouts_unknown = BooleanField("Whereabouts unknown", widget=GovCheckboxInput())
    submit = SubmitField("Save", widget=GovSubmitInput())


class NotifyForm(FlaskForm):
    """A button on the timeline: only the CSRF token (the kind is in the URL)."""


class SchoolMissingForm(FlaskForm, ReportFields, CarerPoliceFields):
    """A pupil missing during the school day: the details police ask for (the episode report's
    own fields)."""

    last_seen_at = LocalDateTimeField(
        "When were they last seen?",
        description="UK time.",
        validators=[InputRequired(message="Enter when the pupil was last seen")],
    )
    submit = SubmitField("Report missing from school", widget=GovSubmitInput())
