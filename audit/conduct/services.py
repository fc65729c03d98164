"""Façade over the conduct services, kept for ``audit/conduct/api.py`` only.

The services live in modules named after what they hold: ``access`` (who may see and change
an audit's records, the freeze), ``checklist`` (the checklist read model), ``answers``,
``evidence``, ``report``, ``lifecycle`` and ``mutations`` (offline replays). Import from those.
This module only re-exports their public names so the concurrent work on the tablet API's error
format does not conflict with the split; delete it once ``api.py`` imports the modules.
"""

from __future__ import annotations

from audit.conduct.access import (  # noqa: F401
    AuditFrozen,
    can_answer,
    can_edit_records,
    can_view,
    is_auditee,
    is_frozen,
    load_audit,
    require_answerer,
    require_not_frozen,
    team_role,
)
from audit.conduct.answers import (  # noqa: F401
    GRADE_FOR_VERDICT,
    AnswerConflict,
    SaveResult,
    answer_payload,
    finding_defaults,
    raise_finding_from_answer,
    save_answer,
)
from audit.conduct.checklist_read import (  # noqa: F401
    Checklist,
    QuestionRow,
    SectionRow,
    answer_state,
    build_checklist,
    get_question,
    is_answered,
    previous_audit_of,
)
from audit.conduct.evidence import (  # noqa: F401
    ALLOWED_EVIDENCE_TYPES,
    THUMBNAIL_SIZE,
    add_evidence,
    evidence_payload,
)
from audit.conduct.lifecycle import (  # noqa: F401
    advance_status,
    start_fieldwork,
)
from audit.conduct.mutations import (  # noqa: F401
    check_mutation_id,
    remember_result,
    replayed_result,
)
from audit.conduct.report import (  # noqa: F401
    REPORT_FIELDS,
    SAMPLING_STATEMENT,
    ClauseCoverage,
    acknowledge_report,
    default_report_due_on,
    ensure_report_due_on,
    get_report,
    issue_report,
    report_blockers,
    report_contents,
    save_report,
    sign_report,
)
