"""Run one try of one task: context, templates, callbacks, execute, XCom, outcome.

`run_task` is the sync entry (what a worker process calls); `arun_task` awaits ``async def``
tasks inside an event loop (the in-process executor). Both:

1. build the context (``ti`` backed by the `TaskClient`), resolve XComArg / DagParam
   references and render the templated fields, on a copy of the task so that the DAG's own
   task objects stay unrendered for the next try or run;
2. run ``on_execute_callback``, ``pre_execute``, ``execute``, ``post_execute`` (a
   ``TriggerDagRunOperator``'s request is performed between ``execute`` and
   ``post_execute``: `airflow_sc.task_runner.dag_run_trigger`);
3. push the return value as the ``return_value`` XCom (and each key with
   ``multiple_outputs``);
4. map the result or exception to a `TaskOutcome` and run the matching state callback
   (``on_success`` / ``on_failure`` / ``on_retry`` / ``on_skipped``). A failing callback is
   logged and never changes the outcome.

``execution_timeout``: `arun_task` enforces it with a cancel scope (and a cancelled
``aexecute`` gets its ``on_kill`` too). `run_task` cannot stop sync code that does not
return; there the executor owns the deadline and sends the try's process SIGTERM, whose
handler (`airflow_sc.task_runner.supervisor`) calls `kill_running_task`: the ``on_kill`` of
the task `run_task` is executing, before the try is ended.
"""

from __future__ import annotations

import copy
import inspect
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio

from airflow_sc.compat import installed_options
from airflow_sc.domain.retries import failed_try_state, policy_retry_delay
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.execution.context import TryContext
from airflow_sc.sdk._task_client import TaskClient, task_client_active
from airflow_sc.sdk.baseoperator import BaseOperator, TaskStateChangeCallback
from airflow_sc.sdk.context import (
    ConnectionAccessor,
    RunInfo,
    VariableAccessor,
    build_template_context,
    context_active,
)
from airflow_sc.sdk.exceptions import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSkipException,
    AirflowTaskTimeout,
    DagRunTriggerException,
    TaskDeferred,
)
from airflow_sc.sdk.skipping import SkipDecision
from airflow_sc.sdk.xcom_arg import XCOM_RETURN_KEY

from . import dag_run_trigger, notifications
from .outcome import Deferral, TaskOutcome
from .task_instance import RuntimeTaskInstance

__all__ = [
    "AirflowTaskTimeout",
    "arun_task",
    "kill_running_task",
    "run_info_of",
    "run_task",
    "unloadable",
]

#: The task whose ``execute`` `run_task` is running in this process, if any. One slot: a
#: task process runs one try, in its main thread, which is where SIGTERM is handled.
_executing: list[BaseOperator] = []


def kill_running_task(log: logging.Logger) -> None:
    """Call ``on_kill`` of the task `run_task` is executing (no-op outside ``execute``).

    Made for a signal handler: a failing ``on_kill`` is logged, never raised.
    """
    if not _executing:
        return
    task = _executing[-1]
    log.info("Calling on_kill of %s", task)
    try:
        task.on_kill()
    except Exception:
        log.exception("on_kill of %s failed", task)


_TI = TaskInstanceState


