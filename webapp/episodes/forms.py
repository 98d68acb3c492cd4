from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from webapp.episodes.models import (
    HOW_RETURNED_LABELS,
    MISSING_FROM_LABELS,
    POLICE_CATEGORY_LABELS,
    REPORTED_TYPE_LABELS,
)
from webapp.formfields import LocalDateTimeField

POLICE_CATEGORY_CHOICES = [("", "Not known yet")] + list(POLICE_CATEGORY_LABELS.items())


class PoliceFields:
    reported_to_police_at = LocalDateTimeField(
        "When was the child reported to the police?",
        description="UK time. Leave blank if not reported yet.",
        validators=[Optional()],
    )
    police_log_number = StringField(
        "Police log number", widget=GovTextInput(), validators=[Optional(), Length(max=40)]
    )
    police_category = SelectField(
        "Police category",
        choices=POLICE_CATEGORY_CHOICES,
        widget=GovSelect(),
        description="The police decide whether a child is missing or absent.",
    )


class EpisodeForm(FlaskForm, PoliceFields):
    reported_type = RadioField(
        "What was reported?",
        choices=[(k.value, v) for k, v in REPORTED_TYPE_LABELS.items()],
        widget=GovRadioInput(),
        description="What you were told. The police decide whether a child is missing or absent.",
        validators=[InputRequired(message="Choose what was reported")],
    )
    missing_from = RadioField(
        "Missing from",
        choices=list(MISSING_FROM_LABELS.items()),
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose where the child was missing from")],
    )
    last_seen_at = LocalDateTimeField(
        "When was the child last seen?",
        description="UK time.",
        validators=[InputRequired(message="Enter when the child was last seen")],
    )
    circumstances = TextAreaField(
        "Where last seen, and the circumstances",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=10_000)],
    )
    submit = SubmitField("Record episode", widget=GovSubmitInput())


class PoliceForm(FlaskForm, PoliceFields):
    submit = SubmitField("Save police details", widget=GovSubmitInput())


class ReturnForm(FlaskForm):
    returned_at = LocalDateTimeField(
        "When did the child return or was found?",
        description="UK time. The 72-hour return interview clock starts here.",
        validators=[InputRequired(message="Enter when the child returned or was found")],
    )
    how_returned = RadioField(
        "How did they return?",
        choices=list(HOW_RETURNED_LABELS.items()),
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose how the child returned or was found")],
    )
    submit = SubmitField("Record return", widget=GovSubmitInput())
