"""Index applied_mutations.applied_at: the pruning job deletes mutation ids by age.

Revision ID: b4c8e1f2a6d3
Revises: a7c3e9d1f2b4
Create Date: 2026-11-30 23:40:00
"""

from alembic import op

revision = "b4c8e1f2a6d3"
down_revision = "a7c3e9d1f2b4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("applied_mutations", schema=None) as batch_op:
        batch_op.create_index("ix_applied_mutations_applied_at", ["applied_at"], unique=False)


def downgrade():
    with op.batch_alter_table("applied_mutations", schema=None) as batch_op:
        batch_op.drop_index("ix_applied_mutations_applied_at")
