"""The supervision tree: root task group, signals, two-phase shutdown, HTTP serving."""

from airflow_sc.runtime.components import Component, ComponentFailed, serve_components
from airflow_sc.runtime.errors import first_component_failure
from airflow_sc.runtime.http_server import HttpEndpoint, serve_http
from airflow_sc.runtime.shutdown import Shutdown
from airflow_sc.runtime.signals import serve_signals

__all__ = [
    "Component",
    "ComponentFailed",
    "HttpEndpoint",
    "Shutdown",
    "first_component_failure",
    "serve_components",
    "serve_http",
    "serve_signals",
]
