"""The scheduler's stages: one module each, each a `serve_*` loop (DESIGN section 2)."""

from airflow_sc.scheduler.stages.create_runs import serve_create_runs
from airflow_sc.scheduler.stages.enqueue import serve_enqueue
from airflow_sc.scheduler.stages.executor_events import serve_executor_events
from airflow_sc.scheduler.stages.schedule_tis import serve_schedule_tis
from airflow_sc.scheduler.stages.start_runs import serve_start_runs

__all__ = [
    "serve_create_runs",
    "serve_enqueue",
    "serve_executor_events",
    "serve_schedule_tis",
    "serve_start_runs",
]
