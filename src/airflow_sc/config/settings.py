"""The settings tree: one frozen dataclass per section.

Every field is typed; `airflow_sc.config.loading` coerces TOML and environment values
to these types and rejects anything else at start-up. A field whose default depends on
`core.home` defaults to `None` here and is filled in by the loader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from airflow_sc.config.errors import ConfigError
from airflow_sc.domain.run_ids import DEFAULT_ALLOWED_RUN_ID_PATTERN

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
    #: Serve `import airflow...` in DAG files, plugins and tasks with airflow-sc's
    #: implementations (never when apache-airflow itself is installed).
    airflow_compat: bool = True
    #: Folder of Airflow-style plugins (timetables, macros, listeners). Default:
    #: `<home>/plugins`.
    plugins_folder: Path | None = None
    #: Fernet key(s) encrypting stored connections and variables, newest first, comma
    #: separated (rotation). Default: generated once into `<home>/fernet.key`.
    fernet_key: str | None = None
    #: Airflow's: the OS user tasks without `run_as_user` run as ("": no such default).
    #: Switching users needs the server to run as root (docs/security.md).
    default_impersonation: str = ""
    #: The OS user tasks run as when the server runs as root and neither `run_as_user`
    #: nor `default_impersonation` names one; created as a system user (no home, no login
    #: shell) at start-up when missing. "": such tasks run as root.
    root_impersonation: str = "airflow-sc-task"


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
    #: Largest request body the REST API and the execution API read, in bytes; larger ones
    #: get 413 before they are read (by Content-Length) or as soon as they pass it (a
    #: streamed body).
    max_request_body_size: int = 10 * 1024 * 1024
    #: Deepest nesting of objects and arrays a REST API request body, or a task's call of
    #: the execution API (over HTTP or the local pipe), may have (400 beyond).
    max_request_json_depth: int = 64
    #: REST API and UI requests worked on at once; more wait their turn in arrival order
    #: (`api.admission`), so that the scheduler in the same process keeps its share of the
    #: event loop and of the database connections. The execution API is not counted.
    max_concurrent_requests: int = 4
    #: Under `airflow-sc run`, `GET /dags` and `GET /dags/{dag_id}/dagRuns` answers are
    #: kept until a change may alter them (`api.list_cache`), and this many seconds at
    #: most (for writes of other processes that announce nothing). 0 turns the cache off.
    list_cache_max_age: float = 2.0
    #: Under `airflow-sc run`, serve the API in a child process of its own (true), so that
    #: its HTTP work runs beside the scheduler's on another core instead of in the same
    #: event loop; false keeps it in the one process. The command stays one, started and
    #: drained as one (`cli._api_process`).
    separate_process: bool = True


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
    #: A run id a user gives must match this regular expression (anchored at the start,
    #: as Airflow's `re.match`) or look like an id Airflow generates; at most 250 characters.
    allowed_run_id_pattern: str = DEFAULT_ALLOWED_RUN_ID_PATTERN


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
    #: How local executor task processes reach the execution API: `pipe` (relayed by
    #: their worker to the executor, which runs the same operations without HTTP) or
    #: `http` (through the API server, like a remote worker).
    local_channel: Literal["pipe", "http"] = "pipe"


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: LogLevel = "INFO"
    #: Folder holding task logs. Default: `<home>/logs`.
    base_log_folder: Path | None = None


#: Where the secrets chain looks, in `secrets.order`.
SECRETS_SOURCES = ("environment", "local_file", "metastore", "remote")


@dataclass(frozen=True, slots=True)
class SecretsSectionSettings:
    """The `[secrets]` section: how connections and variables are looked up and masked.

    `airflow_sc.secrets.SecretsSettings.from_section` turns it into the chain's settings.
    """

    #: Comma-separated sources, asked in this order: environment, local_file, metastore,
    #: remote (the `backend` below). Leave one out to skip it.
    order: str = ",".join(SECRETS_SOURCES)
    #: Local file of variables (`.json`, `.yaml`/`.yml` or `.env`), as Airflow's
    #: LocalFilesystemBackend `variables_file_path`.
    variables_file: Path | None = None
    #: Local file of connections (`.json`, `.yaml`/`.yml` or `.env`).
    connections_file: Path | None = None
    #: A remote backend: `module.ClassName` of a `SecretsBackend` subclass, e.g.
    #: `airflow_sc.secrets.aws.SecretsManagerBackend` (Airflow's `[secrets] backend`).
    backend: str | None = None
    #: Keyword arguments of `backend`, a JSON object (Airflow's `[secrets] backend_kwargs`).
    backend_kwargs: str = "{}"
    #: Seconds a found connection or variable is served from memory before it is asked again.
    cache_ttl: float = 60.0
    #: Seconds a "not found" is remembered.
    negative_cache_ttl: float = 10.0
    #: "Not found" answers remembered at most (least recently used dropped first).
    max_negative_entries: int = 1024
    #: Comma-separated extra words that make a variable or extra key sensitive (masked),
    #: added to the built-in ones (password, secret, token, api_key, private_key, ...).
    #: Airflow's `[core] sensitive_var_conn_names`.
    sensitive_var_conn_names: str = ""
    #: Secrets shorter than this many characters are not masked inside other text.
    min_mask_length: int = 5

    def __post_init__(self) -> None:
        def fail(key: str, value: object, expected: str) -> ConfigError:
            return ConfigError(f"invalid value for secrets.{key}: {value!r}; expected {expected}")

        sources = [part.strip() for part in self.order.split(",") if part.strip()]
        unknown = [part for part in sources if part not in SECRETS_SOURCES]
        if unknown or len(set(sources)) != len(sources):
            raise fail("order", self.order, "distinct names among " + ", ".join(SECRETS_SOURCES))
        if self.backend is not None and "." not in self.backend.strip(". "):
            raise fail("backend", self.backend, "a class path, module.ClassName")
        try:
            kwargs = json.loads(self.backend_kwargs)
        except ValueError:
            kwargs = None
        if not isinstance(kwargs, dict):
            raise fail("backend_kwargs", "<hidden>", "a JSON object")
        for key, seconds in (
            ("cache_ttl", self.cache_ttl),
            ("negative_cache_ttl", self.negative_cache_ttl),
        ):
            if seconds < 0:
                raise fail(key, seconds, "seconds >= 0 (0: no caching)")
        if self.max_negative_entries < 0:
            raise fail("max_negative_entries", self.max_negative_entries, "an integer >= 0")
        if self.min_mask_length < 1:
            raise fail("min_mask_length", self.min_mask_length, "an integer >= 1")


@dataclass(frozen=True, slots=True)
class Settings:
    core: CoreSettings = field(default_factory=CoreSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    dag_processor: DagProcessorSettings = field(default_factory=DagProcessorSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    secrets: SecretsSectionSettings = field(default_factory=SecretsSectionSettings)

    @property
    def dags_folder(self) -> Path:
        return self.core.dags_folder or self.core.home / "dags"

    @property
    def plugins_folder(self) -> Path:
        return self.core.plugins_folder or self.core.home / "plugins"

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
            "core.plugins_folder": self.plugins_folder,
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
