"""The DSL's forms for pupils: add one, or upload the MIS export."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import RadioField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length

from webapp.children.models import SEX_LABELS
from webapp.formfields import DayMonthYearField
from webapp.schools.pupil_rules import NAME_MAX, YEAR_GROUP_LABELS


class PupilForm(FlaskForm):
    first_name = StringField(
        "First name",
        description="Their legal first name, as on the school's register.",
        widget=GovTextInput(),
        validators=[DataRequired(message="Enter the pupil's first name"), Length(max=NAME_MAX)],
    )
    last_name = StringField(
        "Last name",
        widget=GovTextInput(),
        validators=[DataRequired(message="Enter the pupil's last name"), Length(max=NAME_MAX)],
    )
    date_of_birth = DayMonthYearField(
        "Date of birth",
        description="For example, 27 3 2014",
        required_message="Enter the date of birth",
    )
    sex = RadioField(
        "Sex",
        choices=list(SEX_LABELS.items()),
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose the pupil's sex")],
    )
    upn = StringField(
        "Unique pupil number (UPN)",
        description="13 characters: a letter then 12 numbers, as in your school's MIS.",
        widget=GovTextInput(),
        validators=[DataRequired(message="Enter the UPN"), Length(max=20)],
    )
    year_group = SelectField(
        "Year group",
        choices=[("", "Choose a year group"), *YEAR_GROUP_LABELS.items()],
        widget=GovSelect(),
        validators=[DataRequired(message="Choose the year group")],
    )
    submit = SubmitField("Add pupil", widget=GovSubmitInput())


class ImportForm(FlaskForm):
    file = FileField(
        "CSV file from your MIS",
        description="One row per pupil with the columns UPN, Surname, Forename, DOB, Gender "
        "and Year (SIMS, Arbor, Bromcom and other exports' names for them are understood).",
        widget=GovFileInput(),
    )
    submit = SubmitField("Import pupils", widget=GovSubmitInput())
