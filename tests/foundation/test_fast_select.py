"""FastSelect writes the same HTML as WTForms' own Select widget."""

from __future__ import annotations

import pytest
from wtforms import Form, SelectField, widgets

from audit.core.forms import FastSelect, FastSelectField

CHOICES = [
    [(0, "Any unit"), (3, "Design & development"), (7, 'Quote "this" <b>')],
    [("", "Any status"), ("open", "All open"), ("a&b", "")],
    [(True, "Yes"), (False, "No")],
    [("plain", "Plain"), ("fancy", "Fancy", {"data-kind": "f&f", "disabled": True})],
]


@pytest.mark.parametrize("choices", CHOICES)
@pytest.mark.parametrize("raw", [None, "3", "open", "a&b", "True", "fancy", "y"])
def test_fast_select_renders_what_wtforms_renders(choices, raw):
    class Plain(Form):
        field = SelectField("F", choices=choices, validate_choice=False)

    class Fast(Form):
        field = FastSelectField("F", choices=choices, validate_choice=False)

    data = {} if raw is None else {"field": raw}
    plain, fast = Plain(data=data), Fast(data=data)
    assert isinstance(Fast.field.kwargs.get("widget") or FastSelectField.widget, FastSelect)
    assert str(fast.field(class_="wide")) == str(plain.field(class_="wide"))
    assert str(fast.field()) == str(widgets.Select()(plain.field))
