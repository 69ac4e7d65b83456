"""Initial schema: DAGs, runs, task instances, XCom, pools, connections, variables, jobs,
triggers, import errors, the audit log and users.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Frozen history: this file describes the schema as of revision 0001 and does not import
the models (they will move on; this must not).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(250)
UTC_DATETIME = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
UUID_STRING = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")

TABLES = (
    "connection", "dag", "dag_run", "import_error", "job", "log", "slot_pool", "trigger",
    "user", "variable", "dag_tag", "serialized_dag", "task_instance", "xcom",
    "task_instance_history",
)  # fmt: skip


def upgrade() -> None:
    _create_configuration_tables()
    _create_dag_tables()
    _create_component_tables()
    _create_run_tables()
    slot_pool = sa.table(
        "slot_pool",
        sa.column("pool", sa.String),
        sa.column("slots", sa.Integer),
        sa.column("description", sa.Text),
        sa.column("include_deferred", sa.Boolean),
    )
    op.bulk_insert(
        slot_pool,
        [
            {
                "pool": "default_pool",
                "slots": 128,
                "description": "Default pool",
                "include_deferred": False,
            }
        ],
    )


def downgrade() -> None:
    # Children first; dropping a table drops its indexes.
    for name in reversed(TABLES):
        op.drop_table(name)


def _create_configuration_tables() -> None:
    op.create_table(
        "connection",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conn_id", ID, nullable=False),
        sa.Column("conn_type", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("host", sa.String(500), nullable=True),
        sa.Column("schema", sa.String(500), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("is_encrypted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_extra_encrypted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection")),
        sa.UniqueConstraint("conn_id", name=op.f("uq_connection_conn_id")),
    )
    op.create_table(
        "variable",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", ID, nullable=False),
        sa.Column("val", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_encrypted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variable")),
        sa.UniqueConstraint("key", name=op.f("uq_variable_key")),
    )
    op.create_table(
        "slot_pool",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pool", sa.String(256), nullable=False),
        sa.Column("slots", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("include_deferred", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_pool")),
        sa.UniqueConstraint("pool", name=op.f("uq_slot_pool_pool")),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("username", name=op.f("uq_user_username")),
    )


def _create_dag_tables() -> None:
    op.create_table(
        "dag",
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("is_paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_stale", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_parsed_time", UTC_DATETIME, nullable=True),
        sa.Column("fileloc", sa.String(2000), nullable=True),
        sa.Column("relative_fileloc", sa.String(2000), nullable=True),
        sa.Column("bundle_name", ID, nullable=True),
        sa.Column("bundle_version", sa.String(200), nullable=True),
        sa.Column("owners", sa.String(2000), nullable=True),
        sa.Column("dag_display_name", sa.String(2000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("timetable_summary", sa.Text(), nullable=True),
        sa.Column("timetable_description", sa.String(1000), nullable=True),
        sa.Column("asset_expression", JSON_DOCUMENT, nullable=True),
        sa.Column("max_active_tasks", sa.Integer(), server_default=sa.text("16"), nullable=False),
        sa.Column("max_active_runs", sa.Integer(), nullable=True),
        sa.Column(
            "max_consecutive_failed_dag_runs",
            sa.Integer(),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column(
            "has_task_concurrency_limits", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("has_import_errors", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("next_dagrun", UTC_DATETIME, nullable=True),
        sa.Column("next_dagrun_data_interval_start", UTC_DATETIME, nullable=True),
        sa.Column("next_dagrun_data_interval_end", UTC_DATETIME, nullable=True),
        sa.Column("next_dagrun_create_after", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_dag")),
    )
    op.create_index(op.f("ix_dag_next_dagrun_create_after"), "dag", ["next_dagrun_create_after"])
    op.create_table(
        "dag_tag",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name=op.f("fk_dag_tag_dag_id_dag"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("name", "dag_id", name=op.f("pk_dag_tag")),
    )
    op.create_index(op.f("ix_dag_tag_dag_id"), "dag_tag", ["dag_id"])
    op.create_table(
        "serialized_dag",
        sa.Column("id", UUID_STRING, nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("data", JSON_DOCUMENT, nullable=False),
        sa.Column("dag_hash", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_updated", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"],
            ["dag.dag_id"],
            name=op.f("fk_serialized_dag_dag_id_dag"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serialized_dag")),
    )
    op.create_index(
        op.f("ix_serialized_dag_dag_id_created_at"), "serialized_dag", ["dag_id", "created_at"]
    )


def _create_component_tables() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", ID, nullable=True),
        sa.Column("state", sa.String(20), nullable=True),
        sa.Column("job_type", sa.String(30), nullable=True),
        sa.Column("start_date", UTC_DATETIME, nullable=True),
        sa.Column("end_date", UTC_DATETIME, nullable=True),
        sa.Column("latest_heartbeat", UTC_DATETIME, nullable=True),
        sa.Column("executor_class", sa.String(500), nullable=True),
        sa.Column("hostname", sa.String(500), nullable=True),
        sa.Column("unixname", sa.String(1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    op.create_index(
        op.f("ix_job_job_type_latest_heartbeat"), "job", ["job_type", "latest_heartbeat"]
    )
    op.create_index(op.f("ix_job_state_latest_heartbeat"), "job", ["state", "latest_heartbeat"])
    op.create_table(
        "trigger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("classpath", sa.String(1000), nullable=False),
        sa.Column("kwargs", sa.Text(), nullable=False),
        sa.Column("created_date", UTC_DATETIME, nullable=False),
        sa.Column("triggerer_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger")),
    )
    op.create_index(op.f("ix_trigger_triggerer_id"), "trigger", ["triggerer_id"])
    op.create_table(
        "import_error",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("timestamp", UTC_DATETIME, nullable=False),
        sa.Column("filename", sa.String(1024), nullable=False),
        sa.Column("bundle_name", ID, nullable=True),
        sa.Column("stacktrace", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_error")),
    )
    op.create_index(op.f("ix_import_error_filename"), "import_error", ["filename"])
    op.create_table(
        "log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dttm", UTC_DATETIME, nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("dag_id", ID, nullable=True),
        sa.Column("task_id", ID, nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("try_number", sa.Integer(), nullable=True),
        sa.Column("logical_date", UTC_DATETIME, nullable=True),
        sa.Column("owner", sa.String(500), nullable=True),
        sa.Column("owner_display_name", sa.String(500), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log")),
    )
    op.create_index(op.f("ix_log_dag_id_run_id_task_id"), "log", ["dag_id", "run_id", "task_id"])
    op.create_index(op.f("ix_log_dttm"), "log", ["dttm"])
    op.create_index(op.f("ix_log_event"), "log", ["event"])


def _create_run_tables() -> None:
    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("state", sa.String(50), server_default="queued", nullable=False),
        sa.Column("run_type", sa.String(50), nullable=False),
        sa.Column("triggered_by", sa.String(50), nullable=True),
        sa.Column("triggering_user_name", sa.String(512), nullable=True),
        sa.Column("logical_date", UTC_DATETIME, nullable=True),
        sa.Column("data_interval_start", UTC_DATETIME, nullable=True),
        sa.Column("data_interval_end", UTC_DATETIME, nullable=True),
        sa.Column("run_after", UTC_DATETIME, nullable=False),
        sa.Column("queued_at", UTC_DATETIME, nullable=True),
        sa.Column("start_date", UTC_DATETIME, nullable=True),
        sa.Column("end_date", UTC_DATETIME, nullable=True),
        sa.Column("conf", JSON_DOCUMENT, nullable=True),
        sa.Column("creating_job_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_by_job_id", sa.Integer(), nullable=True),
        sa.Column("last_scheduling_decision", UTC_DATETIME, nullable=True),
        sa.Column("clear_number", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("bundle_version", ID, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dag_run")),
        sa.UniqueConstraint("dag_id", "logical_date", name=op.f("uq_dag_run_dag_id_logical_date")),
        sa.UniqueConstraint("dag_id", "run_id", name=op.f("uq_dag_run_dag_id_run_id")),
    )
    op.create_index(op.f("ix_dag_run_dag_id_state"), "dag_run", ["dag_id", "state"])
    op.create_index(op.f("ix_dag_run_run_after"), "dag_run", ["run_after"])
    op.create_index(op.f("ix_dag_run_state"), "dag_run", ["state"])

    op.create_table(
        "task_instance",
        sa.Column("id", UUID_STRING, nullable=False),
        *_task_instance_columns(),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            name=op.f("fk_task_instance_dag_id_run_id_dag_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["trigger.id"],
            name=op.f("fk_task_instance_trigger_id_trigger"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instance")),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            name=op.f("uq_task_instance_dag_id_run_id_task_id_map_index"),
        ),
    )
    op.create_index(
        op.f("ix_task_instance_dag_id_run_id_state"), "task_instance", ["dag_id", "run_id", "state"]
    )
    op.create_index(op.f("ix_task_instance_dag_id_state"), "task_instance", ["dag_id", "state"])
    op.create_index(
        op.f("ix_task_instance_last_heartbeat_at"), "task_instance", ["last_heartbeat_at"]
    )
    op.create_index(
        op.f("ix_task_instance_pool_state_priority_weight"),
        "task_instance",
        ["pool", "state", "priority_weight"],
    )
    op.create_index(op.f("ix_task_instance_state"), "task_instance", ["state"])
    op.create_index(op.f("ix_task_instance_trigger_id"), "task_instance", ["trigger_id"])

    op.create_table(
        "task_instance_history",
        sa.Column("task_instance_id", UUID_STRING, nullable=False),
        *_task_instance_columns(),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id", "task_id", "map_index"],
            [
                "task_instance.dag_id",
                "task_instance.run_id",
                "task_instance.task_id",
                "task_instance.map_index",
            ],
            name=op.f("fk_task_instance_history_task_instance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_instance_id", name=op.f("pk_task_instance_history")),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            "try_number",
            name=op.f("uq_task_instance_history_try"),
        ),
    )
    op.create_index(
        op.f("ix_task_instance_history_dag_id_run_id"),
        "task_instance_history",
        ["dag_id", "run_id"],
    )

    op.create_table(
        "xcom",
        sa.Column("dag_run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), server_default=sa.text("-1"), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("value", JSON_DOCUMENT, nullable=True),
        sa.Column("timestamp", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_run_id"],
            ["dag_run.id"],
            name=op.f("fk_xcom_dag_run_id_dag_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dag_run_id", "task_id", "map_index", "key", name=op.f("pk_xcom")),
    )
    op.create_index(
        op.f("ix_xcom_dag_id_run_id_task_id_map_index"),
        "xcom",
        ["dag_id", "run_id", "task_id", "map_index"],
    )
    op.create_index(op.f("ix_xcom_key"), "xcom", ["key"])


def _task_instance_columns() -> list[sa.Column[object]]:
    """The columns task_instance and task_instance_history share (after their keys)."""
    return [
        sa.Column("dag_id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("map_index", sa.Integer(), server_default=sa.text("-1"), nullable=False),
        sa.Column("state", sa.String(20), nullable=True),
        sa.Column("try_number", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_tries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("start_date", UTC_DATETIME, nullable=True),
        sa.Column("end_date", UTC_DATETIME, nullable=True),
        sa.Column("queued_dttm", UTC_DATETIME, nullable=True),
        sa.Column("scheduled_dttm", UTC_DATETIME, nullable=True),
        sa.Column("last_heartbeat_at", UTC_DATETIME, nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("hostname", sa.String(1000), nullable=True),
        sa.Column("unixname", sa.String(1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pool", sa.String(256), nullable=False),
        sa.Column("pool_slots", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("queue", sa.String(256), nullable=True),
        sa.Column("priority_weight", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("operator", sa.String(1000), nullable=True),
        sa.Column("custom_operator_name", sa.String(1000), nullable=True),
        sa.Column("task_display_name", sa.String(2000), nullable=True),
        sa.Column("executor", sa.String(1000), nullable=True),
        sa.Column("executor_config", JSON_DOCUMENT, nullable=True),
        sa.Column("external_executor_id", ID, nullable=True),
        sa.Column("queued_by_job_id", sa.Integer(), nullable=True),
        sa.Column("rendered_map_index", sa.String(250), nullable=True),
        sa.Column("rendered_fields", JSON_DOCUMENT, nullable=True),
        sa.Column("trigger_id", sa.Integer(), nullable=True),
        sa.Column("trigger_timeout", UTC_DATETIME, nullable=True),
        sa.Column("next_method", sa.String(1000), nullable=True),
        sa.Column("next_kwargs", JSON_DOCUMENT, nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=True),
    ]
