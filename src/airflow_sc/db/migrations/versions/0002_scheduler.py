"""Scheduler: the DAG version a run was created with, and DAG callback requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Frozen history: does not import the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
UUID_STRING = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("dag_run") as batch:
        batch.add_column(sa.Column("created_dag_version_id", UUID_STRING, nullable=True))
    op.create_table(
        "callback_request",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("priority_weight", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("callback_type", sa.String(length=20), nullable=False),
        sa.Column("callback_data", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_request")),
    )


def downgrade() -> None:
    op.drop_table("callback_request")
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_column("created_dag_version_id")
