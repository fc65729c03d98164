"""Risk actions as tracked rows, review invitees (calendar feeds), review updated_at.

Revision ID: a7c3e9d1f2b4
Revises: 5e1f0c2a9b77
Create Date: 2026-11-30 23:40:00
"""

import sqlalchemy as sa
from alembic import op

from audit.models.types import UTCDateTime

revision = "a7c3e9d1f2b4"
down_revision = "5e1f0c2a9b77"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "risk_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("risk_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.Enum("OPEN", "DONE", "WITHDRAWN", name="riskactionstatus",
                                    native_enum=False, length=10), nullable=False),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("completion_note", sa.Text(), nullable=True),
        sa.Column("effectiveness", sa.Enum("NOT_REVIEWED", "EFFECTIVE", "NOT_EFFECTIVE",
                                           name="effectiveness", native_enum=False, length=15),
                  nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["risk_id"], ["risks.id"], name=op.f("fk_risk_actions_risk_id_risks"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_risk_actions_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_actions")),
    )
    op.create_index(op.f("ix_risk_actions_risk_id"), "risk_actions", ["risk_id"])
    op.create_index(op.f("ix_risk_actions_owner_id"), "risk_actions", ["owner_id"])
    op.create_table(
        "review_invitees",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["management_reviews.id"],
                                name=op.f("fk_review_invitees_review_id_management_reviews"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_review_invitees_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("review_id", "user_id", name=op.f("pk_review_invitees")),
    )
    op.create_index(op.f("ix_review_invitees_user_id"), "review_invitees", ["user_id"])
    with op.batch_alter_table("management_reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("management_reviews", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
    op.drop_index(op.f("ix_review_invitees_user_id"), table_name="review_invitees")
    op.drop_table("review_invitees")
    op.drop_index(op.f("ix_risk_actions_owner_id"), table_name="risk_actions")
    op.drop_index(op.f("ix_risk_actions_risk_id"), table_name="risk_actions")
    op.drop_table("risk_actions")
