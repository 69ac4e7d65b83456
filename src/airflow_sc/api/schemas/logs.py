"""Response body of the task log route (Airflow's `TaskInstancesLogResponse`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["StructuredLogMessage", "TaskInstancesLogResponse"]


class StructuredLogMessage(BaseModel):
    """One log record: `event` is the message; other keys (level, logger, ...) pass through."""

    model_config = ConfigDict(extra="allow")

    timestamp: datetime | None = None
    event: str


class TaskInstancesLogResponse(BaseModel):
    content: list[StructuredLogMessage] | list[str]
    #: Pass back as `token` to read on from where this response stopped; null at the end.
    continuation_token: str | None
