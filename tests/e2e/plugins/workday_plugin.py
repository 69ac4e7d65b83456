"""A plugin written for Airflow 3: a workday timetable, a macro and a listener of task
instances and DAG runs."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin
from airflow.task.priority_strategy import PriorityWeightStrategy
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

SATURDAY = 5


def _previous_workday(day: pendulum.DateTime) -> pendulum.DateTime:
    while day.weekday() >= SATURDAY:
        day = day.subtract(days=1)
    return day


def _next_workday(day: pendulum.DateTime) -> pendulum.DateTime:
    while day.weekday() >= SATURDAY:
        day = day.add(days=1)
    return day


class WorkdayTimetable(Timetable):
    """One run per workday (Monday to Friday), covering that day, due once it has ended."""

    @property
    def summary(self) -> str:
        return "workdays"

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        start = _previous_workday(run_after.start_of("day"))
        return DataInterval(start=start, end=start.add(days=1))

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        if last_automated_data_interval is not None:
            start = _next_workday(last_automated_data_interval.start.add(days=1))
        else:
            if restriction.earliest is None:
                return None
            start = _next_workday(restriction.earliest.start_of("day"))
            if not restriction.catchup:
                latest_done = _previous_workday(
                    pendulum.now("UTC").start_of("day").subtract(days=1)
                )
                start = max(start, latest_done)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start=start, end=start + timedelta(days=1))


def workdays_between(start: str, end: str) -> int:
    """Workdays from `start` (included) to `end` (excluded), both YYYY-MM-DD."""
    day, stop = pendulum.parse(start), pendulum.parse(end)
    count = 0
    while day < stop:
        count += day.weekday() < SATURDAY
        day = day.add(days=1)
    return count


class MarkingListener:
    """Appends one line per task-instance or DAG-run event to the file $LISTENER_MARKS names."""

    def _write(self, line: str) -> None:
        path = os.environ.get("LISTENER_MARKS")
        if path:
            with open(path, "a") as marks:
                marks.write(line + "\n")

    def _mark(self, event: str, task_instance) -> None:
        self._write(f"{event} {task_instance.dag_id}.{task_instance.task_id}")

    @hookimpl
    def on_dag_run_running(self, dag_run, msg):
        self._write(f"run running {dag_run.dag_id}")

    @hookimpl
    def on_dag_run_success(self, dag_run, msg):
        self._write(f"run success {dag_run.dag_id} {msg}")

    @hookimpl
    def on_dag_run_failed(self, dag_run, msg):
        self._write(f"run failed {dag_run.dag_id} {msg}")

    @hookimpl
    def on_task_instance_running(self, previous_state, task_instance):
        self._mark("running", task_instance)

    @hookimpl
    def on_task_instance_success(self, previous_state, task_instance):
        self._mark("success", task_instance)

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error):
        self._mark(f"failed({type(error).__name__})", task_instance)


class ScaledPriority(PriorityWeightStrategy):
    """A custom weight rule: `base` plus the task's own weight times its downstream count."""

    def __init__(self, base: int = 0) -> None:
        self.base = base

    def serialize(self):
        return {"base": self.base}

    def get_weight(self, ti):
        return self.base + ti.task.priority_weight * (1 + len(ti.task.downstream_task_ids))


class WorkdayPlugin(AirflowPlugin):
    name = "workday_plugin"
    timetables = [WorkdayTimetable]
    macros = [workdays_between]
    listeners = [MarkingListener()]
    priority_weight_strategies = [ScaledPriority]
