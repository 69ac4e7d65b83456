"""The metadata schema: SQLAlchemy Core tables on one `metadata`.

Table and column names follow Apache Airflow 3 so that people who know Airflow's database
recognise them (`dag_run.run_after`, `task_instance.queued_dttm`, `slot_pool`, ...).
Differences are deliberate and noted where they occur.

Alembic migrations under `airflow_sc.db.migrations` create exactly this schema; a test
compares the two on both dialects, so a change here needs a new migration.

Datetimes are `UtcDateTime` (aware in, aware UTC out). On SQLite, `ON DELETE CASCADE`
only acts when the connection runs `PRAGMA foreign_keys=ON`.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.schema import SchemaItem

from airflow_sc.db.types import JSON_DOCUMENT, UUID_STRING, UtcDateTime

__all__ = [
    "DEFAULT_POOL_NAME",
    "DEFAULT_POOL_SLOTS",
    "ID_LENGTH",
    "NAMING_CONVENTION",
    "NOTE_LENGTH",
    "callback_request",
    "connection",
    "dag",
    "dag_run",
    "dag_tag",
    "import_error",
    "job",
    "log",
    "metadata",
    "serialized_dag",
    "slot_pool",
    "task_instance",
    "task_instance_history",
    "trigger",
    "user",
    "variable",
    "xcom",
]

#: Length of dag_id, task_id, run_id and the like (Airflow's `StringID`).
ID_LENGTH: Final = 250
DEFAULT_POOL_NAME: Final = "default_pool"
DEFAULT_POOL_SLOTS: Final = 128
#: Longest note on a DAG run or task instance (Airflow's limit).
NOTE_LENGTH: Final = 1000

#: Every constraint and index gets a predictable name, so migrations can drop or alter
#: it on both dialects (SQLite batch mode needs names to find constraints again).
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=dict(NAMING_CONVENTION))


def _id(name: str, *args: SchemaItem, **kwargs: Any) -> Column[str]:
    """A dag_id / task_id / run_id style column."""
    return Column(name, String(ID_LENGTH), *args, **kwargs)


# -- DAGs ------------------------------------------------------------------------------

dag = Table(
    "dag",
    metadata,
    _id("dag_id", primary_key=True),
    Column("is_paused", Boolean, nullable=False, server_default=false()),
    # Airflow 3's name: the DAG's file no longer defines it (it is not deleted, so its
    # history stays browsable).
    Column("is_stale", Boolean, nullable=False, server_default=false()),
    Column("last_parsed_time", UtcDateTime),
    Column("fileloc", String(2000)),
    Column("relative_fileloc", String(2000)),
    Column("bundle_name", String(ID_LENGTH)),
    Column("bundle_version", String(200)),
    Column("owners", String(2000)),
    Column("dag_display_name", String(2000)),
    Column("description", Text),
    Column("timetable_summary", Text),
    Column("timetable_description", String(1000)),
    Column("asset_expression", JSON_DOCUMENT),
    Column("max_active_tasks", Integer, nullable=False, server_default=text("16")),
    Column("max_active_runs", Integer),
    Column("max_consecutive_failed_dag_runs", Integer, nullable=False, server_default=text("0")),
    Column("has_task_concurrency_limits", Boolean, nullable=False, server_default=false()),
    Column("has_import_errors", Boolean, nullable=False, server_default=false()),
    # The next run the timetable will create, and when it may be created.
    Column("next_dagrun", UtcDateTime),
    Column("next_dagrun_data_interval_start", UtcDateTime),
    Column("next_dagrun_data_interval_end", UtcDateTime),
    Column("next_dagrun_create_after", UtcDateTime),
    Index(None, "next_dagrun_create_after"),
)

dag_tag = Table(
    "dag_tag",
    metadata,
    Column("name", String(100), nullable=False),
    _id("dag_id", ForeignKey("dag.dag_id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("name", "dag_id"),
    Index(None, "dag_id"),
)

# Airflow 3 keeps one row per DAG version; so do we (newest by created_at).
serialized_dag = Table(
    "serialized_dag",
    metadata,
    Column("id", UUID_STRING, primary_key=True),
    _id("dag_id", ForeignKey("dag.dag_id", ondelete="CASCADE"), nullable=False),
    Column("data", JSON_DOCUMENT, nullable=False),
    # Hash of the serialized DAG: an unchanged file does not create a new version.
    Column("dag_hash", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_updated", UtcDateTime, nullable=False),
    Index(None, "dag_id", "created_at"),
)

# -- runs and task instances -----------------------------------------------------------

dag_run = Table(
    "dag_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _id("dag_id", nullable=False),
    _id("run_id", nullable=False),
    Column("state", String(50), nullable=False, server_default="queued"),
    # manual | scheduled | backfill | asset_triggered
    Column("run_type", String(50), nullable=False),
    Column("triggered_by", String(50)),
    Column("triggering_user_name", String(512)),
    # NULL for manual runs without one (Airflow 3).
    Column("logical_date", UtcDateTime),
    Column("data_interval_start", UtcDateTime),
    Column("data_interval_end", UtcDateTime),
    # Earliest time the run may start.
    Column("run_after", UtcDateTime, nullable=False),
    Column("queued_at", UtcDateTime),
    Column("start_date", UtcDateTime),
    Column("end_date", UtcDateTime),
    Column("conf", JSON_DOCUMENT),
    Column("creating_job_id", Integer),
    Column("scheduled_by_job_id", Integer),
    # When a scheduler last decided on this run's task instances.
    Column("last_scheduling_decision", UtcDateTime),
    Column("clear_number", Integer, nullable=False, server_default=text("0")),
    Column("bundle_version", String(ID_LENGTH)),
    Column("updated_at", UtcDateTime),
    # The serialized_dag version the run was created with: a run keeps using the DAG
    # version it started with (Airflow 3's `created_dag_version_id`). No foreign key: a
    # version row outlives nothing it would cascade to.
    Column("created_dag_version_id", UUID_STRING),
    # The operator's note on the run (Airflow keeps it in a `dag_run_note` table).
    Column("note", String(NOTE_LENGTH)),
    UniqueConstraint("dag_id", "run_id"),
    UniqueConstraint("dag_id", "logical_date"),
    Index(None, "state"),
    Index(None, "dag_id", "state"),
    Index(None, "run_after"),
)

_TI_TIMESTAMPS = ("start_date", "end_date", "queued_dttm", "scheduled_dttm", "last_heartbeat_at")


def _task_instance_columns() -> list[Column[Any]]:
    """Columns task_instance and task_instance_history share (each table gets fresh copies).

    Recording a finished try is then one INSERT ... SELECT over the same column names.
    """
    columns: list[Column[Any]] = [
        _id("dag_id", nullable=False),
        _id("run_id", nullable=False),
        _id("task_id", nullable=False),
        # -1 for an unmapped task (or one not expanded yet).
        Column("map_index", Integer, nullable=False, server_default=text("-1")),
        Column("state", String(20)),
        Column("try_number", Integer, nullable=False, server_default=text("0")),
        Column("max_tries", Integer, nullable=False, server_default=text("0")),
        *(Column(name, UtcDateTime) for name in _TI_TIMESTAMPS),
        Column("duration", Float),
        Column("hostname", String(1000)),
        Column("unixname", String(1000)),
        Column("pid", Integer),
        Column("pool", String(256), nullable=False),
        Column("pool_slots", Integer, nullable=False, server_default=text("1")),
        Column("queue", String(256)),
        Column("priority_weight", Integer, nullable=False, server_default=text("1")),
        Column("operator", String(1000)),
        Column("custom_operator_name", String(1000)),
        Column("task_display_name", String(2000)),
        Column("executor", String(1000)),
        Column("executor_config", JSON_DOCUMENT),
        Column("external_executor_id", String(ID_LENGTH)),
        Column("queued_by_job_id", Integer),
        Column("rendered_map_index", String(250)),
        # Template fields after rendering, as shown in the UI.
        Column("rendered_fields", JSON_DOCUMENT),
        # Deferral: the trigger to resume on, its deadline, and what to call next.
        Column("trigger_id", Integer),
        Column("trigger_timeout", UtcDateTime),
        Column("next_method", String(1000)),
        Column("next_kwargs", JSON_DOCUMENT),
        # Seconds before the next try, as the failed try's retry policy chose (NULL: the
        # task's retry_delay rule). Written by the try's finish, cleared when a try starts.
        Column("next_retry_delay", Float),
        Column("updated_at", UtcDateTime),
    ]
    return columns


task_instance = Table(
    "task_instance",
    metadata,
    # A new uuid per try (Airflow 3): the id names one attempt, which is what a worker's
    # execution-API token is scoped to.
    Column("id", UUID_STRING, primary_key=True),
    *_task_instance_columns(),
    # The operator's note (Airflow's `task_instance_note`); it belongs to the task
    # instance, not to one try, so task_instance_history has none.
    Column("note", String(NOTE_LENGTH)),
    UniqueConstraint("dag_id", "run_id", "task_id", "map_index"),
    ForeignKeyConstraint(
        ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
    ),
    # Airflow cascades here; losing task history because a trigger row was cleaned up
    # is worse than a dangling NULL, so the reference is cleared instead.
    ForeignKeyConstraint(["trigger_id"], ["trigger.id"], ondelete="SET NULL"),
    Index(None, "state"),
    Index(None, "dag_id", "state"),
    Index(None, "dag_id", "run_id", "state"),
    Index(None, "pool", "state", "priority_weight"),
    Index(None, "trigger_id"),
    Index(None, "last_heartbeat_at"),
)

# One row per finished try; task_instance holds the current try.
task_instance_history = Table(
    "task_instance_history",
    metadata,
    Column("task_instance_id", UUID_STRING, primary_key=True),
    *_task_instance_columns(),
    UniqueConstraint(
        "dag_id",
        "run_id",
        "task_id",
        "map_index",
        "try_number",
        # The convention's name would pass PostgreSQL's 63-character limit.
        name="uq_task_instance_history_try",
    ),
    ForeignKeyConstraint(
        ["dag_id", "run_id", "task_id", "map_index"],
        [
            "task_instance.dag_id",
            "task_instance.run_id",
            "task_instance.task_id",
            "task_instance.map_index",
        ],
        ondelete="CASCADE",
        name="fk_task_instance_history_task_instance",
    ),
    Index(None, "dag_id", "run_id"),
)

xcom = Table(
    "xcom",
    metadata,
    Column("dag_run_id", Integer, ForeignKey("dag_run.id", ondelete="CASCADE"), nullable=False),
    _id("task_id", nullable=False),
    Column("map_index", Integer, nullable=False, server_default=text("-1")),
    Column("key", String(512), nullable=False),
    _id("dag_id", nullable=False),
    _id("run_id", nullable=False),
    Column("value", JSON_DOCUMENT),
    Column("timestamp", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("dag_run_id", "task_id", "map_index", "key"),
    Index(None, "dag_id", "run_id", "task_id", "map_index"),
    Index(None, "key"),
)

# -- configuration held in the database ------------------------------------------------

variable = Table(
    "variable",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(ID_LENGTH), nullable=False, unique=True),
    Column("val", Text),
    Column("description", Text),
    Column("is_encrypted", Boolean, nullable=False, server_default=false()),
)

connection = Table(
    "connection",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conn_id", String(ID_LENGTH), nullable=False, unique=True),
    Column("conn_type", String(500), nullable=False),
    Column("description", Text),
    Column("host", String(500)),
    Column("schema", String(500)),
    Column("login", Text),
    Column("password", Text),
    Column("port", Integer),
    Column("extra", Text),
    Column("is_encrypted", Boolean, nullable=False, server_default=false()),
    Column("is_extra_encrypted", Boolean, nullable=False, server_default=false()),
)

slot_pool = Table(
    "slot_pool",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pool", String(256), nullable=False, unique=True),
    Column("slots", Integer, nullable=False, server_default=text("0")),
    Column("description", Text),
    # Whether deferred task instances occupy slots.
    Column("include_deferred", Boolean, nullable=False, server_default=false()),
)

# -- components and their work ---------------------------------------------------------

# DAG-level callbacks (on_success_callback / on_failure_callback) the scheduler asks to run
# outside its own process; the DAG processor (which loads DAG files) consumes them.
callback_request = Table(
    "callback_request",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("priority_weight", Integer, nullable=False, server_default=text("1")),
    # dag_success | dag_failure
    Column("callback_type", String(20), nullable=False),
    Column("callback_data", JSON_DOCUMENT, nullable=False),
)

# One row per running component (scheduler, triggerer, dag_processor, api_server, ...).
job = Table(
    "job",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _id("dag_id"),
    Column("state", String(20)),
    Column("job_type", String(30)),
    Column("start_date", UtcDateTime),
    Column("end_date", UtcDateTime),
    Column("latest_heartbeat", UtcDateTime),
    Column("executor_class", String(500)),
    Column("hostname", String(500)),
    Column("unixname", String(1000)),
    Index(None, "job_type", "latest_heartbeat"),
    Index(None, "state", "latest_heartbeat"),
)

trigger = Table(
    "trigger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("classpath", String(1000), nullable=False),
    # Serialized keyword arguments; the secrets layer may store them encrypted.
    Column("kwargs", Text, nullable=False),
    Column("created_date", UtcDateTime, nullable=False),
    # The triggerer job running it; NULL while unassigned.
    Column("triggerer_id", Integer),
    Column("queue", String(256)),
    Index(None, "triggerer_id"),
)

import_error = Table(
    "import_error",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("filename", String(1024), nullable=False),
    Column("bundle_name", String(ID_LENGTH)),
    Column("stacktrace", Text),
    Index(None, "filename"),
)

# Audit log of user and system actions (Airflow's `log` table).
log = Table(
    "log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dttm", UtcDateTime, nullable=False),
    Column("event", String(60), nullable=False),
    _id("dag_id"),
    _id("task_id"),
    _id("run_id"),
    Column("map_index", Integer),
    Column("try_number", Integer),
    Column("logical_date", UtcDateTime),
    Column("owner", String(500)),
    Column("owner_display_name", String(500)),
    Column("extra", Text),
    Index(None, "dttm"),
    Index(None, "event"),
    Index(None, "dag_id", "run_id", "task_id"),
)

# API and UI users. `user` is a reserved word in PostgreSQL: raw SQL must quote it.
user = Table(
    "user",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(256), nullable=False, unique=True),
    Column("password_hash", String(512), nullable=False),
    # admin | op | viewer
    Column("role", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
