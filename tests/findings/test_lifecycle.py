"""The corrective-action life cycle: every allowed and forbidden transition, per grade and role."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from audit.core.errors import DomainError, NotAllowed
from audit.extensions import db
from audit.findings import services as fs
from audit.models import (
    ActionKind,
    ActionStatus,
    Audit,
    AuditKind,
    AuditStatus,
    CostCategory,
    FindingStatus,
    Grade,
    RootCauseMethod,
    TeamRole,
    TrailEntry,
)
from tests.findings.helpers import draft, response_kwargs, to_status, world

S = FindingStatus


def trail_count(obj) -> int:
    return db.session.query(TrailEntry).filter_by(
        object_type=type(obj).__name__, object_id=obj.id).count()


# --- deadlines ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,grade,response,closure", [
    (AuditKind.INTERNAL, Grade.MAJOR, 14, 60),
    (AuditKind.INTERNAL, Grade.MINOR, 30, 90),
    (AuditKind.SECOND_PARTY, Grade.MAJOR, 14, 60),
    (AuditKind.THIRD_PARTY, Grade.MAJOR, 14, 90),
    (AuditKind.THIRD_PARTY, Grade.MINOR, 30, 90),
])
def test_deadlines_follow_grade_and_audit_kind(app, make, library, now, kind, grade, response,
                                               closure):
    """Issuing sets response and closure due dates from the DOMAIN.md defaults."""
    w = world(make, library, kind=kind)
    f = draft(w, grade, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    today = now.date()
    assert f.response_due_on == today + dt.timedelta(days=response)
    assert f.closure_due_on == today + dt.timedelta(days=closure)


@pytest.mark.parametrize("grade", [Grade.OBSERVATION, Grade.OFI])
def test_observations_and_ofis_have_no_formal_deadline(app, make, library, now, grade):
    """Observations and OFIs only need a decision: no due dates, status issued."""
    w = world(make, library)
    f = draft(w, grade, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert (f.status, f.response_due_on, f.closure_due_on) == (S.ISSUED, None, None)


def test_policy_table_overrides_defaults(app, make, library, now):
    """An edited deadline policy applies to findings issued afterwards."""
    w = world(make, library)
    fs.set_deadline_policy(AuditKind.INTERNAL, Grade.MINOR, response_days=10, closure_days=45,
                           actor=w.coordinator, now=now)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert f.closure_due_on - now.date() == dt.timedelta(days=45)
    assert f.response_due_on - now.date() == dt.timedelta(days=10)


def test_policy_edit_needs_coordinator_and_sane_values(app, make, library, now):
    """Auditees cannot edit policy; a third-party major cannot exceed 90 days."""
    w = world(make, library)
    with pytest.raises(NotAllowed):
        fs.set_deadline_policy(AuditKind.INTERNAL, Grade.MINOR, response_days=1, closure_days=2,
                               actor=w.owner, now=now)
    with pytest.raises(DomainError, match="90"):
        fs.set_deadline_policy(AuditKind.THIRD_PARTY, Grade.MAJOR, response_days=14,
                               closure_days=120, actor=w.coordinator, now=now)


def test_minor_closes_by_next_audit_when_sooner(app, make, library, now):
    """A minor's closure deadline is the unit's next planned audit when that comes first."""
    w = world(make, library)
    nxt = make.audit(planned_date=now.date() + dt.timedelta(days=40), site=w.audit.site)
    nxt.units = [w.unit]
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert f.closure_due_on == now.date() + dt.timedelta(days=40)


def test_deadline_is_the_local_date_of_the_audit_site(app, make, library):
    """At 23:30 UTC it is already tomorrow in Shanghai: deadlines count from the local date."""
    w = world(make, library)
    w.audit.site.timezone = "Asia/Shanghai"
    late = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    f = draft(w, Grade.MINOR, now=late)
    fs.issue_finding(f, actor=w.auditor, now=late)
    assert f.closure_due_on == dt.date(2026, 3, 11) + dt.timedelta(days=90)


# --- the NC happy path and its trail ----------------------------------------------------------

@pytest.mark.parametrize("grade", [Grade.MAJOR, Grade.MINOR])
def test_nc_walks_to_closure_with_trail(app, make, library, now, grade):
    """Issue → respond → accept → implement → verify effective → closed, every step trailed."""
    w = world(make, library)
    f = draft(w, grade, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert f.status is S.AWAITING_RESPONSE and f.owner == w.owner
    fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now))
    assert f.status is S.RESPONSE_SUBMITTED and len(f.actions) == 1
    fs.accept_response(f, actor=w.auditor, now=now)
    assert f.status is S.ACTION_IN_PROGRESS
    fs.complete_action(f.actions[0], "Plan rev. 7", actor=w.owner, now=now)
    assert f.status is S.PENDING_VERIFICATION
    fs.verify_effectiveness(f, effective=True, note="No torque failures in 3 months",
                            actor=w.coordinator, now=now)
    assert f.status is S.CLOSED and f.effectiveness_verified and f.closed_at == now
    assert trail_count(f) >= 6


def test_issue_without_owner_waits_for_assignment(app, make, library, now):
    """An NC on a unit without owner stays issued until an owner is assigned."""
    w = world(make, library)
    w.unit.owner = None
    f = fs.raise_finding(w.audit, grade=Grade.MINOR, statement="x", evidence="y",
                         clauses=[w.clause], actor=w.auditor, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert f.status is S.ISSUED
    with pytest.raises(NotAllowed):
        fs.assign_owner(f, w.other_auditee, actor=w.owner, now=now)
    fs.assign_owner(f, w.other_auditee, actor=w.auditor, now=now)
    assert f.status is S.AWAITING_RESPONSE


def test_only_auditors_issue(app, make, library, now):
    """An auditee cannot issue a draft finding."""
    w = world(make, library)
    f = draft(w, now=now)
    with pytest.raises(NotAllowed):
        fs.issue_finding(f, actor=w.owner, now=now)
    assert f.status is S.DRAFT


def test_good_practice_closes_when_issued(app, make, library, now):
    """A good practice has nothing to act on: issuing closes it."""
    w = world(make, library)
    f = draft(w, Grade.GOOD_PRACTICE, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    assert f.status is S.CLOSED


# --- forbidden transitions --------------------------------------------------------------------

FORBIDDEN = {
    # status reached → operations that must be refused there
    "draft": ["respond", "accept", "reject", "complete", "verify", "close", "decide"],
    "awaiting_response": ["issue", "accept", "reject", "verify", "close", "decide"],
    "response_submitted": ["issue", "respond", "verify", "close", "decide"],
    "action_in_progress": ["issue", "respond", "accept", "reject", "verify", "decide"],
    "pending_verification": ["issue", "respond", "accept", "reject", "decide"],
}


def _attempt(op, w, f, now):
    if op == "issue":
        fs.issue_finding(f, actor=w.auditor, now=now)
    elif op == "respond":
        fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now))
    elif op == "accept":
        fs.accept_response(f, actor=w.auditor, now=now)
    elif op == "reject":
        fs.reject_response(f, "not good", actor=w.auditor, now=now)
    elif op == "complete":
        action = f.actions[0] if f.actions else None
        if action is None:
            raise DomainError("no action")
        fs.complete_action(action, "done", actor=w.owner, now=now)
    elif op == "verify":
        fs.verify_effectiveness(f, effective=True, note="ok", actor=w.coordinator, now=now)
    elif op == "close":
        fs.close_finding(f, note="ok", actor=w.coordinator, now=now)
    elif op == "decide":
        fs.decide_finding(f, accept=False, rationale="no", actor=w.owner, now=now)


@pytest.mark.parametrize("grade", [Grade.MAJOR, Grade.MINOR])
@pytest.mark.parametrize("status", list(FORBIDDEN))
def test_forbidden_transitions_are_refused(app, make, library, now, grade, status):
    """Each operation out of its state is refused and leaves the finding unchanged."""
    w = world(make, library)
    for op in FORBIDDEN[status]:
        f = draft(w, grade, now=now)
        if status != "draft":
            to_status(w, f, status, now=now)
        before = (f.status, f.recurrence_count, len(f.actions))
        with pytest.raises(DomainError):
            _attempt(op, w, f, now)
        assert (f.status, f.recurrence_count, len(f.actions)) == before, op


def test_closed_findings_are_read_only(app, make, library, now):
    """Every write on a closed finding is refused."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MINOR, now=now), "pending_verification", now=now)
    fs.verify_effectiveness(f, effective=True, note="ok", actor=w.auditor, now=now)
    for op in ("issue", "respond", "accept", "reject", "verify", "close", "decide"):
        with pytest.raises(DomainError, match="closed"):
            _attempt(op, w, f, now)
    with pytest.raises(DomainError, match="closed"):
        fs.request_extension(f, deadline="closure", new_due_on=now.date() + dt.timedelta(days=200),
                             reason="x", actor=w.owner, now=now)
    # Costs keep arriving after closure (customer returns): recorded and trailed, the finding
    # itself unchanged.
    version = f.version_id
    cost = fs.add_cost(f, category=CostCategory.SCRAP, amount=10, currency="EUR",
                       incurred_on=now.date(), actor=w.owner, now=now)
    assert cost.base_amount == 10 and f.version_id == version and f.status is FindingStatus.CLOSED