class _Try:
    """The state of one try between its steps (shared by the sync and async entries)."""

    def __init__(
        self,
        task: BaseOperator,
        *,
        dag: Any,
        run: RunInfo,
        try_number: int,
        max_tries: int | None,
        client: TaskClient,
        log: logging.Logger,
        clock: Callable[[], float],
    ) -> None:
        # Rendering replaces attributes; a shallow copy keeps the DAG's task untouched.
        self.task = copy.copy(task)
        self.run = run
        self.try_number = try_number
        self.max_tries = task.retries if max_tries is None else max_tries
        self.client = client
        self.log = log
        self.clock = clock
        self.started = clock()
        self.ti = RuntimeTaskInstance(
            task=self.task,
            dag_id=dag.dag_id,
            run_id=run.run_id,
            try_number=try_number,
            max_tries=self.max_tries,
            client=client,
            api_base_url=installed_options().api_base_url,
        )
        self.dag = dag
        # What callbacks see when the full context could not be built (bad params).
        self.context: dict[str, Any] = {
            "dag": dag,
            "task": self.task,
            "ti": self.ti,
            "task_instance": self.ti,
            "dag_run": run,
            "run_id": run.run_id,
        }

    def prepare(self) -> None:
        """Build the context, resolve references, render templates, on_execute callbacks."""
        task, client = self.task, self.client
        params = task.params.resolve(self.run.conf)
        self.context = dict(
            build_template_context(
                dag=self.dag,
                task=task,
                run=self.run,
                ti=self.ti,
                params=params,
                variables=VariableAccessor(client.get_variable),
                connections=ConnectionAccessor(client.get_connection),
            )
        )

        self.ti.dag_run = self.context["dag_run"]

        def pull(task_id: str, key: str) -> Any:
            return client.xcom_pull(task_id, key, -1)

        task.resolve_template_references(pull=pull, params=params)
        task.render_template_fields(self.context)
        self.log.info(
            "Executing %s on %s (try %d of %d)",
            task,
            self.run.run_id,
            self.try_number,
            self.max_tries + 1,
        )
        _run_callbacks(task.on_execute_callback, self.context, self.log, "on_execute_callback")
        notifications.try_started(self.ti)
        task.pre_execute(self.context)

    def trigger_dag_run(self, request: DagRunTriggerException) -> None:
        """Perform a ``TriggerDagRunOperator``'s request (raises when the try does not succeed)."""
        dag_run_trigger.trigger_dag_run(request, self.client, log=self.log)

    def succeeded(self, result: Any) -> TaskOutcome:
        """Push the result's XComs and call the success callbacks."""
        self.task.post_execute(self.context, result)
        skip: frozenset[str] = frozenset()
        if isinstance(result, SkipDecision):
            skip = result.skip
            result = result.return_value
        self._push_result(result)
        return self._outcome(_TI.SUCCESS, return_value=result, skip=skip)

    def _push_result(self, result: Any) -> None:
        task = self.task
        if not task.do_xcom_push:
            return
        if task.multiple_outputs:
            if not isinstance(result, Mapping):
                raise TypeError(
                    f"Returned output was type {type(result).__name__}, expected a dictionary "
                    "for multiple_outputs"
                )
            for key in result:
                if not isinstance(key, str):
                    raise TypeError(
                        "Returned dictionary keys must be strings when using multiple_outputs, "
                        f"found {key!r} ({type(key).__name__}) instead"
                    )
            for key, value in result.items():
                self.client.xcom_push(key, value)
        if result is not None:
            self.client.xcom_push(XCOM_RETURN_KEY, result)

    def ended_with(self, exc: Exception) -> TaskOutcome:
        """Map what `execute` (or a step around it) raised to the outcome."""
        if isinstance(exc, AirflowSkipException):
            self.log.info("Skipping task: %s", exc)
            return self._outcome(_TI.SKIPPED, error=str(exc) or None)
        if isinstance(exc, TaskDeferred):
            return self._outcome(_TI.DEFERRED, deferral=Deferral.from_exception(exc))
        if isinstance(exc, AirflowRescheduleException):
            return self._outcome(_TI.UP_FOR_RESCHEDULE, reschedule_at=exc.reschedule_date)
        text = "".join(traceback.format_exception(exc))
        self.log.error("Task failed with exception", exc_info=exc)
        self.context["exception"] = exc
        retry_allowed, delay = True, None
        if not isinstance(exc, AirflowFailException):
            retry_allowed, delay = self._policy_decision(exc)
        else:
            retry_allowed = False
        state = failed_try_state(
            self.try_number,
            self.max_tries,
            retries=self.task.retries,
            retry_allowed=retry_allowed,
        )
        if state is not _TI.UP_FOR_RETRY:
            delay = None
        return self._outcome(state, error=text, retry_allowed=retry_allowed, retry_delay=delay)

    def _policy_decision(self, exc: Exception) -> tuple[bool, float | None]:
        """The task's ``retry_policy`` decision: whether a retry is allowed (False: fail the
        task now) and the delay it chose for the next try (seconds; None: the task's rule)."""
        policy = getattr(self.task, "retry_policy", None)
        if policy is None:
            return True, None
        try:
            decision = policy.evaluate(exc, self.try_number, self.max_tries, self.context)
            action = str(decision.action.value)
            delay = policy_retry_delay(decision.retry_delay)
        except Exception:
            self.log.exception("The retry policy %r failed; the usual retry rule applies", policy)
            return True, None
        reason = f": {decision.reason}" if decision.reason else ""
        after = "" if delay is None or action == "fail" else f", next try in {delay:g} s"
        self.log.info("Retry policy decided %s%s%s", action, after, reason)
        return action != "fail", delay

    def _outcome(self, state: TaskInstanceState, **fields: Any) -> TaskOutcome:
        outcome = TaskOutcome(
            state=state,
            try_number=self.try_number,
            duration=self.clock() - self.started,
            **fields,
        )
        self.ti.state = state
        callbacks, name = _STATE_CALLBACKS.get(state, (None, ""))
        if callbacks is not None:
            _run_callbacks(callbacks(self.task), self.context, self.log, name)
        notifications.try_ended(self.task, self.ti, state, self.context, self.log)
        return outcome


