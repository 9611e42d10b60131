"""Where a vote came from, and which process runs a job.

- ``feedback.source``: ``platform`` (Slack, Discord, the console), ``simulated`` or ``import``
  (``supportloop votes import``), so imported labels are never mistaken for users' votes.
- ``job_runs.owner`` (host, pid and start time of the process running it) and ``job_runs.heartbeat_at``
  (renewed while it runs), so a run whose process died can be told from one still running elsewhere.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="platform"))
    op.execute("UPDATE feedback SET source = 'simulated' WHERE simulated")
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(255), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("source")
