"""Typed settings, read once at start-up and passed down."""

from airflow_sc.config.errors import ConfigError
from airflow_sc.config.loading import load_settings, resolve_home
from airflow_sc.config.settings import (
    ApiSettings,
    CoreSettings,
    DagProcessorSettings,
    DatabaseSettings,
    ExecutorSettings,
    LoggingSettings,
    SchedulerSettings,
    Settings,
)

__all__ = [
    "ApiSettings",
    "ConfigError",
    "CoreSettings",
    "DagProcessorSettings",
    "DatabaseSettings",
    "ExecutorSettings",
    "LoggingSettings",
    "SchedulerSettings",
    "Settings",
    "load_settings",
    "resolve_home",
]