# --- roles ---------------------------------------------------------------------------------------

def test_only_owner_or_unit_owner_responds(app, make, library, now):
    """Another auditee, an auditor or a coordinator cannot answer the finding."""
    w = world(make, library)
    f = draft(w, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    for intruder in (w.other_auditee, w.auditor, w.coordinator):
        with pytest.raises(NotAllowed):
            fs.submit_response(f, actor=intruder, now=now, **response_kwargs(w, now))
    # The finding's named owner (not the unit owner) may also answer.
    f.owner = w.other_auditee
    fs.submit_response(f, actor=w.other_auditee, now=now, **response_kwargs(w, now))
    assert f.status is S.RESPONSE_SUBMITTED


def test_verifier_is_never_an_action_owner(app, make, library, now):
    """A coordinator who owns an action cannot verify; another verifier can."""
    w = world(make, library)
    f = draft(w, Grade.MAJOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    actions = [{"kind": ActionKind.CORRECTIVE, "description": "Fix plan",
                "due_on": now.date() + dt.timedelta(days=10), "owner": w.coordinator}]
    fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now, actions=actions))
    with pytest.raises(NotAllowed):
        fs.accept_response(f, actor=w.coordinator, now=now)
    fs.accept_response(f, actor=w.auditor, now=now)
    fs.complete_action(f.actions[0], "done, see rev 7", actor=w.coordinator, now=now)
    with pytest.raises(NotAllowed):
        fs.verify_effectiveness(f, effective=True, note="ok", actor=w.coordinator, now=now)
    with pytest.raises(NotAllowed):
        fs.verify_effectiveness(f, effective=True, note="ok", actor=w.owner, now=now)
    fs.verify_effectiveness(f, effective=True, note="ok", actor=w.auditor, now=now)
    assert f.status is S.CLOSED


