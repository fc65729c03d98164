"""Forms of the calendar page: create a subscription link; confirm revoke/rotate (CSRF)."""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from audit.core.forms import AppForm


class TokenForm(AppForm):
    """Which calendar to subscribe to, and a name to recognise the link later."""

    feed = SelectField("Calendar", validators=[DataRequired()],
                       description="Your own audits and deadlines, or a whole programme, site, "
                                   "supplier or certificate.")
    label = StringField("Name (optional)", validators=[Optional(), Length(max=80)],
                        description="For example “Phone” or “Outlook at work”.")


class ConfirmForm(AppForm):
    """An empty form: a POST button with its CSRF token."""
