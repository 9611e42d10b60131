"""What the chat bots need: which platform messages carry which answer, events already handled, job
requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("answer_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("message", sa.String(128), nullable=False),
        sa.UniqueConstraint("platform", "channel", "message", name="uq_answer_messages_message"),
    )
    op.create_index("ix_answer_messages_answer_id", "answer_messages", ["answer_id"])
    op.create_table(
        "handled_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("key", name="uq_handled_events_key"),
    )
    op.create_index("ix_answers_thread", "answers", ["platform", "channel", "thread"])
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("requested_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("created_at")
        batch.drop_column("requested_by")
        batch.drop_column("params")
    op.drop_index("ix_answers_thread", table_name="answers")
    op.drop_table("handled_events")
    op.drop_index("ix_answer_messages_answer_id", table_name="answer_messages")
    op.drop_table("answer_messages")
