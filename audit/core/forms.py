"""Form helpers shared by features."""

from __future__ import annotations

import functools
import zoneinfo

from wtforms import SelectMultipleField, widgets
from wtforms.validators import ValidationError


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def timezone_choices() -> list[tuple[str, str]]:
    """IANA zone names, for a select box."""
    return [(z, z.replace("_", " ")) for z in _zones()]


def is_valid_timezone(name: str | None) -> bool:
    """True for a known IANA zone name."""
    return bool(name) and name in _zones()


def validate_timezone(_form, field) -> None:
    """WTForms validator: the value must be an IANA zone such as Europe/Berlin."""
    if not is_valid_timezone(field.data):
        raise ValidationError("Choose a time zone from the list (e.g. Europe/Berlin).")


class MultiCheckboxField(SelectMultipleField):
    """Several checkboxes for a many-to-many choice (touch-friendly, unlike <select multiple>)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def form_values(form) -> dict:
    """The submitted values of ``form`` without CSRF and submit fields."""
    return {
        name: field.data
        for name, field in form._fields.items()
        if name not in ("csrf_token", "submit")
    }


def attach_error(form, exc) -> None:
    """Show a service's DomainError on its field, or on the form as a whole."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors) + [exc.message]
    else:
        form.form_errors.append(exc.message)
