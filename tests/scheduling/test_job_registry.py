"""Every feature's sweep is scheduled, and every notification kind can be tuned by users."""

import re
from pathlib import Path

from audit.core.registry import registry

AUDIT_PACKAGE = Path(__file__).resolve().parents[2] / "audit"


def test_finding_deadline_sweep_is_scheduled(app, now):
    """The findings sweep is a scheduler job and runs (idempotently) through the registry."""
    job = next(j for j in registry(app).jobs if j.id == "finding_deadlines")
    first = job.function(app, now)
    second = job.function(app, now)
    assert "sweep_finding_deadlines" in first and first == second


def test_every_notification_kind_is_registered(app):
    """Kinds passed to notify() anywhere in the code all appear on the preferences page."""
    used = set()
    for path in AUDIT_PACKAGE.rglob("*.py"):
        for call in re.findall(r"notify\((.*?)\)", path.read_text(), flags=re.S):
            used |= set(re.findall(r'kind="([a-z_]+)"', call))
    assert used, "no notify() calls found: the scan is broken"
    assert used - set(registry(app).notification_kinds) == set()
