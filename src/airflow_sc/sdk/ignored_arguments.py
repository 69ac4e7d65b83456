"""Arguments Airflow accepts that have no effect in airflow-sc yet, and their warning.

A DAG file that passes one still parses (Airflow accepts it), and airflow-sc says so once
per process and argument with an `IgnoredArgumentWarning` (the DAG processor logs the
warnings of each file it parses). `DAG_ARGUMENTS`, `TASK_ARGUMENTS` and
`OPERATOR_ARGUMENTS` are the lists ``docs/dag-authoring.md`` prints.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from ._sites import Site

__all__ = [
    "DAG_ARGUMENTS",
    "OPERATOR_ARGUMENTS",
    "TASK_ARGUMENTS",
    "IgnoredArgumentWarning",
    "warn_ignored",
]


class IgnoredArgumentWarning(UserWarning):
    """An argument Airflow acts on was given, and airflow-sc does not act on it yet."""


#: DAG / @dag arguments: name -> why it has no effect.
DAG_ARGUMENTS: Mapping[str, str] = {
    "access_control": "airflow-sc has no per-DAG permissions; roles apply to every DAG",
    "owner_links": "no UI shows owner links yet",
    "deadline": "deadline alerts are not supported yet",
    "auto_register": "every DAG a file creates is registered",
    "disable_bundle_versioning": "airflow-sc has no DAG bundles",
}

#: BaseOperator / @task arguments: name -> why it has no effect.
TASK_ARGUMENTS: Mapping[str, str] = {
    "queue": "queues route work to Celery workers, which airflow-sc does not have yet",
    "executor_config": "executors take no per-task configuration yet",
    "resources": "task resources are not used by any airflow-sc executor",
    "map_index_template": "dynamic task mapping is not supported yet",
    "inlets": "assets and lineage are not supported yet",
    "outlets": "assets and lineage are not supported yet",
}

#: Operator-specific arguments: "Operator.argument" -> why it has no effect.
OPERATOR_ARGUMENTS: Mapping[str, str] = {
    "TriggerDagRunOperator.deferrable": (
        "airflow-sc has no triggerer yet: the task waits for the run in its own process"
    ),
    "PythonVirtualenvOperator.index_urls_from_connection_ids": (
        "package indexes are taken from index_urls only"
    ),
}

_warned: set[str] = set()


def warn_ignored(key: str, reason: str, site: Site) -> None:
    """Warn, once per process, that `key` (an argument, or an operator) has no effect."""
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn_explicit(
        f"{key} has no effect in airflow-sc yet: {reason}",
        IgnoredArgumentWarning,
        filename=site.filename,
        lineno=site.lineno,
    )


def reset_warnings() -> None:
    """Warn again for every argument (tests)."""
    _warned.clear()
