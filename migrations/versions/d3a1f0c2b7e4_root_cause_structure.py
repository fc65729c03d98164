"""root cause as structure: cause category and the 8D report

Revision ID: d3a1f0c2b7e4
Revises: 9b1d4e7f3a21
Create Date: 2026-11-30 20:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3a1f0c2b7e4'
down_revision = '9b1d4e7f3a21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eight_d', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('root_cause_category', sa.String(length=30), nullable=True))


def downgrade():
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_column('root_cause_category')
        batch_op.drop_column('eight_d')
