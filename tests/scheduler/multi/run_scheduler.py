"""One scheduler process for the multi-scheduler tests.

Settings come from the environment (`AIRFLOW_SC__SECTION__KEY`, `AIRFLOW_SC_HOME`); the
executor is the in-memory double, which prints one `submitted ...` line per workload so the
test can see every try each process started, even after the process was SIGKILLed.
`MULTI_HOLD=1` keeps workloads running forever (a scheduler whose tasks are mid-run when it
dies); `MULTI_BACKEND` picks the anyio backend. Prints `scheduler ready job=<id>` once
serving; SIGTERM drains and exits 0.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from airflow_sc.config.loading import load_settings
from airflow_sc.config.settings import Settings
from airflow_sc.db.engine import open_database
from airflow_sc.execution.service import ExecutionService
from airflow_sc.executors.base import Workload
from airflow_sc.runtime.root import execute
from airflow_sc.runtime.shutdown import Shutdown
from airflow_sc.scheduler.changes import ChangeFeed
from airflow_sc.scheduler.changes.postgres import serve_notify_bridge
from airflow_sc.scheduler.deps import SchedulerDeps
from airflow_sc.scheduler.ownership import open_scheduler_ownership
from airflow_sc.scheduler.service import serve_scheduler
from airflow_sc.scheduler.stages.housekeeping import housekeeping_stage
from airflow_sc.testing.executor import InMemoryExecutor


class PrintingExecutor(InMemoryExecutor):
    async def submit(self, workloads: Sequence[Workload]) -> None:
        for w in workloads:
            k = w.key
            print(f"submitted {w.ti_id} {k.dag_id} {k.run_id} {k.task_id} {k.try_number}")
        sys.stdout.flush()
        await super().submit(workloads)


async def serve_tree(
    settings: Settings, shutdown: Shutdown, *, task_status: TaskStatus[dict[str, Any]]
) -> None:
    url = settings.database_url
    async with (
        open_scheduler_ownership(url),
        open_database(url, pool_size=settings.database.pool_size) as db,
    ):
        changes = ChangeFeed()
        service = ExecutionService(db, on_ti_finished=changes.tis_finished)
        executor = PrintingExecutor(
            "local", service=service, hold=os.environ.get("MULTI_HOLD") == "1"
        )
        deps = SchedulerDeps.from_settings(
            settings,
            db,
            [executor],
            changes=changes,
            extra_stages=[housekeeping_stage(settings.scheduler)],
        )
        async with anyio.create_task_group() as tg:

            async def run(*, task_status: TaskStatus[Any]) -> None:
                await serve_scheduler(
                    deps, shutdown_trigger=shutdown.wait_drain, task_status=task_status
                )
                tg.cancel_scope.cancel()  # the bridge goes with the scheduler

            handle = await tg.start(run)
            await tg.start(serve_notify_bridge, db, changes)
            print(f"scheduler ready job={handle.job_id}", flush=True)
            task_status.started({"scheduler": handle})


def main() -> int:
    settings = load_settings()
    return execute(settings, backend=os.environ.get("MULTI_BACKEND", "asyncio"), tree=serve_tree)


if __name__ == "__main__":
    sys.exit(main())