_STATE_CALLBACKS: dict[
    TaskInstanceState, tuple[Callable[[BaseOperator], list[TaskStateChangeCallback]], str]
] = {
    _TI.SUCCESS: (lambda t: t.on_success_callback, "on_success_callback"),
    _TI.FAILED: (lambda t: t.on_failure_callback, "on_failure_callback"),
    _TI.UP_FOR_RETRY: (lambda t: t.on_retry_callback, "on_retry_callback"),
    _TI.SKIPPED: (lambda t: t.on_skipped_callback, "on_skipped_callback"),
}


def run_info_of(context: TryContext) -> RunInfo:
    """The DAG run facts of a started try, as the template context reads them."""
    return RunInfo(
        run_id=context.run_id,
        run_after=context.run_after,
        logical_date=context.logical_date,
        data_interval_start=context.data_interval_start,
        data_interval_end=context.data_interval_end,
        conf=dict(context.conf),
        run_type=context.run_type,
        start_date=context.run_start_date,
        dag_id=context.dag_id,
        prev_data_interval_start_success=context.prev_data_interval_start_success,
        prev_data_interval_end_success=context.prev_data_interval_end_success,
        prev_start_date_success=context.prev_start_date_success,
        prev_end_date_success=context.prev_end_date_success,
    )


def unloadable(context: TryContext, error: Exception, log: logging.Logger) -> TaskOutcome:
    """The outcome of a try whose task could not be loaded (its DAG file is gone, broken,
    or no longer defines it): failed, retried while its tries allow."""
    log.error("Could not load task %s of DAG %s", context.task_id, context.dag_id, exc_info=error)
    return TaskOutcome(
        state=failed_try_state(context.try_number, context.max_tries),
        try_number=context.try_number,
        duration=0.0,
        error=f"{type(error).__name__}: {error}",
    )


def _run_callbacks(
    callbacks: Iterable[TaskStateChangeCallback],
    context: Mapping[str, Any],
    log: logging.Logger,
    name: str,
) -> None:
    for callback in callbacks:
        try:
            callback(context)
        except Exception:
            log.exception("Error in %s %r (the task's state is unchanged)", name, callback)


