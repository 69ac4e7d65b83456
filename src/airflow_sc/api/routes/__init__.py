"""Routes, one module per resource; each module exposes `router` (an `APIRouter`).

`ROUTERS` lists the routers mounted under `/api/v2`, in OpenAPI order. A new resource
module adds its router here.
"""

from fastapi import APIRouter

from airflow_sc.api.routes import (
    connections,
    dag_runs,
    dags,
    logs,
    monitor,
    pools,
    task_instances,
    variables,
    xcom,
)

ROUTERS: list[APIRouter] = [
    monitor.router,
    dags.router,
    dag_runs.router,
    task_instances.router,
    logs.router,
    xcom.router,
    pools.router,
    variables.router,
    connections.router,
]
