"""The benchmark workloads of WORKLOADS.md and the DAG files that express them.

Every workload is `dags` DAGs of `layers` layers, `width` tasks each, where every task of
a layer depends on every task of the layer before: W1 is 50 x (4 x 5), W2 one chain of 40
(40 layers of width 1), W3 200 single tasks. Task bodies are module-level callables that
return None (no `EmptyOperator`, which a scheduler could skip without running anything);
the `a` variants make them `async def`, which routes them to the in-process executor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WORKLOADS", "Workload", "write_dag_files"]


@dataclass(frozen=True)
class Workload:
    """One shape of work; `scaled` changes how many DAGs a multi-DAG workload has."""

    name: str
    dags: int
    layers: int
    width: int
    asynchronous: bool = False

    @property
    def tasks_per_dag(self) -> int:
        return self.layers * self.width

    @property
    def task_instances(self) -> int:
        """Task instances of one triggered run of every DAG."""
        return self.dags * self.tasks_per_dag

    @property
    def is_chain(self) -> bool:
        """One task per layer: task lag between consecutive tasks is meaningful."""
        return self.width == 1 and self.layers > 1

    def dag_ids(self) -> list[str]:
        if self.dags == 1:
            return [f"bench_{self.name.lower()}"]
        return [f"bench_{self.name.lower()}_{index:03d}" for index in range(self.dags)]

    def scaled(self, dags: int | None) -> Workload:
        if dags is None or self.dags == 1:
            return self
        return dataclasses.replace(self, dags=dags)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("W1", dags=50, layers=4, width=5),
        Workload("W2", dags=1, layers=40, width=1),
        Workload("W3", dags=200, layers=1, width=1),
        Workload("W1a", dags=50, layers=4, width=5, asynchronous=True),
        Workload("W2a", dags=1, layers=40, width=1, asynchronous=True),
    )
}


def task_id(layer: int, index: int) -> str:
    """Task ids sort in dependency order: `l00_t0`, `l00_t1`, ..., `l01_t0`."""
    return f"l{layer:02d}_t{index}"


def dag_source(workload: Workload, dag_id: str) -> str:
    """The text of one DAG file of `workload`."""
    body = "async def noop() -> None:" if workload.asynchronous else "def noop() -> None:"
    return (
        f'"""Benchmark workload {workload.name}: {workload.layers} layer(s) of '
        f'{workload.width} task(s)."""\n\n'
        "from datetime import UTC, datetime\n\n"
        "from airflow_sc.sdk import DAG, PythonOperator, cross_downstream\n\n\n"
        f"{body}\n"
        "    return None\n\n\n"
        f"with DAG(\n"
        f"    {dag_id!r},\n"
        "    schedule=None,\n"
        "    start_date=datetime(2026, 1, 1, tzinfo=UTC),\n"
        f"    max_active_tasks={max(16, workload.width)},\n"
        "):\n"
        "    previous: list[PythonOperator] = []\n"
        f"    for layer in range({workload.layers}):\n"
        "        current = [\n"
        "            PythonOperator(task_id=f'l{layer:02d}_t{i}', python_callable=noop)\n"
        f"            for i in range({workload.width})\n"
        "        ]\n"
        "        if previous:\n"
        "            cross_downstream(previous, current)\n"
        "        previous = current\n"
    )


def write_dag_files(workload: Workload, folder: Path) -> list[str]:
    """Write one file per DAG of `workload` into `folder`; return the DAG ids."""
    folder.mkdir(parents=True, exist_ok=True)
    dag_ids = workload.dag_ids()
    for dag_id in dag_ids:
        (folder / f"{dag_id}.py").write_text(dag_source(workload, dag_id))
    return dag_ids
