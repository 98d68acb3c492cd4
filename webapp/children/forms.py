from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import (
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, InputRequired, Length

from webapp.children.models import FLAG_LABELS, LEGAL_STATUS_LABELS, SEX_LABELS
from webapp.formfields import DayMonthYearField


class ChildForm(FlaskForm):
    first_name = StringField(
        "First name",
        widget=GovTextInput(),
        validators=[DataRequired(message="Enter the child's first name"), Length(max=100)],
    )
    last_name = StringField(
        "Last name",
        widget=GovTextInput(),
        validators=[DataRequired(message="Enter the child's last name"), Length(max=100)],
    )
    date_of_birth = DayMonthYearField(
        "Date of birth",
        description="For example, 27 3 2010",
        required_message="Enter the date of birth",
    )
    sex = RadioField(
        "Sex",
        choices=list(SEX_LABELS.items()),
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose the child's sex")],
    )
    legal_status = RadioField(
        "Legal status",
        choices=[(k.value, v) for k, v in LEGAL_STATUS_LABELS.items()],
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose the legal status")],
    )
    school_id = SelectField("School", widget=GovSelect(), choices=[])
    social_worker_id = SelectField("Allocated social worker", widget=GovSelect(), choices=[])
    carer_id = SelectField("Carer", widget=GovSelect(), choices=[])
    iro_id = SelectField(
        "Independent reviewing officer",
        widget=GovSelect(),
        choices=[],
        description="For a looked-after child.",
        # Left out of a post (a form from before this field): no IRO, rather than an error.
        default="",
    )
    flags = SelectMultipleField(
        "Risk flags",
        choices=list(FLAG_LABELS.items()),
        widget=GovCheckboxesInput(),
        description="Select all that apply.",
    )
    submit = SubmitField("Add child", widget=GovSubmitInput())

    def set_choices(self, choices: dict[str, list[tuple[str, str]]]) -> None:
        for name, options in choices.items():
            self[name].choices = [("", "None")] + options
