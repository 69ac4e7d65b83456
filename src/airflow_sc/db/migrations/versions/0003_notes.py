"""Notes: an operator's note on a DAG run and on a task instance.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Frozen history: does not import the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

NOTE_LENGTH = 1000


def upgrade() -> None:
    for table in ("dag_run", "task_instance"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("note", sa.String(length=NOTE_LENGTH), nullable=True))


def downgrade() -> None:
    for table in ("task_instance", "dag_run"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("note")
