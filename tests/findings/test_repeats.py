"""Issued means issued; repeats only across audits within the configured window; an approved
response extension moves closure by as many days."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from audit.extensions import db
from audit.findings import services as fs
from audit.models import Audit, AuditStatus, Finding, Grade
from tests.findings.helpers import draft, to_status, world


def _closed_in_issued_report(make, library, now):
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MINOR, now=now), "pending_verification", now=now)
    fs.close_finding(f, note="Seen", actor=w.auditor, now=now)
    w.audit.report_issued_at = now
    w.audit.status = AuditStatus.REPORT_ISSUED
    db.session.flush()
    return w, f


def test_repeat_after_an_issued_report_goes_to_a_follow_up_audit_and_links_back(app, make, library, now):
    """'Raise repeat finding' on a closed finding of an issued report adds nothing to that audit:
    a follow-up audit of the unit is proposed and holds the new finding, linked to the original."""
    w, f = _closed_in_issued_report(make, library, now)
    before = db.session.scalars(select(Finding.id).where(Finding.audit_id == w.audit.id)).all()
    later = now + dt.timedelta(days=40)
    new = fs.reopen_finding(f, "Unsigned quotes again", actor=w.auditor, now=later)
    assert db.session.scalars(select(Finding.id).where(Finding.audit_id == w.audit.id)).all() == before
    assert new.audit is not w.audit and new.audit.status is AuditStatus.PLANNED
    assert new.audit.units == [w.unit] and new.repeat_of is f and new.is_repeat
    assert f.follow_up_audit_id is None  # the closed record itself is untouched


def test_repeat_goes_to_the_units_next_open_audit_when_there_is_one(app, make, library, now):
    """An open audit of the same unit takes the repeat; no new audit is proposed."""
    w, f = _closed_in_issued_report(make, library, now)
    nxt = make.audit(site=w.audit.site, planned_date=now.date() + dt.timedelta(days=30))
    nxt.units = [w.unit]
    audits = db.session.query(Audit).count()
    new = fs.reopen_finding(f, "Back again", actor=w.coordinator, now=now + dt.timedelta(days=5))
    assert new.audit is nxt and db.session.query(Audit).count() == audits


def test_two_ncs_on_one_clause_in_one_audit_are_not_a_repeat(app, make, library, now):
    """The same clause twice in one audit is not a repeat and proposes no follow-up audit."""
    w = world(make, library)
    first = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(first, actor=w.auditor, now=now)
    second = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(second, actor=w.auditor, now=now)
    assert not second.is_repeat and second.follow_up_audit_id is None


def test_repeat_window_is_configurable(app, make, library, now):
    """An NC on the same unit and clause in a later audit repeats within the window only."""
    w = world(make, library)
    old = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(old, actor=w.auditor, now=now)
    later_audit = make.audit(site=w.audit.site, team=list((m.user, m.role) for m in w.audit.team))
    later_audit.units, later_audit.standards = [w.unit], list(w.audit.standards)
    app.config["FINDING_REPEAT_WINDOW_DAYS"] = 30
    outside = draft(w, Grade.MINOR, now=now + dt.timedelta(days=31), audit=later_audit)
    fs.issue_finding(outside, actor=w.auditor, now=now + dt.timedelta(days=31))
    assert not outside.is_repeat
    app.config["FINDING_REPEAT_WINDOW_DAYS"] = 60
    inside = draft(w, Grade.MINOR, now=now + dt.timedelta(days=32), audit=later_audit)
    fs.issue_finding(inside, actor=w.auditor, now=now + dt.timedelta(days=32))
    assert inside.is_repeat and inside.repeat_of in (old, outside)


def test_approved_response_extension_moves_closure_by_as_many_days(app, make, library, now):
    """Ten more days to answer means ten more days to close."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    response, closure = f.response_due_on, f.closure_due_on
    ext = fs.request_extension(f, deadline="response", new_due_on=response + dt.timedelta(days=10),
                               reason="Supplier audit first", actor=w.owner, now=now)
    fs.decide_extension(ext, approve=True, note=None, actor=w.coordinator, now=now)
    assert (f.response_due_on, f.closure_due_on) == (response + dt.timedelta(days=10),
                                                     closure + dt.timedelta(days=10))
