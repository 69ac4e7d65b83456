"""Which executor runs a task: one rule, for the DAG processor and for enqueue (pure).

A task names its executor with ``executor=...``; otherwise ``async def`` tasks go to the
in-process executor when it is enabled, and everything else to the configured default.
A name this deployment does not run is an error, never a fallback:

- the DAG processor refuses the DAG at parse time (`unknown_executors`), as it refuses a
  DAG that fails validation: the file gets an import error naming the task and the
  executors the deployment runs, and that DAG is not stored;
- enqueue, for a DAG version stored before the executor left the configuration, fails
  that task instance with the same message as its note (`UnknownExecutor`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from airflow_sc.config.settings import ExecutorSettings

__all__ = [
    "INPROCESS",
    "LOCAL",
    "ExecutorRouting",
    "UnknownExecutor",
    "configured_executors",
]

LOCAL = "local"
INPROCESS = "inprocess"


class UnknownExecutor(LookupError):
    """A task names an executor this deployment does not run."""


def configured_executors(settings: ExecutorSettings) -> frozenset[str]:
    """The executors a deployment with `settings` runs (what its scheduler builds)."""
    return frozenset({LOCAL, INPROCESS} if settings.inprocess_enabled else {LOCAL})


@dataclass(frozen=True, slots=True)
class ExecutorRouting:
    """The executors a deployment runs and how tasks are spread over them."""

    available: frozenset[str]
    #: Where tasks that name no executor go.
    default: str
    #: ``async def`` tasks that name no executor go to the in-process executor.
    inprocess_for_async: bool = True

    def __post_init__(self) -> None:
        if self.default not in self.available:
            raise ValueError(
                f"the default executor {self.default!r} is not one this deployment runs "
                f"({', '.join(sorted(self.available))})"
            )

    @classmethod
    def from_settings(cls, settings: ExecutorSettings) -> ExecutorRouting:
        return cls(configured_executors(settings), settings.default, settings.inprocess_enabled)

    @classmethod
    def of(
        cls, available: Collection[str], default: str | None, *, inprocess_for_async: bool
    ) -> ExecutorRouting:
        """The routing over `available` (the first is the default when none is named)."""
        names = list(available)
        if not names:
            raise ValueError("a deployment runs at least one executor")
        return cls(frozenset(names), default or names[0], inprocess_for_async)

    def executor_for(self, *, dag_id: str, task_id: str, named: str | None, is_async: bool) -> str:
        """The executor that runs the task; `UnknownExecutor` when it names another."""
        if named:
            if named not in self.available:
                raise UnknownExecutor(self.unknown(dag_id, task_id, named))
            return named
        if is_async and self.inprocess_for_async and INPROCESS in self.available:
            return INPROCESS
        return self.default

    def unknown_executors(self, dag_id: str, named: Iterable[tuple[str, str | None]]) -> list[str]:
        """Why a DAG cannot run here: one message per (task_id, executor) naming an
        executor this deployment does not run."""
        return [
            self.unknown(dag_id, task_id, executor)
            for task_id, executor in named
            if executor and executor not in self.available
        ]

    def unknown(self, dag_id: str, task_id: str, executor: str) -> str:
        return (
            f"task {task_id!r} of DAG {dag_id!r} asks for executor {executor!r}; "
            f"this deployment runs {', '.join(sorted(self.available))}"
        )
