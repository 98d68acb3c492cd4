"""Form fields shared by the feature packages, rendered as GOV.UK components."""

from __future__ import annotations

from datetime import datetime

from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovInput
from wtforms import RadioField
from wtforms.fields import DateField, DateTimeLocalField
from wtforms.validators import StopValidation

from webapp import deadlines


class GovDateTimeLocalInput(GovInput):
    # The browser's own date-and-time picker: large targets on phones, no script of ours.
    input_type = "datetime-local"


class LocalDateTimeField(DateTimeLocalField):
    """A UK wall-clock time typed by a person, held as an aware UTC datetime.

    A time in the spring-forward gap does not exist and is refused with the reason; a time in the
    autumn repeat hour is taken as its first occurrence (BST).
    """

    widget = GovDateTimeLocalInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0]:
            self.data = None
            return
        raw = valuelist[0]
        for fmt in self.strptime_format:
            try:
                naive = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        else:
            self.data = None
            raise ValueError(f"Enter {self.label.text.lower()} as a real date and time")
        try:
            self.data = deadlines.local_to_utc(naive)
        except deadlines.NonExistentLocalTime as exc:
            self.data = None
            raise ValueError(str(exc)) from exc

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]  # what was typed, even when it was wrong
        if self.data:
            return deadlines.to_local(self.data).strftime("%Y-%m-%dT%H:%M")
        return ""


class OptionalRadioField(RadioField):
    """Radios that may be left unanswered (autosave of a part-done section)."""

    def pre_validate(self, form):
        if self.data is None or self.data == "None":
            self.data = None
            return
        super().pre_validate(form)


class DayMonthYearField(DateField):
    """A date typed as day, month and year boxes (the GOV.UK date input pattern).

    The three boxes arrive as three values of one name. Anything else (a box missing, a fourth
    value, nothing at all) is a form error saying which part is missing, never a 500: the GOV.UK
    widget unpacks exactly three values to show them back, so raw_data always holds three.
    Whether the date is required is this field's own check (`required_message`): WTForms'
    InputRequired only looks at the day box and would hide "must include a day".
    """

    widget = GovDateInput()
    PARTS = ("day", "month", "year")

    def __init__(self, label=None, validators=None, *, required_message=None, **kwargs):
        kwargs.setdefault("format", "%d %m %Y")
        super().__init__(label, validators, **kwargs)
        self.required_message = required_message

    def process_formdata(self, valuelist):
        parts = [str(value).strip() for value in valuelist]
        self.raw_data = (parts + ["", "", ""])[:3]
        self.data = None
        label = self.label.text
        if len(parts) > 3:
            raise ValueError(f"{label} must be a real date")
        missing = [name for name, value in zip(self.PARTS, self.raw_data, strict=True) if not value]
        if len(missing) == 3:
            return  # nothing typed: pre_validate says whether that is allowed
        if missing:
            raise ValueError(f"{label} must include a {' and '.join(missing)}")
        try:
            self.data = datetime.strptime(" ".join(self.raw_data), self.strptime_format[0]).date()
        except ValueError:
            raise ValueError(f"{label} must be a real date") from None

    def pre_validate(self, form):
        if self.data is None and not self.process_errors and self.required_message:
            raise StopValidation(self.required_message)


def seen_at(value: str | None) -> datetime | None:
    """A form's hidden `seen` (the record's updated_at when the form was drawn, as
    templating.iso wrote it), or None when absent or not a time: then no check is made."""
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