# --- response content ---------------------------------------------------------------------------

@pytest.mark.parametrize("cause", ["Operator error", "retrain", "Operator error - retrain staff",
                                   "Human error.", "Lack of training", "operator did not follow "
                                   "procedure"])
def test_blame_only_root_causes_are_rejected(app, make, library, now, cause):
    """'Operator error' or 'retrain' alone is refused as a root cause; nothing is stored."""
    w = world(make, library)
    f = draft(w, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    with pytest.raises(DomainError) as exc:
        fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now, root_cause=cause))
    assert exc.value.field == "root_cause"
    assert f.status is S.AWAITING_RESPONSE and f.root_cause is None and f.actions == []


def test_response_needs_containment_extent_and_corrective_action(app, make, library, now):
    """Missing containment, extent check, or a corrective action are each refused."""
    w = world(make, library)
    f = draft(w, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    correction_only = [{"kind": ActionKind.CORRECTION, "description": "Rework lot",
                        "due_on": now.date() + dt.timedelta(days=3)}]
    for overrides, field in (({"containment": " "}, "containment"),
                             ({"extent_check": ""}, "extent_check"),
                             ({"actions": correction_only}, "actions"),
                             ({"root_cause_method": RootCauseMethod.ISHIKAWA, "ishikawa": {}},
                              "ishikawa"),
                             ({"whys": ["only one"]}, "whys")):
        with pytest.raises(DomainError) as exc:
            fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now, **overrides))
        assert exc.value.field == field
    assert f.actions == [] and f.status is S.AWAITING_RESPONSE


def test_ishikawa_root_cause_is_accepted(app, make, library, now):
    """An Ishikawa analysis stores its 6M contributions."""
    w = world(make, library)
    f = draft(w, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(
        w, now, root_cause_method=RootCauseMethod.ISHIKAWA, whys=None,
        ishikawa={"machine": "Worn fixture", "method": "No wear check in PM plan"}))
    assert f.ishikawa == {"machine": "Worn fixture", "method": "No wear check in PM plan"}


