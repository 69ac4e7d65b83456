"""Run a whole DAG in this process, one task at a time (``airflow-sc dags test``).

Made for debugging DAG code: no database, no scheduler service, no executor; the
scheduler's own policy decides, which is why this lives here. Tasks run in
topological order; each task's trigger rule is checked against its upstream states with
the scheduler's own policy (`evaluate_trigger_rule`), so skips from branches and short
circuits propagate as they would in a deployment. A failed try with retries left runs again
at once (the retry delay is reported, not waited); ``async def`` tasks run on their own
event loop through `arun_task`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio

from airflow_sc.domain.retries import retry_delay_for, retry_jitter_hash
from airflow_sc.domain.states import DagRunState, TaskInstanceState, TIState
from airflow_sc.execution.protocol import DagRunTrigger
from airflow_sc.scheduler.policy.run_state import (
    RunTaskInstance,
    decide_run_state,
    effective_leaves,
)
from airflow_sc.scheduler.policy.trigger_rules import (
    Decision,
    UpstreamSummary,
    evaluate_trigger_rule,
)
from airflow_sc.sdk.baseoperator import BaseOperator
from airflow_sc.sdk.context import RunInfo
from airflow_sc.sdk.dag import DAG
from airflow_sc.secrets.masking import SecretsMasker
from airflow_sc.task_runner.execute import arun_task, run_task
from airflow_sc.task_runner.memory_client import InMemoryTaskClient
from airflow_sc.task_runner.outcome import TaskOutcome

__all__ = ["DagTestResult", "TaskResult", "manual_run_info", "run_dag_test"]

_TI = TaskInstanceState
_REPR_LIMIT = 200

_NOT_RUN_STATES: dict[Decision, TaskInstanceState] = {
    Decision.SKIP: _TI.SKIPPED,
    Decision.UPSTREAM_FAILED: _TI.UPSTREAM_FAILED,
    Decision.REMOVED: _TI.REMOVED,
}


@dataclass(frozen=True, slots=True)
class TaskResult:
    """How one task of the test run ended. ``tries`` is 0 when it never ran."""

    task_id: str
    state: TIState
    tries: int = 0
    duration: float = 0.0
    return_value: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DagTestResult:
    """The test run: its facts, its final state and every task's result."""

    run: RunInfo
    state: DagRunState
    tasks: Mapping[str, TaskResult]
    client: InMemoryTaskClient = field(repr=False)

    @property
    def succeeded(self) -> bool:
        return self.state is DagRunState.SUCCESS


def manual_run_info(
    dag: DAG,
    *,
    logical_date: dt.datetime | None,
    now: dt.datetime,
    conf: Mapping[str, Any] | None = None,
) -> RunInfo:
    """A manual run at `logical_date` (`now` when None), its interval from the timetable."""
    when = (logical_date or now).astimezone(dt.UTC)
    interval = dag.timetable.infer_manual_data_interval(run_after=when)
    return RunInfo(
        run_id=f"manual__{when.isoformat()}",
        run_after=when,
        logical_date=when,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        conf=dict(conf or {}),
        run_type="manual",
        start_date=now,
        dag_id=dag.dag_id,
    )


