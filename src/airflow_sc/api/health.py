"""What `GET /api/v2/monitor/health` answers, decided in plain code.

The route reads the latest heartbeat per job type with a quick probe (`PROBE_RETRY`: the
answer must come quickly during an outage). When the database does not answer, the metadata
database is unhealthy and so is every component that had a running job at the last
successful read: none of them can work without the database. Their last known heartbeat
is reported as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

__all__ = ["COMPONENTS", "LastHeartbeats", "health_body", "unhealthy_parts"]

#: job.job_type (Airflow's names) -> (field in the health response, its heartbeat field)
COMPONENTS: Final = {
    "SchedulerJob": ("scheduler", "latest_scheduler_heartbeat"),
    "TriggererJob": ("triggerer", "latest_triggerer_heartbeat"),
    "DagProcessorJob": ("dag_processor", "latest_dag_processor_heartbeat"),
}


#: How each part of the health answer is named to a user (the UI's banner).
_LABELS: Final = {
    "metadatabase": "the metadata database",
    "scheduler": "the scheduler",
    "triggerer": "the triggerer",
    "dag_processor": "the DAG processor",
}


def unhealthy_parts(body: Mapping[str, Any]) -> tuple[str, ...]:
    """What a health answer reports unhealthy, named for a user, in a fixed order."""
    return tuple(
        label
        for field, label in _LABELS.items()
        if isinstance(part := body.get(field), Mapping) and part.get("status") == "unhealthy"
    )


class LastHeartbeats:
    """The heartbeats of the latest successful health read (one per API context)."""

    __slots__ = ("beats",)

    def __init__(self) -> None:
        self.beats: dict[str, datetime] = {}


def health_body(
    beats: Mapping[str, datetime] | None,
    *,
    last_known: Mapping[str, datetime],
    now: datetime,
    heartbeat_timeout: float,
) -> dict[str, Any]:
    """The response body; `beats` is None when the database did not answer."""
    reachable = beats is not None
    body: dict[str, Any] = {"metadatabase": {"status": "healthy" if reachable else "unhealthy"}}
    shown = beats if beats is not None else last_known
    for job_type, (field, beat_field) in COMPONENTS.items():
        beat = shown.get(job_type)
        if beat is None:
            status = None
        elif not reachable:
            status = "unhealthy"
        else:
            fresh = (now - beat).total_seconds() <= heartbeat_timeout
            status = "healthy" if fresh else "unhealthy"
        body[field] = {"status": status, beat_field: beat.isoformat() if beat else None}
    return body
