"""Which queued DAG runs the start_runs stage moves to running.

Airflow 3 semantics: a DAG's runs outside backfills share the DAG's ``max_active_runs``; each
backfill has its own ``max_active_runs`` for its runs. Runs whose ``run_after`` is still in
the future wait. Order: regular runs before backfill runs (backfills by their sort ordinal),
then runs of DAGs with fewer running runs first (fairness across DAGs), then oldest
``run_after`` first; run id breaks ties so the answer is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from airflow_sc.domain.keys import DagRunKey

__all__ = ["ActiveRunScope", "QueuedRun", "runs_to_start"]

ActiveRunScope = tuple[str, int | None]
"""(dag_id, backfill_id): the runs one ``max_active_runs`` limit counts."""


@dataclass(frozen=True, slots=True)
class QueuedRun:
    key: DagRunKey
    run_after: datetime
    max_active_runs: int
    """The DAG's limit, or the backfill's for a backfill run."""
    backfill_id: int | None = None
    backfill_sort_ordinal: int | None = None

    @property
    def scope(self) -> ActiveRunScope:
        return (self.key.dag_id, self.backfill_id)


def runs_to_start(
    queued: Iterable[QueuedRun], *, running: Mapping[ActiveRunScope, int], now: datetime
) -> list[QueuedRun]:
    """The queued runs to start now, in start order; ``running`` counts running runs."""
    active = Counter(running)

    def order(run: QueuedRun) -> tuple[bool, int, int, datetime, str]:
        ordinal = run.backfill_sort_ordinal
        return (
            ordinal is not None,
            ordinal or 0,
            running.get(run.scope, 0),
            run.run_after,
            run.key.run_id,
        )

    started: list[QueuedRun] = []
    for run in sorted((r for r in queued if r.run_after <= now), key=order):
        if active[run.scope] >= run.max_active_runs:
            continue
        active[run.scope] += 1
        started.append(run)
    return started
