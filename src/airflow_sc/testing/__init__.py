"""Public test support for airflow-sc and for projects that embed it.

`airflow_sc.testing.plugin` is a pytest plugin (load it with `-p airflow_sc.testing.plugin`):
it runs async tests on both anyio backends and provides real databases: an SQLite file per
test and a throwaway PostgreSQL database per session. `InMemoryExecutor` is the executor
test double.
"""

from airflow_sc.testing.executor import InMemoryExecutor, Outcome
from airflow_sc.testing.services import open_service_group

__all__ = ["InMemoryExecutor", "Outcome", "open_service_group"]
