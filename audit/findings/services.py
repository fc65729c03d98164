"""Finding rules: the corrective-action life cycle of DOMAIN.md §5, one module per responsibility.

This module is the findings feature's public surface (views, jobs, other features and tests call
``services.<name>``); each rule lives in the module named after it:

- ``workflow``: the state machines of findings, SCARs and actions — who may do what, when;
- ``raising``: raise, issue, assign, reopen, record by hand, the follow-up audit a major proposes;
- ``responses``: root cause, response, review, actions, OFI decisions;
- ``closure``: effectiveness verification and closure;
- ``extension_requests``, ``costs``, ``deadlines`` (policy and due dates);
- ``scar`` (the supplier's stages), ``probation`` (supplier status), ``cb_import``.

Life cycle (nonconformities)::

    draft → issued (no owner yet) → awaiting response → response submitted
          → (rejected → awaiting response) → action in progress → pending verification
          → closed;  not effective → action in progress (recurrence + 1)

Observations / OFIs: issued → accepted (improvement action) | declined (rationale) → closed.
Good practice closes when issued: there is nothing to act on. Closed findings are read-only
forever: corrections go through a new, linked finding (``reopen_finding``).
"""

from audit.findings.cb_import import CSV_COLUMNS, import_cb_findings
from audit.findings.closure import close_finding, verify_effectiveness
from audit.findings.costs import add_cost
from audit.findings.deadlines import (
    DEFAULT_DEADLINES,
    SCAR_STAGE_DEADLINES,
    compute_deadlines,
    deadline_days,
    grade_label,
    local_date,
    policy_rows,
    scar_stage_due,
    set_deadline_policy,
)
from audit.findings.extension_requests import decide_extension, request_extension
from audit.findings.ownership import could_carry, reassign_action, remove_action
from audit.findings.probation import supplier_problems, update_supplier_status
from audit.findings.raising import (
    REPEAT_WINDOW_DAYS,
    assign_owner,
    issue_finding,
    next_finding_reference,
    propose_follow_up_audit,
    raise_finding,
    record_finding,
    record_manual_finding,
    reopen_finding,
)
from audit.findings.responses import (
    accept_response,
    add_action,
    check_root_cause,
    complete_action,
    decide_finding,
    reject_response,
    submit_response,
)
from audit.findings.scar import (
    acknowledge_scar,
    submit_scar_containment,
    submit_scar_plan,
    submit_scar_root_cause,
)
from audit.findings.transitions import ensure_editable
from audit.findings.workflow import (
    ACTION,
    FINDING,
    OPEN_STATUSES,
    SCAR,
    can_issue,
    can_read,
    can_record,
    can_respond,
    can_verify,
    could_own,
)

__all__ = [
    "ACTION", "CSV_COLUMNS", "DEFAULT_DEADLINES", "FINDING", "OPEN_STATUSES", "REPEAT_WINDOW_DAYS", "SCAR",
    "SCAR_STAGE_DEADLINES", "accept_response", "acknowledge_scar", "add_action", "add_cost", "assign_owner",
    "can_issue", "can_read", "can_record", "can_respond", "can_verify", "check_root_cause", "close_finding",
    "complete_action", "compute_deadlines", "deadline_days", "decide_extension", "decide_finding",
    "ensure_editable", "grade_label", "import_cb_findings", "issue_finding", "local_date",
    "next_finding_reference", "policy_rows", "propose_follow_up_audit", "raise_finding", "record_finding",
    "record_manual_finding", "reject_response", "reopen_finding", "request_extension", "scar_stage_due",
    "set_deadline_policy", "submit_response", "submit_scar_containment", "submit_scar_plan",
    "submit_scar_root_cause", "supplier_problems", "update_supplier_status", "verify_effectiveness",
    "could_carry", "could_own", "reassign_action", "remove_action",
]