def test_action_cannot_be_due_after_closure(app, make, library, now):
    """Actions due after the closure deadline need an extension first."""
    w = world(make, library)
    f = draft(w, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    late = [{"kind": ActionKind.CORRECTIVE, "description": "x",
             "due_on": f.closure_due_on + dt.timedelta(days=1)}]
    with pytest.raises(DomainError, match="extension"):
        fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now, actions=late))


# --- reject loop, not effective, closure guards ----------------------------------------------

def test_reject_loop_needs_reason_and_counts(app, make, library, now):
    """A rejected response returns to awaiting response with the reason and a count."""
    w = world(make, library)
    f = to_status(w, draft(w, now=now), "response_submitted", now=now)
    with pytest.raises(DomainError):
        fs.reject_response(f, "  ", actor=w.auditor, now=now)
    fs.reject_response(f, "Root cause too shallow", actor=w.auditor, now=now)
    assert (f.status, f.rejection_count, f.rejection_reason) == (
        S.AWAITING_RESPONSE, 1, "Root cause too shallow")
    assert all(a.status is ActionStatus.CANCELLED for a in f.actions)
    fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now))
    assert f.status is S.RESPONSE_SUBMITTED


@pytest.mark.parametrize("grade", [Grade.MAJOR, Grade.MINOR])
def test_not_effective_goes_back_to_action_with_recurrence(app, make, library, now, grade):
    """Not effective → action in progress, recurrence + 1; a new action leads to verification."""
    w = world(make, library)
    f = to_status(w, draft(w, grade, now=now), "pending_verification", now=now)
    fs.verify_effectiveness(f, effective=False, note="Failures again in May",
                            actor=w.auditor, now=now)
    assert (f.status, f.recurrence_count) == (S.ACTION_IN_PROGRESS, 1)
    action = fs.add_action(f, kind=ActionKind.CORRECTIVE, description="Poka-yoke fixture",
                           due_on=now.date() + dt.timedelta(days=5), actor=w.owner, now=now)
    assert action.round == 1
    fs.complete_action(action, "Fixture installed", actor=w.owner, now=now)
    assert f.status is S.PENDING_VERIFICATION
    fs.verify_effectiveness(f, effective=True, note="Zero failures", actor=w.auditor, now=now)
    assert f.status is S.CLOSED and f.recurrence_count == 1


def test_major_cannot_close_without_effectiveness(app, make, library, now):
    """close_finding refuses a major at any state; verify_effectiveness is the only way."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MAJOR, now=now), "pending_verification", now=now)
    with pytest.raises(DomainError, match="major"):
        fs.close_finding(f, note="implemented", actor=w.auditor, now=now)
    assert f.status is S.PENDING_VERIFICATION


def test_minor_closes_on_verified_implementation(app, make, library, now):
    """A minor may close once the verifier confirms implementation."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MINOR, now=now), "pending_verification", now=now)
    with pytest.raises(DomainError):
        fs.close_finding(f, note="", actor=w.auditor, now=now)
    fs.close_finding(f, note="Saw plan rev 7", actor=w.auditor, now=now)
    assert f.status is S.CLOSED and f.implementation_verified and not f.effectiveness_verified


