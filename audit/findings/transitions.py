"""How a finding changes state: the read-only rule for closed findings and the trail row."""

from __future__ import annotations

from audit.core.errors import DomainError
from audit.extensions import db
from audit.models import Finding, FindingStatus
from audit.trail.services import record, snapshot


def ensure_editable(finding: Finding) -> None:
    """Closed findings are records: readable forever, never edited."""
    if finding.status is FindingStatus.CLOSED:
        raise DomainError("This finding is closed: it is a record now and cannot be changed. "
                          "Raise a new finding (reopen) if the problem is back.")


def transition(finding: Finding, new: FindingStatus, *, actor, now, summary: str,
               extra: dict | None = None) -> None:
    """Move ``finding`` to ``new`` and write the trail row with the status change and ``extra``."""
    old = finding.status
    finding.status = new
    finding.updated_at = now
    changes = {"status": [old.value, new.value]}
    for key, value in (extra or {}).items():
        changes[key] = value
    db.session.flush()
    record(finding, "transition", actor=actor, now=now, summary=summary, changes=snapshot(changes))


def text(value: str | None) -> str:
    """A form value stripped, never None."""
    return (value or "").strip()
