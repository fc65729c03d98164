"""Report parameters."""

from __future__ import annotations

from wtforms import DateField
from wtforms.validators import Optional

from audit.core.forms import AppForm


class PeriodForm(AppForm):
    """The review period, read from the query string."""

    class Meta:
        csrf = False

    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])
