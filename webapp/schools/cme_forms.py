"""The CME officer's forms: a joint reasonable enquiry, and the outcome that closes the case."""

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import HiddenField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from webapp.formfields import DayMonthYearField
from webapp.schools.cme import MAX_TEXT
from webapp.schools.cme_models import OUTCOME_LABELS


class JointEnquiryForm(FlaskForm):
    # The version the page was read at: an enquiry added over someone else's later change
    # is refused rather than silently merged (the service checks it).
    version = HiddenField()
    on = DayMonthYearField(
        "Date of the enquiry",
        description="For example, 14 3 2025",
        required_message="Enter the date of the enquiry",
    )
    with_whom = StringField(
        "Who was it made with",
        description="For example, the school's DSL, the admissions team of another authority.",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter who the enquiry was made with"), Length(max=200)],
    )
    action = TextAreaField(
        "What was done",
        widget=GovTextArea(),
        validators=[InputRequired(message="Enter what was done"), Length(max=MAX_TEXT)],
    )
    outcome = TextAreaField(
        "What came of it (optional)",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=MAX_TEXT)],
    )
    submit = SubmitField("Add enquiry", widget=GovSubmitInput())

    def data_for_service(self) -> dict:
        return {
            "on": self.on.data,
            "with_whom": self.with_whom.data,
            "action": self.action.data,
            "outcome": self.outcome.data,
        }


class OutcomeForm(FlaskForm):
    version = HiddenField()
    outcome = RadioField(
        "Outcome",
        choices=list(OUTCOME_LABELS.items()),
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select the outcome")],
    )
    note = TextAreaField(
        "Details",
        description="Where the child is now and who was told. Required for Other.",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=MAX_TEXT)],
    )
    submit = SubmitField("Record outcome and close the case", widget=GovSubmitInput())


def version_of(form) -> int | None:
    try:
        return int(form.version.data)
    except (TypeError, ValueError):
        return None
