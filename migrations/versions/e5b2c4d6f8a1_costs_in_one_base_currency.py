"""costs in one base currency: dated exchange rates, rate and base amount stored on each cost

Revision ID: e5b2c4d6f8a1
Revises: d3a1f0c2b7e4
Create Date: 2026-11-30 21:00:00

"""
from alembic import op
import sqlalchemy as sa

import audit.models.types


# revision identifiers, used by Alembic.
revision = 'e5b2c4d6f8a1'
down_revision = 'd3a1f0c2b7e4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('exchange_rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('base_currency', sa.String(length=3), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('rate', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', audit.models.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_exchange_rates_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_rates')),
    sa.UniqueConstraint('currency', 'valid_from', name=op.f('uq_exchange_rates_currency'))
    )
    with op.batch_alter_table('poor_quality_costs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('base_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('rate', sa.Numeric(precision=18, scale=8), nullable=True))
        batch_op.add_column(sa.Column('base_amount', sa.Numeric(precision=14, scale=2), nullable=True))


def downgrade():
    with op.batch_alter_table('poor_quality_costs', schema=None) as batch_op:
        batch_op.drop_column('base_amount')
        batch_op.drop_column('rate')
        batch_op.drop_column('base_currency')
    op.drop_table('exchange_rates')
