"""checklist_answers: no_finding_reason, not_covered_reason; audit_reports.distribution

Revision ID: e7a2c4b19d05
Revises: d14a0b1c2e3f
Create Date: 2026-11-30 21:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a2c4b19d05'
down_revision = 'd14a0b1c2e3f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('checklist_answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('no_finding_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('not_covered_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('audit_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('distribution', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_reports', schema=None) as batch_op:
        batch_op.drop_column('distribution')
    with op.batch_alter_table('checklist_answers', schema=None) as batch_op:
        batch_op.drop_column('not_covered_reason')
        batch_op.drop_column('no_finding_reason')
