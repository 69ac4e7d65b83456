"""`serve_dag_processor`: keeps serialized DAGs in step with the DAG files on disk.

It reports ready once it can parse (its parsing processes are up and the folders are
watched); the first full parse of every DAG file (in forked children, `parser_pool.py`)
then runs behind it, so the API serves meanwhile. After that it re-parses a file when it
changes (watchfiles) and rescans the folders every `dag_processor.refresh_interval` as a
safety net. Results are written one transaction per
file. It also runs the DAG-level callbacks the scheduler asks for (`callbacks.py`), in
the same kind of children. The processor never imports user code itself and never stops
because of a file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
from anyio.abc import TaskStatus
from watchfiles import Change, awatch

from airflow_sc.config import Settings
from airflow_sc.dag_processing.callbacks import DagCallbacks, serve_dag_callbacks
from airflow_sc.dag_processing.files import scan_folder
from airflow_sc.dag_processing.parser_pool import ParseResult, ParserPool, open_parser_pool
from airflow_sc.db import Database, Transaction
from airflow_sc.db.queries import dag_files
from airflow_sc.executors.routing import ExecutorRouting
from airflow_sc.heartbeats import open_job
from airflow_sc.impersonation import Impersonation
from airflow_sc.impersonation.accounts import ensure_root_user
from airflow_sc.sdk.timetables import DataInterval
from airflow_sc.serialization import DagSpec, SerializationError
from airflow_sc.serialization.schedule import next_dagrun_info

log = logging.getLogger(__name__)

EXAMPLE_DAGS_FOLDER = Path(__file__).resolve().parent.parent / "example_dags"
JOB_TYPE = "DagProcessorJob"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ParseStats:
    files: int
    dags: int
    errors: int
    seconds: float


@dataclass
class DagProcessorHandle:
    """What `serve_dag_processor` hands its parent: the first full parse, running behind."""

    parsed: anyio.Event = field(default_factory=anyio.Event)
    stats: ParseStats | None = None

    async def wait_parsed(self) -> ParseStats:
        """The statistics of the first full parse, once it has finished."""
        await self.parsed.wait()
        assert self.stats is not None
        return self.stats


@dataclass
class DagProcessor:
    """Parses files and stores the results; the service below drives it."""

    db: Database
    pool: ParserPool
    folders: Sequence[Path]
    paused_by_default: bool
    clock: Callable[[], datetime] = utcnow
    #: Files seen on disk, with the modification time they were parsed at.
    mtimes: dict[str, float] = field(default_factory=dict)
    #: Called after each file's results are written.
    on_stored: Callable[[], None] = lambda: None
    #: The executors of the deployment: a DAG naming another is refused with an import
    #: error (None: any name is accepted).
    routing: ExecutorRouting | None = None
    #: One refresh at a time (the watcher and the periodic rescan may both ask for one).
    _refreshing: anyio.Lock = field(default_factory=anyio.Lock)

    def folder_of(self, path: str) -> str | None:
        for folder in self.folders:
            if Path(path).is_relative_to(folder):
                return str(folder)
        return None

    async def scan(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for folder in self.folders:
            found.update(await anyio.to_thread.run_sync(scan_folder, folder))
        return found

    async def refresh(self) -> ParseStats:
        """Parse new and changed files; forget deleted ones (also those deleted while down)."""
        async with self._refreshing:
            return await self._refresh()

    async def _refresh(self) -> ParseStats:
        started = time.perf_counter()
        on_disk = await self.scan()
        known = await self.db.run(lambda tx: dag_files.known_files(tx), write=False)
        gone = (known | set(self.mtimes)) - set(on_disk)
        for path in sorted(gone):
            await self.forget(path)
        changed = [p for p, mtime in on_disk.items() if self.mtimes.get(p) != mtime]
        results: list[ParseResult] = []
        async with anyio.create_task_group() as tg:
            for path in changed:
                tg.start_soon(self._parse_into, path, on_disk[path], results)
        return ParseStats(
            files=len(changed),
            dags=sum(len(r.dags) for r in results),
            errors=sum(len(r.errors) for r in results),
            seconds=time.perf_counter() - started,
        )

    async def _parse_into(self, path: str, mtime: float, results: list[ParseResult]) -> None:
        results.append(await self.parse(path))
        self.mtimes[path] = mtime

    async def parse(self, path: str) -> ParseResult:
        result = await self.pool.parse(path, self.folder_of(path))
        await self.store(result)
        return result

    async def store(self, result: ParseResult) -> None:
        records: list[dag_files.DagRecord] = []
        specs: dict[str, DagSpec] = {}
        errors = [(e.filename, e.stacktrace) for e in result.errors]
        for data in result.dags:
            try:
                spec = DagSpec.from_dict(data)
            except SerializationError as exc:
                errors.append((result.path, str(exc)))
                continue
            if self.routing is not None:
                named = [(t.task_id, t.executor) for t in spec.tasks.values()]
                refused = self.routing.unknown_executors(spec.dag_id, named)
                if refused:
                    errors.extend((result.path, message) for message in refused)
                    continue
            specs[spec.dag_id] = spec
            records.append(_record(spec, data))
        now = self.clock()

        async def body(tx: Transaction) -> dag_files.StoredFile:
            hashes = await dag_files.latest_hashes(tx, list(specs))
            changed = [d for d, s in specs.items() if hashes.get(d) != s.dag_hash]
            lasts = await dag_files.last_automated_intervals(tx, changed)
            next_runs = {
                dag_id: _next_run(specs[dag_id], lasts.get(dag_id), now) for dag_id in changed
            }
            return await dag_files.store_file(
                tx,
                fileloc=result.path,
                dags=records,
                next_runs=next_runs,
                errors=errors,
                paused_by_default=self.paused_by_default,
                now=now,
            )

        stored = await self.db.run(body)
        self.on_stored()
        for error in errors:
            log.warning("import error in %s:\n%s", error[0], error[1])
        if stored.new_versions:
            log.info("%s: stored new versions of %s", result.path, ", ".join(stored.new_versions))
            for warning in result.warnings:
                log.warning("%s", warning)
        if stored.stale:
            log.info("%s: no longer defines %s", result.path, ", ".join(stored.stale))

    async def forget(self, path: str) -> None:
        self.mtimes.pop(path, None)
        stale = await self.db.run(lambda tx: dag_files.forget_file(tx, fileloc=path))
        if stale:
            log.info("%s was removed: %s are stale", path, ", ".join(stale))

    async def on_changes(self, changes: set[tuple[Change, str]]) -> None:
        """Apply a batch of file-system events (from watchfiles)."""
        if any(not path.endswith(".py") for _, path in changes):
            await self.refresh()  # folders renamed, .airflowignore edited, ...
            return
        await self.refresh_paths({path for _, path in changes})

    async def refresh_paths(self, paths: set[str]) -> None:
        async with self._refreshing:
            await self._refresh_paths(paths)

    async def _refresh_paths(self, paths: set[str]) -> None:
        on_disk: dict[str, float] = {}
        for folder in self.folders:
            on_disk.update(await anyio.to_thread.run_sync(scan_folder, folder))
        async with anyio.create_task_group() as tg:
            for path in sorted(paths):
                if path in on_disk:
                    tg.start_soon(self._parse_into, path, on_disk[path], [])
                elif path in self.mtimes or Path(path).suffix == ".py":
                    tg.start_soon(self.forget, path)


def _record(spec: DagSpec, data: dict[str, object]) -> dag_files.DagRecord:
    return dag_files.DagRecord(
        dag_id=spec.dag_id,
        data=dict(data),
        dag_hash=spec.dag_hash,
        fileloc=spec.fileloc,
        relative_fileloc=spec.relative_fileloc,
        owners=", ".join(spec.owners),
        description=spec.description,
        timetable_summary=spec.timetable_summary,
        timetable_description=spec.timetable.description,
        max_active_tasks=spec.max_active_tasks,
        max_active_runs=spec.max_active_runs,
        has_task_concurrency_limits=any(
            t.max_active_tis_per_dag is not None or t.max_active_tis_per_dagrun is not None
            for t in spec.tasks.values()
        ),
        tags=spec.tags,
        is_paused_upon_creation=spec.is_paused_upon_creation,
        max_consecutive_failed_dag_runs=spec.max_consecutive_failed_dag_runs,
    )


def _next_run(
    spec: DagSpec, last: tuple[datetime, datetime] | None, now: datetime
) -> dag_files.NextRun:
    last_interval = DataInterval(*last) if last else None
    info = next_dagrun_info(spec, last_automated=last_interval, now=now)
    if info is None:
        return dag_files.NextRun(None, None, None, None)
    return dag_files.NextRun(
        next_dagrun=info.logical_date,
        data_interval_start=info.data_interval.start,
        data_interval_end=info.data_interval.end,
        create_after=info.run_after,
    )


def dag_folders(settings: Settings) -> list[Path]:
    folders = [settings.dags_folder.resolve()]
    if settings.core.load_examples:
        folders.append(EXAMPLE_DAGS_FOLDER)
    return folders


async def serve_dag_processor(
    settings: Settings,
    db: Database,
    *,
    on_stored: Callable[[], None] = lambda: None,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: TaskStatus[DagProcessorHandle] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Report ready, parse everything once behind that, then follow changes until shutdown.

    `on_stored` is called after every file whose results were written (the scheduler's
    wake-up for new or changed DAGs).
    """
    config = settings.dag_processor
    folders = dag_folders(settings)
    impersonation = Impersonation.from_settings(settings)
    await anyio.to_thread.run_sync(
        ensure_root_user, impersonation.default_user, impersonation.root_user
    )
    async with (
        open_job(db, JOB_TYPE, interval=settings.scheduler.heartbeat_interval),
        open_parser_pool(
            config.parsing_processes,
            file_timeout=config.file_parse_timeout,
            max_memory=config.max_memory_mb * 1024 * 1024,
            impersonation=impersonation,
        ) as pool,
        anyio.create_task_group() as tg,
    ):
        processor = DagProcessor(
            db,
            pool,
            folders,
            paused_by_default=config.dags_are_paused_at_creation,
            on_stored=on_stored,
            routing=ExecutorRouting.from_settings(settings.executor),
        )
        callbacks = DagCallbacks(
            db,
            pool,
            settings.base_log_folder,
            folder_of=processor.folder_of,
            concurrency=config.parsing_processes,
        )
        stop_watching = anyio.Event()
        # Watch before the first full parse, so no change slips between the two.
        await tg.start(_watch, processor, folders, stop_watching)
        # DAG callbacks the scheduler asks for (callbacks.py).
        await tg.start(serve_dag_callbacks, callbacks)
        handle = DagProcessorHandle()
        tg.start_soon(_parse_then_rescan, processor, handle, config.refresh_interval)
        task_status.started(handle)
        await shutdown_trigger()
        stop_watching.set()
        # Running callbacks finish (each within file_parse_timeout); no new ones start.
        with anyio.move_on_after(config.file_parse_timeout + 5):
            await callbacks.drain()
        tg.cancel_scope.cancel()


#: How long the watcher thread blocks before checking back (its first return also tells
#: that the watch is set up).
WATCH_POLL_MS = 500


async def _watch(
    processor: DagProcessor,
    folders: Sequence[Path],
    stop: anyio.Event,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    existing = [str(f) for f in folders if f.is_dir()]
    if not existing:
        task_status.started()
        return
    started = False
    async for changes in awatch(
        *existing,
        stop_event=stop,
        debounce=200,
        step=50,
        rust_timeout=WATCH_POLL_MS,
        yield_on_timeout=True,
    ):
        if not started:
            started = True
            task_status.started()
        if changes:
            await processor.on_changes(changes)


async def _parse_then_rescan(
    processor: DagProcessor, handle: DagProcessorHandle, interval: float
) -> None:
    log.info("parsing the DAG files in %s", ", ".join(map(str, processor.folders)))
    stats = await processor.refresh()
    log.info(
        "parsed %d files (%d DAGs, %d import errors) in %.2fs",
        stats.files,
        stats.dags,
        stats.errors,
        stats.seconds,
    )
    handle.stats = stats
    handle.parsed.set()
    while True:
        await anyio.sleep(interval)
        await processor.refresh()
