"""Escalations: "Ask a person" requests, one per thread, and which admin took each.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("answer_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("thread", sa.String(128), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("taken_by", sa.String(128), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("platform", "channel", "thread", name="uq_escalations_thread"),
        sa.CheckConstraint("status IN ('open', 'taken', 'closed')", name="ck_escalations_status"),
    )
    op.create_index("ix_escalations_answer_id", "escalations", ["answer_id"])


def downgrade() -> None:
    op.drop_index("ix_escalations_answer_id", table_name="escalations")
    op.drop_table("escalations")
