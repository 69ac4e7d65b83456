"""Public test support for airflow-sc and for projects that embed it.

`airflow_sc.testing.plugin` is a pytest plugin (load it with `-p airflow_sc.testing.plugin`):
it runs async tests on both anyio backends and provides real databases: an SQLite file per
test and a throwaway PostgreSQL database per session.
"""

from airflow_sc.testing.services import open_service_group

__all__ = ["open_service_group"]