def test_verification_note_is_required(app, make, library, now):
    """The verifier records what they looked at."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MAJOR, now=now), "pending_verification", now=now)
    with pytest.raises(DomainError):
        fs.verify_effectiveness(f, effective=True, note="", actor=w.auditor, now=now)


# --- OFI / observation -------------------------------------------------------------------------

@pytest.mark.parametrize("grade", [Grade.OFI, Grade.OBSERVATION])
def test_ofi_accept_then_close(app, make, library, now, grade):
    """Accepted OFI becomes an improvement action; closes when it is done."""
    w = world(make, library)
    f = draft(w, grade, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    with pytest.raises(DomainError, match="rationale"):
        fs.decide_finding(f, accept=True, rationale="", actor=w.owner, now=now)
    with pytest.raises(NotAllowed):
        fs.decide_finding(f, accept=True, rationale="good", actor=w.auditor, now=now)
    with pytest.raises(DomainError):
        fs.submit_response(f, actor=w.owner, now=now, **response_kwargs(w, now))
    fs.decide_finding(f, accept=True, rationale="Cheap win", action_description="Label shelves",
                      action_due_on=now.date() + dt.timedelta(days=30), actor=w.owner, now=now)
    assert f.status is S.ACCEPTED and f.actions[0].kind is ActionKind.IMPROVEMENT
    with pytest.raises(DomainError, match="not all done"):
        fs.close_finding(f, note="", actor=w.auditor, now=now)
    fs.complete_action(f.actions[0], "Shelves labelled", actor=w.owner, now=now)
    assert f.status is S.ACCEPTED
    fs.close_finding(f, note="", actor=w.auditor, now=now)
    assert f.status is S.CLOSED


@pytest.mark.parametrize("grade", [Grade.OFI, Grade.OBSERVATION])
def test_ofi_decline_with_rationale_then_close(app, make, library, now, grade):
    """Declined with a rationale; a verifier closes it."""
    w = world(make, library)
    f = draft(w, grade, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    fs.decide_finding(f, accept=False, rationale="Covered by ERP project", actor=w.owner, now=now)
    assert (f.status, f.decision_rationale) == (S.DECLINED, "Covered by ERP project")
    with pytest.raises(DomainError):
        fs.decide_finding(f, accept=True, rationale="x", actor=w.owner, now=now)
    fs.close_finding(f, note="", actor=w.auditor, now=now)
    assert f.status is S.CLOSED


def test_nc_cannot_be_declined(app, make, library, now):
    """Nonconformities are answered, never declined."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    f.status = S.ISSUED
    with pytest.raises(DomainError, match="Only observations"):
        fs.decide_finding(f, accept=False, rationale="no", actor=w.owner, now=now)


# --- reopen, follow-up ---------------------------------------------------------------------------

def test_reopen_creates_linked_repeat_and_keeps_original(app, make, library, now):
    """Reopening a closed NC raises a new repeat finding; the closed one stays as it was."""
    w = world(make, library)
    f = to_status(w, draft(w, Grade.MINOR, now=now), "pending_verification", now=now)
    fs.verify_effectiveness(f, effective=True, note="ok", actor=w.auditor, now=now)
    with pytest.raises(DomainError):
        fs.reopen_finding(f, "", actor=w.auditor, now=now)
    with pytest.raises(NotAllowed):
        fs.reopen_finding(f, "Back again", actor=w.owner, now=now)
    new = fs.reopen_finding(f, "Same failure on lot 77", actor=w.auditor, now=now)
    assert new.repeat_of is f and new.is_repeat and new.status is S.DRAFT
    assert f.status is S.CLOSED
    fs.issue_finding(new, actor=w.auditor, now=now)
    assert new.follow_up_audit is not None  # a repeated NC proposes a follow-up


def test_reopen_refuses_open_findings(app, make, library, now):
    """Only closed findings are reopened."""
    w = world(make, library)
    f = draft(w, now=now)
    with pytest.raises(DomainError, match="still open"):
        fs.reopen_finding(f, "x", actor=w.auditor, now=now)


