"""stored_files: evidence and report bytes in the database (STORAGE_BACKEND = "database")

Revision ID: 9b1d4e7f3a21
Revises: e7a2c4b19d05
Create Date: 2026-11-30 21:00:00

"""
import sqlalchemy as sa
from alembic import op

import audit.models.types

# revision identifiers, used by Alembic.
revision = '9b1d4e7f3a21'
down_revision = 'e7a2c4b19d05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stored_files',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', audit.models.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_stored_files')),
    )


def downgrade():
    op.drop_table('stored_files')
