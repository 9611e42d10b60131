"""Initial schema: answers, feedback, model versions, job runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("passage_ids", sa.JSON(), nullable=False),
        sa.Column("declined", sa.Boolean(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(128), nullable=True),
        sa.Column("thread", sa.String(128), nullable=True),
        sa.Column("user_hash", sa.String(64), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("answer_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("vote", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("answer_id", "user_hash", name="uq_feedback_answer_user"),
        sa.CheckConstraint("vote IN (-1, 1)", name="ck_feedback_vote"),
    )
    op.create_index("ix_feedback_answer_id", "feedback", ["answer_id"])
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("audit_status", sa.String(32), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "uq_model_versions_one_current",
        "model_versions",
        ["is_current"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_index("uq_model_versions_one_current", table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_index("ix_feedback_answer_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("answers")