def test_major_proposes_follow_up_audit(app, make, library, now):
    """A major NC creates a PLANNED follow-up audit of the same kind, due within the trigger days."""
    app.config["TRIGGER_AUDIT_DAYS"] = 45
    w = world(make, library)
    f = draft(w, Grade.MAJOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    proposal = f.follow_up_audit
    assert proposal.status is AuditStatus.PLANNED and proposal.kind is w.audit.kind
    assert proposal.units == [w.unit]
    assert proposal.planned_date == proposal.due_by == now.date() + dt.timedelta(days=45)
    assert trail_count(proposal) == 1


def test_minor_repeat_on_same_unit_and_clause_proposes_follow_up(app, make, library, now):
    """A second minor on the same unit and clause within a year is a repeat."""
    w = world(make, library)
    first = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(first, actor=w.auditor, now=now)
    assert first.follow_up_audit is None
    second_audit = make.audit(site=w.audit.site, team=[(w.auditor, TeamRole.LEAD)])
    second_audit.units = [w.unit]
    later = now + dt.timedelta(days=100)
    second = draft(w, Grade.MINOR, now=later, audit=second_audit)
    fs.issue_finding(second, actor=w.auditor, now=later)
    assert second.is_repeat and second.repeat_of is first
    assert db.session.scalar(select(Audit).where(Audit.id == second.follow_up_audit_id))


# --- extensions ------------------------------------------------------------------------------

def test_extension_request_and_approval(app, make, library, now):
    """Owner requests; the requester cannot approve; a coordinator approves and the date moves."""
    w = world(make, library)
    f = draft(w, Grade.MINOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    new_date = f.closure_due_on + dt.timedelta(days=30)
    with pytest.raises(DomainError):
        fs.request_extension(f, deadline="closure", new_due_on=f.closure_due_on, reason="x",
                             actor=w.owner, now=now)
    with pytest.raises(NotAllowed):
        fs.request_extension(f, deadline="closure", new_due_on=new_date, reason="x",
                             actor=w.auditor, now=now)
    ext = fs.request_extension(f, deadline="closure", new_due_on=new_date,
                               reason="Supplier of the fixture is late", actor=w.owner, now=now)
    with pytest.raises(DomainError, match="already"):
        fs.request_extension(f, deadline="closure", new_due_on=new_date, reason="again",
                             actor=w.owner, now=now)
    with pytest.raises(NotAllowed):
        fs.decide_extension(ext, approve=True, note=None, actor=w.auditor, now=now)
    fs.decide_extension(ext, approve=True, note=None, actor=w.coordinator, now=now)
    assert f.closure_due_on == new_date
    with pytest.raises(DomainError, match="No extension request is waiting"):
        fs.decide_extension(ext, approve=False, note="no", actor=w.coordinator, now=now)


def test_extension_rejection_needs_reason_and_keeps_date(app, make, library, now):
    """Rejecting needs a note; the deadline stays."""
    w = world(make, library)
    f = draft(w, Grade.MAJOR, now=now)
    fs.issue_finding(f, actor=w.auditor, now=now)
    old = f.response_due_on
    ext = fs.request_extension(f, deadline="response", new_due_on=old + dt.timedelta(days=7),
                               reason="Holidays", actor=w.owner, now=now)
    with pytest.raises(DomainError):
        fs.decide_extension(ext, approve=False, note="", actor=w.coordinator, now=now)
    fs.decide_extension(ext, approve=False, note="Major: no delay", actor=w.coordinator, now=now)
    assert f.response_due_on == old


# --- cost of poor quality ----------------------------------------------------------------------

def test_costs_on_nonconformities_only(app, make, library, now):
    """Costs are recorded on NCs with a positive amount and a currency code."""
    w = world(make, library)
    nc = draft(w, Grade.MINOR, now=now)
    ofi = draft(w, Grade.OFI, now=now)
    with pytest.raises(DomainError):  # a draft is the audit side's: the owner cannot see it yet
        fs.add_cost(nc, category=CostCategory.REWORK, amount="1", currency="EUR", incurred_on=now.date(),
                    actor=w.owner, now=now)
    fs.issue_finding(nc, actor=w.auditor, now=now)
    fs.issue_finding(ofi, actor=w.auditor, now=now)
    cost = fs.add_cost(nc, category=CostCategory.REWORK, amount="1250.5", currency="eur",
                       incurred_on=now.date(), actor=w.owner, now=now)
    assert (str(cost.amount), cost.currency) == ("1250.50", "EUR")
    with pytest.raises(DomainError):
        fs.add_cost(ofi, category=CostCategory.SCRAP, amount=1, currency="EUR",
                    incurred_on=now.date(), actor=w.owner, now=now)
    for amount, currency, field in (("-3", "EUR", "amount"), ("abc", "EUR", "amount"),
                                    ("3", "EURO", "currency")):
        with pytest.raises(DomainError) as exc:
            fs.add_cost(nc, category=CostCategory.SCRAP, amount=amount, currency=currency,
                        incurred_on=now.date(), actor=w.owner, now=now)
        assert exc.value.field == field


def test_grade_names_and_use_per_audit_kind(app, make, library, now):
    """A kind of audit may rename a grade or not use it; raising a disabled grade is refused."""
    w = world(make, library, kind=AuditKind.THIRD_PARTY)
    fs.set_deadline_policy(AuditKind.THIRD_PARTY, Grade.OBSERVATION, response_days=None,
                           closure_days=None, label="Area of concern", actor=w.coordinator,
                           now=now)
    fs.set_deadline_policy(AuditKind.THIRD_PARTY, Grade.GOOD_PRACTICE, response_days=None,
                           closure_days=None, is_enabled=False, actor=w.coordinator, now=now)
    assert fs.grade_label(AuditKind.THIRD_PARTY, Grade.OBSERVATION) == "Area of concern"
    assert fs.grade_label(AuditKind.INTERNAL, Grade.OBSERVATION) == "Observation"
    with pytest.raises(DomainError, match="not used") as exc:
        draft(w, Grade.GOOD_PRACTICE, now=now)
    assert exc.value.field == "grade"