def run_task(
    task: BaseOperator,
    *,
    dag: Any,
    run: RunInfo,
    try_number: int,
    client: TaskClient,
    log: logging.Logger,
    max_tries: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TaskOutcome:
    """Run try `try_number` of `task` in this thread and return how it ended.

    `max_tries` is the task instance's (``task.retries`` by default); it decides between
    FAILED and UP_FOR_RETRY. ``execution_timeout`` is not enforced here (see the module doc).
    """
    attempt = _Try(
        task,
        dag=dag,
        run=run,
        try_number=try_number,
        max_tries=max_tries,
        client=client,
        log=log,
        clock=clock,
    )
    with task_client_active(client):  # for Variable.get, Connection.get in task code
        try:
            attempt.prepare()
            with context_active(attempt.context):  # type: ignore[arg-type]
                try:
                    _executing.append(attempt.task)
                    try:
                        result = attempt.task.execute(attempt.context)
                    finally:
                        _executing.remove(attempt.task)
                except DagRunTriggerException as request:
                    attempt.trigger_dag_run(request)
                    result = None
            return attempt.succeeded(result)
        except Exception as exc:
            return attempt.ended_with(exc)


async def arun_task(
    task: BaseOperator,
    *,
    dag: Any,
    run: RunInfo,
    try_number: int,
    client: TaskClient,
    log: logging.Logger,
    max_tries: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TaskOutcome:
    """`run_task` for an ``async def`` task, awaited in the current event loop.

    ``execution_timeout`` is a cancel scope around ``aexecute``: past it the try fails with
    `AirflowTaskTimeout` (and may be retried). A task without ``aexecute`` runs its sync
    ``execute`` in a worker thread (which a timeout cannot interrupt).
    """
    attempt = _Try(
        task,
        dag=dag,
        run=run,
        try_number=try_number,
        max_tries=max_tries,
        client=client,
        log=log,
        clock=clock,
    )
    with task_client_active(client):  # for Variable.aget, Connection.aget in task code
        try:
            if _templates_read_secrets(attempt.task):
                # `var` / `conn` in a template fetch through the sync client, which may only
                # wait for the network from a worker thread, never on the event loop.
                await anyio.to_thread.run_sync(attempt.prepare)
            else:
                attempt.prepare()
            with context_active(attempt.context):  # type: ignore[arg-type]
                try:
                    result = await _execute_with_timeout(attempt.task, attempt.context)
                except DagRunTriggerException as request:
                    # It may wait for the run: in a worker thread, never on the loop.
                    await anyio.to_thread.run_sync(attempt.trigger_dag_run, request)
                    result = None
            return attempt.succeeded(result)
        except Exception as exc:
            return attempt.ended_with(exc)


_SECRETS_IN_TEMPLATE = re.compile(r"[{][{%].*\b(var|conn)\b", re.DOTALL)


def _templates_read_secrets(task: BaseOperator) -> bool:
    """Whether a templated field may read a variable or connection (a cheap, safe guess)."""

    def mentions(value: Any, depth: int) -> bool:
        if isinstance(value, str):
            return _SECRETS_IN_TEMPLATE.search(value) is not None
        if depth > 5:
            return False
        if isinstance(value, Mapping):
            return any(mentions(item, depth + 1) for item in value.values())
        if isinstance(value, list | tuple | set | frozenset):
            return any(mentions(item, depth + 1) for item in value)
        return False

    return any(mentions(getattr(task, name, None), 0) for name in task.template_fields)


async def _execute_with_timeout(task: BaseOperator, context: dict[str, Any]) -> Any:
    timeout = task.execution_timeout
    seconds = timeout.total_seconds() if timeout is not None else float("inf")
    aexecute = getattr(task, "aexecute", None)
    result: Any = None
    with anyio.move_on_after(seconds) as scope:
        try:
            if task.is_async and aexecute is not None and inspect.iscoroutinefunction(aexecute):
                result = await aexecute(context)
            else:
                result = await anyio.to_thread.run_sync(task.execute, context)
        except anyio.get_cancelled_exc_class():
            if not scope.cancelled_caught and not scope.cancel_called:
                # Cancelled from outside (the executor stops the try): kill, then unwind.
                task.on_kill()
            raise
    if scope.cancelled_caught:
        task.on_kill()
        raise AirflowTaskTimeout(f"Task timed out after {seconds:g} seconds (execution_timeout)")
    return result
