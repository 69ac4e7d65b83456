"""Run a DAG's callbacks for one finished run (inside a forked child of a zygote only).

A parsing zygote (`parse_program.py`) forks a child per request, as it does to parse a
file; a request that carries a ``callback`` lands here instead of in `parsing.parse_file`.
The child sends all of its output (``print``, ``logging``, tracebacks) to the callback log
file, imports the DAG file, finds the DAG and calls each callable of ``on_success_callback`` or
``on_failure_callback`` in turn with the run's context. A callable that raises is logged and
the next one still runs. The answer has the shape of a parse answer: ``errors`` lists what
failed (also written to the log), ``logged`` says the log has the details.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_sc.dag_processing.parsing import import_dag_file
from airflow_sc.sdk import DAG
from airflow_sc.sdk import macros as macros_module
from airflow_sc.sdk.context import RunInfo, to_pendulum
from airflow_sc.sdk.dag import capture_dags

__all__ = ["CallbackDagRun", "build_callback_context", "run_callbacks"]

log = logging.getLogger("airflow_sc.dag_callbacks")


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackDagRun(RunInfo):
    """``dag_run`` in a DAG callback's context: the finished run, with its state."""

    state: str
    end_date: dt.datetime | None = None


def run_callbacks(
    path: str,
    dags_folder: str | None,
    request: Mapping[str, Any],
    *,
    switch: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Run the callbacks `request` names; returns an answer, never raises but what
    `switch` (called once the log is open, before the DAG file is imported) raises."""
    from airflow_sc.secrets.masking import SecretsMasker
    from airflow_sc.task_runner.logs import capture_process_output

    # Kept open until the child exits (it exits right after answering).
    capture_process_output(Path(request["log_path"]), SecretsMasker())
    try:
        switch()
    except Exception as exc:
        log.error("Not running the callbacks: %s", exc)
        raise
    dag_id, run_id, kind = request["dag_id"], request["run_id"], request["kind"]
    log.info(
        "Running %s of DAG %s for run %s (reason: %s) from %s",
        kind,
        dag_id,
        run_id,
        request.get("reason"),
        path,
    )
    try:
        dag = _load_dag(path, dags_folder, dag_id)
    except BaseException:  # the file's own error, or the DAG is gone
        message = f"cannot load DAG {dag_id} from {path}:\n{traceback.format_exc()}"
        log.error("%s", message)
        return _answer(path, [message])
    callbacks = list(getattr(dag, kind, None) or [])
    if not callbacks:
        log.warning("DAG %s no longer defines %s: nothing to run", dag_id, kind)
        return _answer(path, [])
    context = build_callback_context(dag, request)
    errors = []
    for callback in callbacks:
        name = getattr(callback, "__qualname__", None) or repr(callback)
        log.info("Calling %s", name)
        try:
            callback(context)
        except BaseException:  # a callback's error (even SystemExit) stops only itself
            message = f"{kind} {name} of DAG {dag_id} failed:\n{traceback.format_exc()}"
            log.error("%s", message)
            errors.append(message)
        else:
            log.info("%s finished", name)
    return _answer(path, errors)


def build_callback_context(dag: DAG, request: Mapping[str, Any]) -> dict[str, Any]:
    """The context a DAG callback receives: the DAG, its run, and why the run finished.

    Airflow's run-level template names (``dag``, ``dag_run``, ``run_id``, ``params``,
    ``logical_date``, ``ds``, ``ts``, ``data_interval_start``, ...) plus ``reason``
    (``success``, ``task_failure``, ``timed_out``, ``all_tasks_deadlocked``). There is no
    task and no task instance; date names are absent for runs without a logical date.
    """
    run = _dag_run(request)
    params = _params(dag, run.conf)
    context: dict[str, Any] = {
        "dag": dag,
        "dag_run": run,
        "run_id": run.run_id,
        "reason": request.get("reason"),
        "params": params,
        "macros": macros_module,
        "start_date": run.start_date,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
    }
    if run.logical_date is not None:
        logical_date = run.logical_date
        ds = logical_date.strftime("%Y-%m-%d")
        ts = logical_date.isoformat()
        context.update(
            logical_date=logical_date,
            ds=ds,
            ds_nodash=ds.replace("-", ""),
            ts=ts,
            ts_nodash=logical_date.strftime("%Y%m%dT%H%M%S"),
            ts_nodash_with_tz=ts.replace("-", "").replace(":", ""),
        )
    return context


def _params(dag: DAG, conf: Mapping[str, Any]) -> dict[str, Any]:
    """The run's params: its conf over the DAG's defaults (unvalidated if they do not fit)."""
    try:
        return dag.params.resolve(conf)
    except Exception:  # the run failed, perhaps for this very reason: still call back
        return {**dict(dag.params), **conf}


def _dag_run(request: Mapping[str, Any]) -> CallbackDagRun:
    facts = dict(request.get("run") or {})
    # pendulum DateTimes in UTC, as in a task's context.
    dates = {
        name: to_pendulum(dt.datetime.fromisoformat(facts[name])) if facts.get(name) else None
        for name in (
            "run_after",
            "logical_date",
            "data_interval_start",
            "data_interval_end",
            "start_date",
            "end_date",
        )
    }
    return CallbackDagRun(
        run_id=request["run_id"],
        dag_id=request["dag_id"],
        run_after=dates["run_after"] or to_pendulum(dt.datetime.now(dt.UTC)),
        logical_date=dates["logical_date"],
        data_interval_start=dates["data_interval_start"],
        data_interval_end=dates["data_interval_end"],
        start_date=dates["start_date"],
        end_date=dates["end_date"],
        conf=dict(facts.get("conf") or {}),
        run_type=str(facts.get("run_type") or "manual"),
        state=str(facts.get("state") or request.get("state") or ""),
    )


def _load_dag(path: str, dags_folder: str | None, dag_id: str) -> DAG:
    if dags_folder and dags_folder not in sys.path:
        sys.path.insert(0, dags_folder)  # DAG files may import modules next to them
    with capture_dags() as found:
        import_dag_file(path)
    for dag in found:
        if dag.dag_id == dag_id:
            return dag
    raise LookupError(f"{path} does not define DAG {dag_id!r} any more")


def _answer(path: str, errors: list[str]) -> dict[str, Any]:
    return {
        "path": path,
        "dags": [],
        "errors": [{"filename": path, "stacktrace": e} for e in errors],
        "logged": True,
    }
