from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp


class LoginForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter your email address"),
            # Only the shape: sign-in looks the address up, it does not need to be deliverable.
            Regexp(
                r"^[^@\s]+@[^@\s]+$",
                message="Enter an email address in the correct format, like name@example.org",
            ),
            Length(max=254),
        ],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Enter your password"), Length(max=1000)],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


def _new_password_fields():
    new = PasswordField(
        "New password",
        description="At least 12 characters. Three or four unrelated words are easy to remember "
        "and hard to guess.",
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Enter a new password"), Length(max=1000)],
    )
    confirm = PasswordField(
        "Confirm new password",
        widget=GovPasswordInput(),
        validators=[
            DataRequired(message="Enter the new password again"),
            EqualTo("new_password", message="The two new passwords are not the same"),
        ],
    )
    return new, confirm


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Enter your current password"), Length(max=1000)],
    )
    new_password, confirm_password = _new_password_fields()
    submit = SubmitField("Change password", widget=GovSubmitInput())


class SetPasswordForm(FlaskForm):
    # The one-time code from the link, carried in the form so the link's URL is read only once.
    code = HiddenField(validators=[DataRequired(message="Open the link you were given again")])
    new_password, confirm_password = _new_password_fields()
    submit = SubmitField("Set password", widget=GovSubmitInput())


class UserAccessForm(FlaskForm):
    role = SelectField("Role", widget=GovSelect(), choices=[])
    team = SelectField("Team", widget=GovSelect(), choices=[])
    submit = SubmitField("Save role and team", widget=GovSubmitInput())


def _code_field(label: str, hint: str):
    return StringField(
        label,
        description=hint,
        widget=GovTextInput(),
        validators=[DataRequired(message="Enter the code"), Length(max=40)],
    )


class SecondFactorCodeForm(FlaskForm):
    code = _code_field(
        "Security code",
        "The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class SecondFactorEnrolForm(FlaskForm):
    code = _code_field("Security code", "The 6-digit code your authenticator app shows now.")
    submit = SubmitField("Set up", widget=GovSubmitInput())


class RecoveryCodesForm(FlaskForm):
    code = _code_field("Security code", "The 6-digit code your authenticator app shows now.")
    submit = SubmitField("Make new recovery codes", widget=GovSubmitInput())


class SecondFactorOffForm(FlaskForm):
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[DataRequired(message="Enter your password"), Length(max=1000)],
    )
    code = _code_field(
        "Security code",
        "The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )
    submit = SubmitField("Turn off the second factor", widget=GovSubmitInput())
