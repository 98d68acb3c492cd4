"""The standing profile's form: one phone-first page, the photo chosen on the same page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovCheckboxInput,
    GovFileInput,
    GovSubmitInput,
)
from wtforms import BooleanField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from webapp.carers.profiles import MAX_TEXT, PROFILE_FIELDS, PROFILE_LABELS
from webapp.formfields import DayMonthYearField

# What each box is for, in the words a carer would use (the police's list, Philomena Protocol).
HINTS = {
    "description": "Height, build, hair, eyes, skin, glasses, scars, tattoos or piercings, "
    "and how they usually dress",
    "phones": "Numbers, makes and models of the phones and tablets they use",
    "social_media": "Apps and usernames they use",
    "associates": "Names of family, friends and other people they spend time with, and where "
    "they live if you know",
    "places": "Addresses, areas, shops, parks or towns they go to",
    "medical": "Conditions, allergies, disabilities, and anything a hospital should know",
    "medication": "What they take, how often, and what happens if they miss it",
    "money": "Bank cards, pocket money, and how else they get money",
    "transport": "Bus pass, bike, routes they know, people who might give them a lift",
}

# The file chooser offers only what photos.py takes; the server still checks the content.
PHOTO_ACCEPT = "image/jpeg,image/png,image/heic,image/heif"


def _text_field(name: str) -> TextAreaField:
    return TextAreaField(
        PROFILE_LABELS[name],
        description=HINTS[name],
        widget=GovCharacterCount(),
        validators=[
            Optional(),
            Length(
                max=MAX_TEXT,
                message=f"{PROFILE_LABELS[name]} must be {MAX_TEXT} characters or fewer",
            ),
        ],
    )


class ProfileForm(FlaskForm):
    description = _text_field("description")
    photo = FileField(
        "Recent photo",
        description="A JPEG, PNG or HEIC photo, up to 8 MB. Where and when it was taken is "
        "removed before it is kept.",
        widget=GovFileInput(),
    )
    remove_photo = BooleanField("Remove the current photo", widget=GovCheckboxInput())
    phones = _text_field("phones")
    social_media = _text_field("social_media")
    associates = _text_field("associates")
    places = _text_field("places")
    medical = _text_field("medical")
    medication = _text_field("medication")
    money = _text_field("money")
    transport = _text_field("transport")
    review_due = DayMonthYearField(
        "Review the profile by",
        description="Usually within 6 months, and after every time they go missing. "
        "For example, 27 3 2027",
    )
    submit = SubmitField("Save profile", widget=GovSubmitInput())

    def profile_data(self) -> dict:
        data = {name: self[name].data or "" for name in PROFILE_FIELDS}
        data["review_due"] = self.review_due.data
        return data
