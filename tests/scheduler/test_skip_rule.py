"""A try may skip only tasks downstream of its own (the paths its branch did not take).

The execution service checks a finish's skip list against the DAG version the run uses,
before anything is written: a task process cannot skip a sibling, an upstream task or a
task of another branch, whatever it sends.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import dag_run, task_instance
from airflow_sc.db.queries import jobs
from airflow_sc.domain import TaskInstanceState, TIState
from airflow_sc.execution.errors import Forbidden
from airflow_sc.execution.protocol import TryFinish
from airflow_sc.execution.service import ExecutionService
from airflow_sc.scheduler.deps import SchedulerDeps, StageDeps
from airflow_sc.scheduler.stages.create_runs import create_due_runs
from airflow_sc.scheduler.stages.start_runs import start_queued_runs
from airflow_sc.sdk import DAG, EmptyOperator
from tests.scheduler.dags import T0, FakeClock, store_dag
from tests.scheduler.test_transition_owners import HoldingExecutor

pytestmark = pytest.mark.anyio

TI = TaskInstanceState
DAG_ID = "branching"
EVERY_STATE: list[TIState] = [None, *TI]


def below(state: TIState) -> str:
    return f"below_{'none' if state is None else state.value}"


@pytest.fixture
async def run_pk(db: Database, clock: FakeClock) -> int:
    """A running run of: before >> branch >> below_<state>...; below_none >> far; aside."""
    with DAG(DAG_ID, schedule="@daily", start_date=T0 - timedelta(days=1)) as dag:
        branch = EmptyOperator(task_id="branch")
        EmptyOperator(task_id="before") >> branch
        children = {state: EmptyOperator(task_id=below(state)) for state in EVERY_STATE}
        for child in children.values():
            branch >> child
        children[None] >> EmptyOperator(task_id="far")
        EmptyOperator(task_id="aside")
    await store_dag(db, dag, now=clock.now)
    job_id = await jobs.start_job(db, "SchedulerJob", now=clock.now)
    deps = StageDeps(
        SchedulerDeps(db=db, executors=[HoldingExecutor()], clock=clock, parallelism=None),
        job_id,
    )
    await create_due_runs(deps)
    started, _ = await start_queued_runs(deps)
    return started[0]


async def seed(db: Database, states: dict[str, TIState]) -> dict[str, str]:
    """Put each named task instance in its state; every try id, by task id."""

    async def body(tx: Transaction) -> dict[str, str]:
        for task_id, state in states.items():
            values: dict[str, Any] = {
                "state": None if state is None else state.value,
                "try_number": 0 if state in (None, TI.SCHEDULED) else 1,
            }
            await tx.execute(
                update(task_instance)
                .where(task_instance.c.dag_id == DAG_ID, task_instance.c.task_id == task_id)
                .values(**values)
            )
        await tx.execute(update(dag_run).values(state="running"))
        rows = await tx.execute(select(task_instance.c.task_id, task_instance.c.id))
        return {r.task_id: str(r.id) for r in rows}

    return await db.run(body)


async def states(db: Database) -> dict[str, TIState]:
    async def body(tx: Transaction) -> dict[str, TIState]:
        rows = await tx.execute(select(task_instance.c.task_id, task_instance.c.state))
        return {r.task_id: None if r.state is None else TI(r.state) for r in rows}

    return await db.run(body, write=False)


async def test_a_branch_skips_its_downstream_that_has_not_started(
    db: Database, clock: FakeClock, run_pk: int
) -> None:
    ids = await seed(db, {"branch": TI.RUNNING} | {below(s): s for s in EVERY_STATE})
    before = await states(db)
    skip = (*(below(s) for s in EVERY_STATE), "far")
    await ExecutionService(db, clock=clock).finish(TryFinish(ids["branch"], TI.SUCCESS, skip))
    after = await states(db)
    skipped = {t for t in after if after[t] is TI.SKIPPED and before[t] is not TI.SKIPPED}
    # Only what has not started; "far" is downstream through below_none.
    assert skipped == {
        below(None),
        below(TI.SCHEDULED),
        below(TI.UP_FOR_RETRY),
        below(TI.UP_FOR_RESCHEDULE),
        "far",
    }
    assert after["branch"] is TI.SUCCESS


@pytest.mark.parametrize("target", ["aside", "before", "branch", "no_such_task"])
async def test_a_try_cannot_skip_what_is_not_downstream_of_it(
    db: Database, clock: FakeClock, run_pk: int, target: str
) -> None:
    ids = await seed(db, {"branch": TI.RUNNING, "aside": None, "before": TI.SUCCESS})
    before = await states(db)
    service = ExecutionService(db, clock=clock)
    with pytest.raises(Forbidden, match=target):
        await service.finish(TryFinish(ids["branch"], TI.SUCCESS, (below(None), target)))
    # Refused whole, before any write: the branch still runs and skipped nothing.
    assert await states(db) == before
    # The same try can still finish with an honest skip list.
    await service.finish(TryFinish(ids["branch"], TI.SUCCESS, (below(None),)))
    assert (await states(db))[below(None)] is TI.SKIPPED
