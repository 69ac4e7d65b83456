"""The HTTP API: Airflow-compatible REST API v2 and the execution API, on Starlette."""

from airflow_sc.api.app import ApiContext, create_app
from airflow_sc.api.service import serve_api

__all__ = ["ApiContext", "create_app", "serve_api"]
