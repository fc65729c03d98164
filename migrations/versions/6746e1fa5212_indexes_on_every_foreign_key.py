"""Index every foreign key (issue 16): pages filter on them and deletes check them.

Without an index a filter on a foreign key scans the whole child table: the sites list at demo
scale 50 counted each site's units by scanning all 600 (2.8 of its 3.5 ms of SQL). The
columns still without an index are listed, with their reasons, in
tests/foundation/test_foreign_key_indexes.py.

Revision ID: 6746e1fa5212
Revises: c2d9e4a7f1b3
Create Date: 2026-12-02 07:01:22
"""

from alembic import op

revision = "6746e1fa5212"
down_revision = "c2d9e4a7f1b3"
branch_labels = None
depends_on = None

#: (table, foreign-key column): each gets ``ix_<table>_<column>``, as the models name it.
FOREIGN_KEYS = [
    ("agenda_session_clauses", "clause_id"),
    ("agenda_sessions", "auditor_id"),
    ("agenda_sessions", "unit_id"),
    ("audit_clauses", "clause_id"),
    ("audit_reports", "acknowledged_by_id"),
    ("audit_reports", "issued_by_id"),
    ("audit_reports", "signed_by_id"),
    ("audit_standards", "standard_id"),
    ("audit_triggers", "programme_id"),
    ("audit_triggers", "recorded_by_id"),
    ("audit_triggers", "supplier_id"),
    ("audit_triggers", "unit_id"),
    ("audits", "certification_body_id"),
    ("audits", "checklist_version_id"),
    ("audits", "rule_id"),
    ("certificates", "certification_body_id"),
    ("certificates", "standard_id"),
    ("certificates", "supplier_id"),
    ("checklist_answers", "question_id"),
    ("checklist_question_clauses", "clause_id"),
    ("checklist_questions", "section_id"),
    ("checklist_sections", "version_id"),
    ("checklist_template_versions", "based_on_id"),
    ("checklist_template_versions", "published_by_id"),
    ("clause_topic_links", "clause_id"),
    ("clauses", "parent_id"),
    ("complaints", "finding_id"),
    ("complaints", "risk_id"),
    ("complaints", "trigger_id"),
    ("complaints", "unit_id"),
    ("context_changes", "recorded_by_id"),
    ("corrective_actions", "finding_id"),
    ("evidence", "answer_id"),
    ("evidence", "audit_id"),
    ("evidence", "finding_id"),
    ("evidence", "question_id"),
    ("evidence", "uploaded_by_id"),
    ("exchange_rates", "created_by_id"),
    ("finding_clauses", "clause_id"),
    ("finding_extension_requests", "decided_by_id"),
    ("finding_extension_requests", "finding_id"),
    ("finding_extension_requests", "requested_by_id"),
    ("findings", "answer_id"),
    ("findings", "audit_id"),
    ("findings", "closed_by_id"),
    ("findings", "follow_up_audit_id"),
    ("findings", "raised_by_id"),
    ("findings", "repeat_of_id"),
    ("findings", "site_id"),
    ("findings", "supplier_id"),
    ("findings", "unit_id"),
    ("findings", "verified_by_id"),
    ("indicator_results", "recorded_by_id"),
    ("management_reviews", "chair_id"),
    ("management_reviews", "signed_off_by_id"),
    ("objective_measurements", "recorded_by_id"),
    ("planner_runs", "created_by_id"),
    ("planner_runs", "programme_id"),
    ("poor_quality_costs", "created_by_id"),
    ("poor_quality_costs", "finding_id"),
    ("process_indicators", "unit_id"),
    ("programme_rules", "certificate_id"),
    ("programme_rules", "programme_id"),
    ("programme_rules", "site_id"),
    ("programme_rules", "standard_id"),
    ("programme_rules", "supplier_id"),
    ("programme_rules", "unit_id"),
    ("programmes", "approved_by_id"),
    ("programmes", "manager_id"),
    ("programmes", "prepared_by_id"),
    ("qualifications", "standard_id"),
    ("qualifications", "user_id"),
    ("quality_objectives", "owner_id"),
    ("quality_objectives", "unit_id"),
    ("review_actions", "owner_id"),
    ("review_actions", "review_id"),
    ("risk_findings", "finding_id"),
    ("risks", "owner_id"),
    ("risks", "unit_id"),
    ("site_holidays", "site_id"),
    ("training_records", "standard_id"),
    ("training_records", "user_id"),
    ("unit_standards", "standard_id"),
    ("units", "site_id"),
    ("users", "supplier_id"),
]


def upgrade():
    for table, column in FOREIGN_KEYS:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade():
    for table, column in reversed(FOREIGN_KEYS):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
