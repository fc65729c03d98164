"""users.session_version: server-side revocation of session cookies

Revision ID: 5e7c1a9d2b40
Revises: 3c9e1f07a2b4
Create Date: 2026-11-30 20:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e7c1a9d2b40'
down_revision = '3c9e1f07a2b4'
branch_labels = None
depends_on = None


def upgrade():
    # Cookies issued before this revision carry a bare user id, which the user loader no longer
    # accepts: everyone logs in once more after the upgrade.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_version', sa.Integer(), server_default='1', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
