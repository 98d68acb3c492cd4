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
from wtforms.validators import InputRequired, Length, Optional

from webapp.formfields import LocalDateTimeField, OptionalRadioField
from webapp.interviews.questions import SECTIONS_BY_SLUG, Question, Section


def _field(q: Question):
    kw = {"description": q.hint or ""}
    too_long = f"{q.label} must be {q.max_length:,} characters or fewer"
    if q.kind == "radios":
        return OptionalRadioField(q.label, choices=list(q.choices), widget=GovRadioInput(), **kw)
    if q.kind == "checkboxes":
        return SelectMultipleField(
            q.label, choices=list(q.choices), widget=GovCheckboxesInput(), **kw
        )
    if q.kind == "text":
        return TextAreaField(
            q.label,
            widget=GovCharacterCount() if q.max_length < 2000 else GovTextArea(),
            validators=[Optional(), Length(max=q.max_length, message=too_long)],
            **kw,
        )
    if q.kind == "short":
        return StringField(
            q.label,
            widget=GovTextInput(),
            validators=[Optional(), Length(max=q.max_length, message=too_long)],
            **kw,
        )
    if q.kind == "datetime":
        return LocalDateTimeField(q.label, validators=[Optional()], **kw)
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
