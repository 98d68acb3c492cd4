"""The school calendar page's forms: a term, a closure day, the authority's CSV, a deletion.

Each has its own prefix, so the field ids on the one page are unique and the error summary's
links land on the right box."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import GovFileInput, GovSubmitInput, GovTextInput
from wtforms import StringField, SubmitField
from wtforms.validators import Length

from webapp.formfields import DayMonthYearField
from webapp.schools.calendar import NAME_MAX, REASON_MAX

# The file chooser offers CSV files; the server reads whatever comes as text and checks it.
CSV_ACCEPT = ".csv,text/csv"


class TermForm(FlaskForm):
    name = StringField(
        "Name",
        description="For example, Autumn 1. Enter each half-term on its own: the holidays are "
        "the gaps between them.",
        widget=GovTextInput(),
        validators=[
            Length(max=NAME_MAX, message=f"The name must be {NAME_MAX} characters or fewer")
        ],
    )
    starts_on = DayMonthYearField(
        "First day", description="For example, 2 9 2026", required_message="Enter the first day"
    )
    ends_on = DayMonthYearField(
        "Last day", description="For example, 23 10 2026", required_message="Enter the last day"
    )
    submit = SubmitField("Add term", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "term")
        super().__init__(*args, **kwargs)


class ClosureForm(FlaskForm):
    on = DayMonthYearField(
        "Day closed", description="For example, 2 11 2026", required_message="Enter the day closed"
    )
    reason = StringField(
        "Reason",
        description="For example, INSET day or snow",
        widget=GovTextInput(),
        validators=[
            Length(max=REASON_MAX, message=f"The reason must be {REASON_MAX} characters or fewer")
        ],
    )
    submit = SubmitField("Add closure day", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "closure")
        super().__init__(*args, **kwargs)


class ImportForm(FlaskForm):
    file = FileField(
        "Term dates file (CSV)",
        description="One term a line: name,start,end, with dates as 2026-09-02 or 02/09/2026. "
        "If any line is wrong, nothing is imported.",
        widget=GovFileInput(),
    )
    submit = SubmitField("Import term dates", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "import")
        super().__init__(*args, **kwargs)


class DeleteForm(FlaskForm):
    """A deletion is a POST with the CSRF token; the button names what it deletes."""


def add_error(form: FlaskForm, field: str | None, message: str) -> None:
    """Show a service's RuleError beside its field (or above the form)."""
    if field and field in form:
        form[field].errors = [*form[field].errors, message]
    else:
        form.form_errors.append(message)
