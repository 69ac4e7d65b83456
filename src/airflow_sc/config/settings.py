"""The settings tree: one frozen dataclass per section.

Every field is typed; `airflow_sc.config.loading` coerces TOML and environment values
to these types and rejects anything else at start-up. A field whose default depends on
`core.home` defaults to `None` here and is filled in by the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

Backend = Literal["asyncio", "trio"]
DatabaseAdapter = Literal["auto", "native", "thread"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@dataclass(frozen=True, slots=True)
class CoreSettings:
    """Where airflow-sc keeps its files and how much work it runs at once."""

    home: Path = Path("~/airflow-sc")
    #: Folder scanned for DAG files. Default: `<home>/dags`.
    dags_folder: Path | None = None
    #: Load the example DAGs shipped with airflow-sc.
    load_examples: bool = False
    #: Task instances running at once across the whole deployment.
    parallelism: int = 8
    #: Seconds running work gets to finish after the first SIGTERM/SIGINT.
    shutdown_grace: float = 30.0
    #: Timezone of naive datetimes in DAG files.
    default_timezone: str = "UTC"
    #: Fernet key(s) encrypting stored connections and variables, newest first, comma
    #: separated (rotation). Default: generated once into `<home>/fernet.key`.
    fernet_key: str | None = None


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """The metadata database. One URL; the async driver is inferred from it."""

    #: `sqlite:///path` or `postgresql://user:pass@host/db`. Default: `<home>/airflow-sc.db`.
    url: str | None = None
    #: Connections held open per process.
    pool_size: int = 5
    #: Seconds a single statement may run (PostgreSQL `statement_timeout`, SQLite busy timeout).
    statement_timeout: float = 30.0
    #: `auto` picks asyncpg on asyncio + PostgreSQL and worker threads otherwise.
    adapter: DatabaseAdapter = "auto"


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """The HTTP server (REST API, execution API, UI)."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: Seconds in-flight requests get to complete when the server stops.
    drain_timeout: float = 10.0
    #: Key that signs API access tokens (JWT). Default: generated once and kept in
    #: `<home>/api_signing.key` (mode 0600). Every API server of a deployment needs the same.
    secret_key: str | None = None
    #: Seconds an access token from `POST /auth/token` stays valid.
    access_token_expiry: float = 86400.0


@dataclass(frozen=True, slots=True)
class DagProcessorSettings:
    """Parsing DAG files (always in child processes, never in the scheduler)."""

    #: Files parsed at once, each in its own forked child.
    parsing_processes: int = 2
    #: Seconds one file may take to import before it is killed (Airflow's dagbag_import_timeout).
    file_parse_timeout: float = 30.0
    #: Address-space cap of a parsing child, in MiB (0: none).
    max_memory_mb: int = 2048
    #: Seconds between full rescans of the dags folder (changes are also watched live).
    refresh_interval: float = 300.0
    #: New DAGs start paused unless the DAG says otherwise (Airflow's default).
    dags_are_paused_at_creation: bool = True


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Liveness of scheduler-side components, and the scheduler's safety-net timer."""

    #: Seconds between heartbeats a component writes to the job table.
    heartbeat_interval: float = 5.0
    #: A component (or task) silent for this many seconds is presumed dead.
    heartbeat_timeout: float = 60.0
    #: Seconds between safety-net passes of each scheduler stage. Stages wake each other
    #: as soon as there is work; this only bounds how late a missed wake-up is noticed.
    sweep_interval: float = 10.0
    #: Seconds a task instance may stay queued without starting before it is requeued
    #: (at most twice per try; then it fails). Airflow's `task_queued_timeout`.
    task_queued_timeout: float = 600.0


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    """Where task instances run."""

    #: Executor used when a task names none: `local` or `inprocess`.
    default: Literal["local", "inprocess"] = "local"
    #: Run `async def` tasks on the in-process executor unless they name another.
    inprocess_enabled: bool = True
    #: `async def` tries the in-process executor runs at once.
    inprocess_capacity: int = 10000
    #: Seconds an async task may hold the event loop before it is reported as blocking.
    blocking_threshold: float = 0.1
    #: Seconds a terminated (or timed-out) task gets after SIGTERM before SIGKILL.
    terminate_grace: float = 10.0
    #: Seconds a worker's execution-API token stays valid (heartbeats renew it).
    task_token_lifetime: float = 600.0
    #: URL task processes use to reach the execution API. Default:
    #: `http://<api.host>:<api.port>/execution`.
    execution_api_url: str | None = None


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: LogLevel = "INFO"
    #: Folder holding task logs. Default: `<home>/logs`.
    base_log_folder: Path | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    core: CoreSettings = field(default_factory=CoreSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    dag_processor: DagProcessorSettings = field(default_factory=DagProcessorSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    @property
    def dags_folder(self) -> Path:
        return self.core.dags_folder or self.core.home / "dags"

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.core.home / 'airflow-sc.db'}"

    @property
    def base_log_folder(self) -> Path:
        return self.logging.base_log_folder or self.core.home / "logs"

    def items(self) -> list[tuple[str, object]]:
        """Every setting as (`section.key`, value), with path defaults resolved."""
        resolved = {
            "core.dags_folder": self.dags_folder,
            "database.url": self.database_url,
            "logging.base_log_folder": self.base_log_folder,
        }
        out: list[tuple[str, object]] = []
        for section in fields(self):
            values = getattr(self, section.name)
            for f in fields(values):
                key = f"{section.name}.{f.name}"
                out.append((key, resolved.get(key, getattr(values, f.name))))
        return out
