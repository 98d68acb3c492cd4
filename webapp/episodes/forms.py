from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from webapp import deadlines
from webapp.episodes import tasks
from webapp.episodes.models import (
    CARER_REPORTED_TYPES,
    FOUND_PLACE_HINTS,
    FOUND_PLACE_LABELS,
    HOW_RETURNED_LABELS,
    MISSING_FROM_LABELS,
    POLICE_CATEGORY_LABELS,
    REPORT_FIELDS,
    REPORTED_TYPE_LABELS,
    RETURN_FIELDS,
    ReportedType,
)
from webapp.formfields import LocalDateTimeField

POLICE_CATEGORY_CHOICES = [("", "Not known yet")] + list(POLICE_CATEGORY_LABELS.items())

# What each of a carer's choices means: the police decide missing or absent, a carer says what
# they saw, and "away" (whereabouts known) is not reported as missing.
CARER_TYPE_HINTS = {
    ReportedType.NOT_BACK: "They have not come back by the agreed time. The plan says how long "
    "to wait before reporting to police.",
    ReportedType.MISSING: "You do not know where they are and you are worried for their safety.",
    ReportedType.AWAY: "You know where they are, but they are not where they should be "
    "(whereabouts known).",
}


class HintedRadioInput(GovRadioInput):
    """GOV.UK radios with a hint under each choice that has one."""

    def __init__(self, hints: dict[str, str]):
        self.hints = hints

    def map_gov_params(self, field, **kwargs):
        params = super().map_gov_params(field, **kwargs)
        for item in params["items"]:
            if item["value"] in self.hints:
                item["hint"] = {"text": self.hints[item["value"]]}
        return params


class ShortTextArea(GovTextArea):
    """A GOV.UK textarea of a given height: short answers fit a phone screen without scrolling."""

    def __init__(self, rows: int):
        self.rows = rows

    def map_gov_params(self, field, **kwargs):
        params = super().map_gov_params(field, **kwargs)
        params.setdefault("rows", self.rows)
        return params


def carer_type_choices(looked_after: bool) -> list[tuple[str, str]]:
    """A carer's choices; "away from placement" only for a looked-after child."""
    return [
        (t.value, REPORTED_TYPE_LABELS[t])
        for t in CARER_REPORTED_TYPES
        if t != ReportedType.AWAY or looked_after
    ]


def _detail(label: str, hint: str = "", rows: int = 2):
    return TextAreaField(
        label,
        description=hint,
        widget=ShortTextArea(rows),
        validators=[Optional(), Length(max=2000)],
    )


class ReportFields:
    """The details police ask for when a child is reported (Philomena Protocol part 2)."""

    due_back_at = LocalDateTimeField(
        "When were they due back?",
        description="UK time. Needed for not back when expected: the plan's hours to reporting "
        "to police count from here.",
        validators=[Optional()],
    )
    where_last_seen = _detail("Where were they last seen?")
    with_whom = _detail("Who were they with?", "Names, or a description if you do not know.")
    clothing = _detail("What were they wearing?", "Colours, logos, shoes, coat.")
    belongings = _detail("What did they take with them?", "For example a bag.")
    money = _detail("How much money do they have?", "Cash, cards, a bus pass.", rows=1)
    phone = _detail("Their phone", "The number, and whether it is switched on.", rows=1)
    circumstances = TextAreaField(
        "What happened before they left?",
        description="The circumstances: anything that happened, their mood, what they said.",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=10_000)],
    )
    checks_made = _detail(
        "What checks have you already made?",
        "Places and people you have tried, and their answers.",
        rows=3,
    )


def report_data(form) -> dict:
    """What a report form holds, in the shape the service takes."""
    data = {
        name: form[name].data
        for name in (
            "reported_type",
            "missing_from",
            "last_seen_at",
            "due_back_at",
            "reported_to_police_at",
            "police_log_number",
            "police_category",
            "circumstances",
        )
        if name in form
    }
    data["report"] = {name: form[name].data or "" for name in REPORT_FIELDS if name in form}
    return data


def return_details(form) -> dict:
    return {name: form[name].data or "" for name in RETURN_FIELDS}


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


class EpisodeForm(FlaskForm, ReportFields, PoliceFields):
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
    submit = SubmitField("Record episode", widget=GovSubmitInput())


class CarerPoliceFields:
    reported_to_police_at = LocalDateTimeField(
        "When did you call the police?",
        description="UK time. Leave blank if you have not called them yet.",
        validators=[Optional()],
    )
    police_log_number = StringField(
        "Police log number",
        description="The number the police gave you, if they did.",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=40)],
    )


class CarerEpisodeForm(FlaskForm, ReportFields, CarerPoliceFields):
    """A carer reports a child placed with them: not back, missing or (looked after) away."""

    reported_type = RadioField(
        "What is happening?",
        choices=[],  # carer_type_choices(child.looked_after), set by the view
        widget=HintedRadioInput(CARER_TYPE_HINTS),
        validators=[InputRequired(message="Choose what is happening")],
    )
    last_seen_at = LocalDateTimeField(
        "When were they last seen?",
        description="UK time.",
        validators=[InputRequired(message="Enter when the child was last seen")],
    )
    submit = SubmitField("Report", widget=GovSubmitInput())