class _TestRun:
    def __init__(
        self,
        dag: DAG,
        run: RunInfo,
        client: InMemoryTaskClient,
        *,
        out: Callable[[str], None],
        log: logging.Logger,
        sleep: Callable[[float], None],
        utcnow: Callable[[], dt.datetime],
    ) -> None:
        self.dag = dag
        self.run = run
        self.client = client
        self.out = out
        self.log = log
        self.sleep = sleep
        self.utcnow = utcnow
        self.states: dict[str, TIState] = dict.fromkeys(dag.task_dict)
        self.results: dict[str, TaskResult] = {}

    def execute(self) -> DagTestResult:
        for task in self.dag.topological_sort():
            if self.states[task.task_id] is not None:
                continue  # skipped by a branch
            upstream = UpstreamSummary.from_states(
                self.states[t] for t in task.upstream_task_ids if t in self.states
            )
            decision = evaluate_trigger_rule(task.trigger_rule, upstream)
            if decision is Decision.RUN:
                self._run_until_finished(task)
            elif decision is Decision.WAIT:  # every upstream finished: cannot happen
                self._not_run(task, _TI.UPSTREAM_FAILED, "deadlocked")
            else:
                rule = f"trigger rule {task.trigger_rule.value}"
                self._not_run(task, _NOT_RUN_STATES[decision], rule)
        state = self._run_state()
        self._run_dag_callbacks(state)
        return DagTestResult(self.run, state, dict(self.results), self.client)

    def _run_dag_callbacks(self, state: DagRunState) -> None:
        succeeded = state is DagRunState.SUCCESS
        callbacks = self.dag.on_success_callback if succeeded else self.dag.on_failure_callback
        context = {
            "dag": self.dag,
            "dag_run": self.run,
            "run_id": self.run.run_id,
            "reason": "success" if succeeded else "task_failure",
        }
        for callback in callbacks:
            try:
                callback(context)
            except Exception:
                self.log.exception("Error in the DAG's callback %r", callback)

    def _run_state(self) -> DagRunState:
        downstream = {t.task_id: t.downstream_task_ids for t in self.dag.tasks}
        leaves = effective_leaves(downstream)
        decision = decide_run_state(
            RunTaskInstance(task_id, state, is_leaf=task_id in leaves)
            for task_id, state in self.states.items()
        )
        return decision.state

    def _not_run(self, task: BaseOperator, state: TaskInstanceState, why: str) -> None:
        self.states[task.task_id] = state
        self.results[task.task_id] = TaskResult(task.task_id, state)
        self.out(f"[{state.value}] {task.task_id} (not run: {why})")

    def _run_until_finished(self, task: BaseOperator) -> None:
        try_number = 1
        total = 0.0
        while True:
            already = len(self.client.triggered)
            outcome = self._run_once(task, try_number)
            triggered = self.client.triggered[already:]
            total += outcome.duration
            state = outcome.state
            if state is _TI.DEFERRED:
                assert outcome.deferral is not None
                error = f"deferred to {outcome.deferral.trigger!r}; dags test cannot run triggers"
                outcome = TaskOutcome(
                    state=_TI.FAILED, try_number=try_number, duration=outcome.duration, error=error
                )
                state = _TI.FAILED
            self.out(self._line(task, outcome, triggered))
            if state is _TI.UP_FOR_RETRY:
                try_number += 1
                continue
            if state is _TI.UP_FOR_RESCHEDULE:
                assert outcome.reschedule_at is not None
                self.sleep(max(0.0, (outcome.reschedule_at - self.utcnow()).total_seconds()))
                continue
            break
        self.states[task.task_id] = state
        self.results[task.task_id] = TaskResult(
            task.task_id, state, try_number, total, outcome.return_value, outcome.error
        )
        for skipped in sorted(outcome.skip):
            if self.states.get(skipped) is None:
                self.states[skipped] = _TI.SKIPPED
                self.results[skipped] = TaskResult(skipped, _TI.SKIPPED)
                self.out(f"[skipped] {skipped} (not run: skipped by {task.task_id})")

    def _run_once(self, task: BaseOperator, try_number: int) -> TaskOutcome:
        client = self.client.for_task(task.task_id)
        if task.is_async:
            entry = partial(
                arun_task,
                task,
                dag=self.dag,
                run=self.run,
                try_number=try_number,
                client=client,
                log=task.log,
            )
            return anyio.run(entry)
        return run_task(
            task, dag=self.dag, run=self.run, try_number=try_number, client=client, log=task.log
        )

    def _line(
        self, task: BaseOperator, outcome: TaskOutcome, triggered: Sequence[DagRunTrigger]
    ) -> str:
        state = outcome.state
        head = f"[{state.value}] {task.task_id} (try {outcome.try_number}, {outcome.duration:.2f}s)"
        if state is _TI.SUCCESS:
            if triggered:
                request = triggered[-1]
                return (
                    f"{head} -> would trigger DAG {request.dag_id!r} with run id "
                    f"{request.run_id!r} (dags test does not start other DAGs)"
                )
            line = head if outcome.return_value is None else f"{head} -> {_short_repr(outcome)}"
            if outcome.skip:
                line += f"; skipping {', '.join(sorted(outcome.skip))}"
            return line
        if state is _TI.UP_FOR_RESCHEDULE:
            assert outcome.reschedule_at is not None
            return f"{head}: rescheduled to {outcome.reschedule_at.isoformat()}; waiting"
        reason = _last_line(outcome.error)
        line = f"{head}: {reason}" if reason else head
        if state is _TI.UP_FOR_RETRY:
            delay = retry_delay_for(
                try_number=outcome.try_number,
                retry_delay=task.retry_delay or dt.timedelta(0),
                retry_exponential_backoff=bool(task.retry_exponential_backoff),
                max_retry_delay=task.max_retry_delay,
                ti_key_hash=retry_jitter_hash(
                    self.dag.dag_id, task.task_id, self.run.logical_date, outcome.try_number
                ),
            )
            line += f"; retrying now (retry delay of {delay} skipped)"
        return line


def _short_repr(outcome: TaskOutcome) -> str:
    text = repr(outcome.return_value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _last_line(error: str | None) -> str:
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_dag_test(
    dag: DAG,
    run: RunInfo,
    *,
    variables: Mapping[str, str] | None = None,
    connections: Mapping[str, Any] | None = None,
    out: Callable[[str], None] = print,
    log: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    utcnow: Callable[[], dt.datetime] = _utcnow,
    masker: SecretsMasker | None = None,
) -> DagTestResult:
    """Run every task of `dag` for `run`, printing one line per try through `out`.

    `sleep` and `utcnow` are used only to wait for a rescheduled task's next poke. With a
    `masker`, the secrets tasks read are registered with it and masked in `out`'s lines.
    """
    client = InMemoryTaskClient(
        dag_id=dag.dag_id,
        run_id=run.run_id,
        variables=variables if variables is not None else {},
        connections=connections if connections is not None else {},
        masker=masker,
    )
    if masker is not None:
        unmasked = out

        def out(line: str) -> None:
            unmasked(masker.mask(line))

    test_run = _TestRun(
        dag,
        run,
        client,
        out=out,
        log=log or logging.getLogger("airflow_sc.scheduler.dag_test"),
        sleep=sleep,
        utcnow=utcnow,
    )
    return test_run.execute()
