"""Index audit_units.unit_id: personal feeds and their 304s find "audits of my units" by unit.

The primary key leads with audit_id, so a filter by unit scanned the whole table (issue 16).

Revision ID: c2d9e4a7f1b3
Revises: b4c8e1f2a6d3
Create Date: 2026-12-01 02:50:00
"""

from alembic import op

revision = "c2d9e4a7f1b3"
down_revision = "b4c8e1f2a6d3"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_units", schema=None) as batch_op:
        batch_op.create_index("ix_audit_units_unit_id", ["unit_id"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_units", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_units_unit_id")
