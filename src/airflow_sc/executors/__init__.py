"""Executors: where task instances run (local processes, in-process async, Celery)."""

from airflow_sc.executors.base import Executor, TaskEvent, Workload

__all__ = ["Executor", "TaskEvent", "Workload"]
