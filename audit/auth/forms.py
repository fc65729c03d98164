"""Login and account forms."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from audit.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, POLICY_HINT
from audit.core.forms import AppForm, timezone_choices


class LoginForm(AppForm):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class AccountForm(AppForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    timezone = SelectField("Time zone", choices=[], validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()


class PasswordForm(AppForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        description=POLICY_HINT,
    )
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class EndOtherSessionsForm(AppForm):
    """No fields: the CSRF token is what makes "log out other sessions" a deliberate POST."""
