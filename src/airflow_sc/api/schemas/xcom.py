"""Response bodies of the XCom routes, with Airflow's names and fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from airflow_sc.api.schemas.stored import StoredDocument
from airflow_sc.db.queries.api_xcom import XComRow

__all__ = [
    "XComCollectionResponse",
    "XComResponse",
    "XComResponseNative",
    "XComResponseString",
]


class XComResponse(BaseModel):
    """An entry without its value (listings)."""

    key: str
    timestamp: datetime
    logical_date: datetime | None
    map_index: int
    task_id: str
    dag_id: str
    run_id: str
    dag_display_name: str
    task_display_name: str
    run_after: datetime

    @staticmethod
    def fields_of(row: XComRow) -> dict[str, Any]:
        return {
            "key": row.key,
            "timestamp": row.timestamp,
            "logical_date": row.logical_date,
            "map_index": row.map_index,
            "task_id": row.task_id,
            "dag_id": row.dag_id,
            "run_id": row.run_id,
            "dag_display_name": row.dag_display_name,
            "task_display_name": row.task_display_name,
            "run_after": row.run_after,
        }

    @classmethod
    def of(cls, row: XComRow) -> XComResponse:
        return cls(**cls.fields_of(row))


class XComResponseNative(XComResponse):
    """An entry with its value as JSON."""

    value: StoredDocument


class XComResponseString(XComResponse):
    """An entry with its value as a string (`stringify=true`)."""

    value: str | None


class XComCollectionResponse(BaseModel):
    xcom_entries: list[XComResponse]
    total_entries: int
