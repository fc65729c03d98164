"""Root cause as structure: a category, the why-chain, and blame accepted only with a system
cause beneath it."""

from __future__ import annotations

import pytest

from audit.core.errors import DomainError
from audit.findings import services as fs
from audit.findings.responses import blames_people

SYSTEM = "Work instruction WI-12 gives no torque value for the new part"


@pytest.mark.parametrize("cause", ["Root cause: operator error", "Operator error happened again",
                                   "Operator error on night shift", "The operator forgot the check",
                                   "Retraining needed", "human mistake", "Staff did not follow the SOP"])
def test_blame_in_any_phrasing_is_refused_without_a_system_why(app, cause):
    """People-blaming causes are refused, however phrased, when no why beneath names a system cause."""
    assert blames_people(cause)
    with pytest.raises(DomainError, match="not a root cause until a why beneath it") as exc:
        fs.check_root_cause(cause, category="man", whys=["Torque too low", cause])
    assert exc.value.field == "root_cause"


def test_blame_passes_with_a_system_cause_beneath_it(app):
    """'Operator error' with a deeper why naming the method is accepted."""
    cause, category = fs.check_root_cause(
        "Operator error", category="man", whys=["Bolt loose", "Operator error", SYSTEM])
    assert (cause, category) == ("Operator error", "man")


@pytest.mark.parametrize("cause,category", [("Fatigue", "man"), ("Miscalibration", "measurement")])
def test_short_real_causes_pass_when_categorised(app, cause, category):
    """'Fatigue' and 'Miscalibration' are real causes: accepted once categorised, refused without."""
    assert fs.check_root_cause(cause, category=category, whys=[]) == (cause, category)
    with pytest.raises(DomainError) as exc:
        fs.check_root_cause(cause, category="", whys=[])
    assert exc.value.field == "root_cause_category"


def test_categories_are_configurable(app):
    """The category list comes from configuration (default 6M)."""
    app.config["ROOT_CAUSE_CATEGORIES"] = {"design": "Design", "supplier": "Supplier"}
    assert fs.check_root_cause("Drawing tolerance too tight", category="design") == (
        "Drawing tolerance too tight", "design")
    with pytest.raises(DomainError):
        fs.check_root_cause("Drawing tolerance too tight", category="method")
