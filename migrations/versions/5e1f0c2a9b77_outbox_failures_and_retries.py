"""Outbox: failed and retried e-mails (attempts, reason, back-off, gave up).

Revision ID: 5e1f0c2a9b77
Revises: e5b2c4d6f8a1
Create Date: 2026-11-30 20:30:00
"""

import sqlalchemy as sa
from alembic import op

from audit.models.types import UTCDateTime

revision = "5e1f0c2a9b77"
down_revision = "e5b2c4d6f8a1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("email_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("email_retry_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("email_failed_at", UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("email_failed_at")
        batch_op.drop_column("email_retry_at")
        batch_op.drop_column("email_error")
        batch_op.drop_column("email_attempts")