class ReportForm(FlaskForm, ReportFields, CarerPoliceFields):
    """The details police ask for, kept up to date while the child is away."""

    reported_type = RadioField(
        "What is happening now?",
        choices=[],  # set by the view: the carer's choices, or every type for a manager
        widget=HintedRadioInput(CARER_TYPE_HINTS),
        validators=[InputRequired(message="Choose what is happening")],
    )
    submit = SubmitField("Save the details", widget=GovSubmitInput())


class NotesForm(FlaskForm):
    carer_notes = TextAreaField(
        "What the carer noticed",
        description="For the return interview: how they seemed, what they said, anything that "
        "worried you. The return interview worker reads this; the child does not.",
        widget=ShortTextArea(6),
        validators=[Optional(), Length(max=10_000)],
    )
    submit = SubmitField("Save what you noticed", widget=GovSubmitInput())


class PoliceForm(FlaskForm, PoliceFields):
    safe_and_well_at = LocalDateTimeField(
        "When did the police do the safe-and-well check?",
        description="After the return. UK time. Leave blank if not done yet.",
        validators=[Optional()],
    )
    safe_and_well_by = StringField(
        "Who did it",
        description="The officer and force, for example: PC 1234, Northshire Police",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=100)],
    )
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
    found_place = RadioField(
        "Where were they found, or where did they come back from?",
        choices=list(FOUND_PLACE_LABELS.items()),
        widget=HintedRadioInput(FOUND_PLACE_HINTS),
        description="Choose the closest. You can leave this out if you do not know yet.",
        # Optional; a code not in the list is refused by the service, in its words.
        validators=[Optional()],
        validate_choice=False,
    )
    where_found = _detail(
        "More about where they were", "For example, the address or the name of the place."
    )
    who_with = _detail("Who were they with?")
    welfare = _detail(
        "First welfare observations",
        "Injuries, tiredness, hunger, intoxication, their mood, anything they said.",
        rows=4,
    )
    submit = SubmitField("Record return", widget=GovSubmitInput())


class EscalationActionForm(FlaskForm):
    """Record what was done about an escalation; its words come from tasks.FORMS[code]
    (escalation_form builds one for a code)."""

    kind = RadioField(
        "What was done?",
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose what was done")],
    )
    done_at = LocalDateTimeField(
        "When?", description="UK time", validators=[InputRequired(message="Enter when it was done")]
    )
    who = StringField("Who", widget=GovTextInput(), validators=[Optional(), Length(max=300)])
    note = TextAreaField(
        "Outcome", widget=ShortTextArea(5), validators=[Optional(), Length(max=4000)]
    )
    submit = SubmitField("Record action", widget=GovSubmitInput())


def escalation_form(code: str, **kwargs) -> EscalationActionForm:
    words = tasks.FORMS[deadlines.base_code(code)]
    form = EscalationActionForm(**kwargs)
    form.kind.choices = [(k.value, k.label) for k in words.kinds]
    if len(words.kinds) == 1 and not form.is_submitted():
        form.kind.data = words.kinds[0].value
    form.done_at.label.text = words.when_label
    form.who.label.text = words.who_label
    form.who.description = words.who_hint
    form.note.label.text = words.note_label
    return form


class EpisodeCorrectionForm(FlaskForm):
    """Correct an episode's type and times (corrections.py), with the reason."""

    reported_type = RadioField(
        "What was reported",
        choices=list(REPORTED_TYPE_LABELS.items()),
        widget=GovRadioInput(),
        validators=[InputRequired(message="Choose what was reported")],
    )
    last_seen_at = LocalDateTimeField(
        "When was the child last seen?",
        description="UK time",
        validators=[InputRequired(message="Enter when the child was last seen")],
    )
    returned_at = LocalDateTimeField(
        "When did they come back, or when were they found?",
        description="UK time. The return interview's 72-hour deadline moves with it.",
        validators=[Optional()],
    )
    found_place = RadioField(
        "Where were they found, or where did they come back from?",
        choices=list(FOUND_PLACE_LABELS.items()),
        widget=HintedRadioInput(FOUND_PLACE_HINTS),
        validators=[Optional()],
        validate_choice=False,  # the service refuses a code not in the list, in its words
    )
    reason = TextAreaField(
        "Why is it corrected?",
        description="For example: the police log gives a different time.",
        widget=ShortTextArea(3),
        validators=[InputRequired(message="Enter why the episode is corrected"), Length(max=2000)],
    )
    seen = HiddenField()
    submit = SubmitField("Save the correction", widget=GovSubmitInput())


class WithdrawForm(FlaskForm):
    """Withdraw an episode recorded by mistake (corrections.withdraw_episode)."""

    withdraw_reason = TextAreaField(
        "Why is it withdrawn?",
        description="For example: a duplicate of the report made an hour earlier.",
        widget=ShortTextArea(3),
        validators=[InputRequired(message="Enter why the episode is withdrawn"), Length(max=2000)],
    )
    seen = HiddenField()
    submit = SubmitField("Withdraw the episode", widget=GovSubmitInput())
