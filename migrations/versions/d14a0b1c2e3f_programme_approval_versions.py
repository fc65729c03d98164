"""programme approval: preparer and approved content version

Revision ID: d14a0b1c2e3f
Revises: 5e7c1a9d2b40
Create Date: 2026-11-30 20:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd14a0b1c2e3f'
down_revision = '5e7c1a9d2b40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prepared_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('content_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('approved_version', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_programmes_prepared_by_id_users'), 'users',
                                    ['prepared_by_id'], ['id'])
    # Programmes approved before versions existed count as approved as they stand.
    op.execute("UPDATE programmes SET approved_version = content_version WHERE approved_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_programmes_prepared_by_id_users'), type_='foreignkey')
        batch_op.drop_column('approved_version')
        batch_op.drop_column('content_version')
        batch_op.drop_column('prepared_by_id')
