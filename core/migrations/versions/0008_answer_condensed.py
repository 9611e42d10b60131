"""Each answer to a thread's follow-up keeps the standalone question it was answered as.

"and on the app?" means nothing to a reward model or a knowledge-gap report; "How do I turn off
notifications on the app?" does. Empty for questions that were not rewritten.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("condensed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("condensed")
