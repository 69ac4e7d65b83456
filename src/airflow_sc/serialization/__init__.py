"""Serialized DAGs: the only form of a DAG the scheduler, API and executors read.

`encode.py` turns an authored `airflow_sc.sdk.DAG` into canonical JSON (in the DAG
processor's child processes); `spec.py` rebuilds a light, immutable `DagSpec` from that
JSON without importing any user code.
"""

from airflow_sc.serialization.spec import (
    FORMAT_VERSION,
    TASK_ORDER_KEYS,
    DagSpec,
    SerializationError,
    TaskSpec,
    content_hash,
)

__all__ = [
    "FORMAT_VERSION",
    "TASK_ORDER_KEYS",
    "DagSpec",
    "SerializationError",
    "TaskSpec",
    "content_hash",
]
