from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import (
    HiddenField,
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
    # Kept only for a looked-after child: the SSDA903 return checks each missing period starts
    # inside it. Asked beside the legal status rather than revealed under "Looked after": GOV.UK
    # Frontend's conditional reveal puts aria-expanded on a radio, which axe refuses
    # (alphagov/govuk-frontend#979) and every page here is checked with axe.
    looked_after_since = DayMonthYearField(
        "Looked after since",
        description="For a looked-after child only: the date the current period of care began, "
        "for example 4 9 2024",
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


class ChildEditForm(ChildForm):
    """Correct a child's record: what adding a child asks, and what only comes later (the
    authority's identifier, the placement, a host authority when placed out of area)."""

    authority_child_id = StringField(
        "The authority's child identifier",
        description="As in the case management system: needed for the statutory return.",
        widget=GovTextInput(),
        validators=[Length(max=20)],
    )
    responsible_authority_id = SelectField("Responsible authority", widget=GovSelect(), choices=[])
    host_authority_id = SelectField(
        "Host authority",
        description="Where the child is placed, if out of area: told of each episode too.",
        widget=GovSelect(),
        choices=[],
    )
    placement_provider_id = SelectField("Placement", widget=GovSelect(), choices=[])
    # The record's updated_at when the form was drawn: another's change meanwhile is not lost.
    seen = HiddenField()
    submit = SubmitField("Save changes", widget=GovSubmitInput())


class ChildSearchForm(FlaskForm):
    q = StringField(
        "Find a child",
        description="A name, the authority's identifier, a UPN, or a date of birth (DD/MM/YYYY)",
        widget=GovTextInput(),
        validators=[Length(max=100)],
    )
    submit = SubmitField("Search", widget=GovSubmitInput())
