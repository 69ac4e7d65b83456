"""When a DAG's next scheduled run is due: its timetable applied to its last run."""

from __future__ import annotations

from datetime import datetime

from airflow_sc.sdk.timetables import DagRunInfo, DataInterval, TimeRestriction
from airflow_sc.serialization.spec import DagSpec


def next_dagrun_info(
    spec: DagSpec, *, last_automated: DataInterval | None, now: datetime
) -> DagRunInfo | None:
    """The next run the timetable asks for after `last_automated` (None: none is due)."""
    if not spec.timetable.can_be_scheduled:
        return None
    restriction = TimeRestriction(spec.start_date, spec.end_date, spec.catchup, now)
    return spec.timetable.next_dagrun_info(
        last_automated_data_interval=last_automated, restriction=restriction
    )
