"""A retry policy's delay: the seconds before the next try that a failed try's policy chose.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

Frozen history: does not import the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for table in ("task_instance", "task_instance_history"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("next_retry_delay", sa.Float(), nullable=True))


def downgrade() -> None:
    for table in ("task_instance_history", "task_instance"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("next_retry_delay")
