"""WTForms built from the question set, one form class per section."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovTextArea,
    GovTextInput,
)
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from webapp.formfields import LocalDateTimeField, OptionalRadioField
from webapp.interviews.questions import (
    SECTIONS_BY_SLUG,
    AnswerError,
    Question,
    Section,
    check_answer,
    empty,
)


class Answer:
    """The question set's own check (questions.check_answer) as a WTForms validator, so the web
    form refuses a bad answer with the same words as a sync push and field mode."""

    def __init__(self, question: Question):
        self.question = question

    def __call__(self, form, field):
        if empty(field.data):
            return
        try:
            check_answer(self.question, field.data)
        except AnswerError as err:
            raise ValidationError(err.message) from None


def _field(q: Question):
    kw = {"description": q.hint or "", "validators": [Optional(), Answer(q)]}
    if q.kind == "radios":
        # validate_choice off: the question set says what a wrong choice is called.
        return OptionalRadioField(
            q.label, choices=list(q.choices), widget=GovRadioInput(), validate_choice=False, **kw
        )
    if q.kind == "checkboxes":
        return SelectMultipleField(
            q.label,
            choices=list(q.choices),
            widget=GovCheckboxesInput(),
            validate_choice=False,
            **kw,
        )
    if q.kind == "text":
        return TextAreaField(
            q.label, widget=GovCharacterCount() if q.max_length < 2000 else GovTextArea(), **kw
        )
    if q.kind == "short":
        return StringField(q.label, widget=GovTextInput(), **kw)
    if q.kind == "datetime":
        return LocalDateTimeField(q.label, **kw)
    raise ValueError(q.kind)


@cache
def section_form_class(slug: str) -> type[FlaskForm]:
    section: Section = SECTIONS_BY_SLUG[slug]
    attrs = {q.name: _field(q) for q in section.questions}
    return type(f"{slug.title()}SectionForm", (FlaskForm,), attrs)


def values_from(form: FlaskForm, section: Section, *, only_valid: bool) -> dict:
    """The answers to store. With only_valid, a field that failed validation is left out."""
    out = {}
    for q in section.questions:
        field = form[q.name]
        if only_valid and field.errors:
            continue
        value = field.data
        if q.kind == "datetime":
            out[q.name] = value  # datetime or None; the service stores it in its column
        elif q.kind == "checkboxes":
            out[q.name] = list(value or [])
        else:
            out[q.name] = (
                (value or "").strip() if isinstance(value, str) or value is None else value
            )
    return out


def form_data_from_answers(section: Section, data: dict) -> dict:
    """Stored answers in the shape WTForms' `data=` expects."""
    out = {}
    for q in section.questions:
        value = data.get(q.name)
        if q.kind == "datetime" and isinstance(value, str):
            value = datetime.fromisoformat(value)
        out[q.name] = value
    return out


class AllocateForm(FlaskForm):
    worker_id = SelectField("Allocate to", widget=GovSelect(), choices=[])


class PassOnForm(FlaskForm):
    # "" is the team: the interview then awaits a manager's allocation.
    worker_id = SelectField("Pass it to", widget=GovSelect(), choices=[])


class ReviewForm(FlaskForm):
    note = TextAreaField(
        "What needs to change?",
        widget=GovTextArea(),
        validators=[Optional(), Length(max=5_000)],
    )


class ForwardForm(FlaskForm):
    forwarded_at = LocalDateTimeField(
        "When was it forwarded to the police?",
        description="UK time.",
        validators=[InputRequired(message="Enter when it was forwarded")],
    )


class ArrangeForm(FlaskForm):
    """The appointment: when and where the child will be seen. The time is checked by the
    service (not in the past); empty is refused here unless the person cancels."""

    appointment_at = LocalDateTimeField(
        "Date and time of the interview",
        description="UK time.",
        validators=[Optional()],
    )
    place = StringField(
        "Where",
        description="For example, the child's placement or school. Optional.",
        widget=GovTextInput(),
        validators=[
            Optional(),
            Length(max=200, message="The place must be 200 characters or fewer"),
        ],
    )
