"""airflow-sc: an Airflow-compatible workflow orchestrator built on structured concurrency."""

from airflow_sc._version import __version__

__all__ = ["__version__"]
