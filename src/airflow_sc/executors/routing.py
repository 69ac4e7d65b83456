"""Which executor runs a workload (pure).

A task names its executor with ``executor=...``; otherwise ``async def`` tasks go to the
in-process executor when it is enabled, and everything else to the configured default.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from airflow_sc.config.settings import ExecutorSettings
from airflow_sc.executors.base import Workload

__all__ = ["UnknownExecutor", "executor_name", "route_workloads"]

INPROCESS = "inprocess"


class UnknownExecutor(LookupError):
    """A task names an executor this deployment does not run."""


def executor_name(
    workload: Workload, settings: ExecutorSettings, available: Collection[str]
) -> str:
    """The name of the executor that runs `workload` (one of `available`)."""
    if workload.executor:
        if workload.executor not in available:
            raise UnknownExecutor(
                f"task {workload.key.task_id!r} of DAG {workload.key.dag_id!r} asks for executor "
                f"{workload.executor!r}; this deployment runs {sorted(available)}"
            )
        return workload.executor
    if workload.is_async and settings.inprocess_enabled and INPROCESS in available:
        return INPROCESS
    if settings.default not in available:
        raise UnknownExecutor(f"the default executor {settings.default!r} is not running")
    return settings.default


def route_workloads(
    workloads: Iterable[Workload], settings: ExecutorSettings, available: Collection[str]
) -> dict[str, list[Workload]]:
    """Workloads grouped by executor name, in their original order within each group."""
    routed: dict[str, list[Workload]] = {}
    for workload in workloads:
        routed.setdefault(executor_name(workload, settings, available), []).append(workload)
    return routed
