"""Each answer keeps how it was made: quoted by the heuristic, preferred by the reward model, explored…

Votes on "explored" answers are what teach a reward model which alternative users like (the others were
chosen by the model being trained), and a "preferred" answer is the fast path's doing: an admin asking
why an answer changed, or an analysis of votes, needs to tell them apart. Empty for earlier answers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("mode", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("mode")
