"""indexes on foreign keys used in filters (calendar feeds, team and agenda loads)

Revision ID: 3c9e1f07a2b4
Revises: 572cfae4ca33
Create Date: 2026-12-01 10:00:00.000000

EXPLAIN showed full scans for the feed queries (audits by programme/site/supplier/certificate,
a person's team memberships, units, findings and actions) and for the team and agenda loads
of every audit page (issue 16).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c9e1f07a2b4'
down_revision = '572cfae4ca33'
branch_labels = None
depends_on = None

INDEXES = (
    ('audits', 'programme_id'),
    ('audits', 'site_id'),
    ('audits', 'supplier_id'),
    ('audits', 'certificate_id'),
    ('audit_team_members', 'audit_id'),
    ('audit_team_members', 'user_id'),
    ('agenda_sessions', 'audit_id'),
    ('units', 'owner_id'),
    ('unit_members', 'user_id'),
    ('findings', 'owner_id'),
    ('corrective_actions', 'owner_id'),
)


def upgrade():
    for table, column in INDEXES:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column], unique=False)


def downgrade():
    for table, column in reversed(INDEXES):
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
