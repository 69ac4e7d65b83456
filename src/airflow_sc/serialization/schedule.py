"""When a DAG's next scheduled run is due: its timetable applied to its last run."""

from __future__ import annotations

import logging
from datetime import datetime

from airflow_sc.sdk.timetables import DagRunInfo, DataInterval, TimeRestriction
from airflow_sc.serialization.spec import DagSpec

log = logging.getLogger(__name__)


def next_dagrun_info(
    spec: DagSpec, *, last_automated: DataInterval | None, now: datetime
) -> DagRunInfo | None:
    """The next run the timetable asks for after `last_automated` (None: none is due)."""
    if not spec.timetable.can_be_scheduled:
        return None
    restriction = TimeRestriction(spec.start_date, spec.end_date, spec.catchup, now)
    timetable = spec.timetable
    if type(timetable).__module__.startswith("airflow_sc."):
        return timetable.next_dagrun_info(
            last_automated_data_interval=last_automated, restriction=restriction
        )
    # A timetable from the plugins folder is user code: its error must not stop the
    # scheduler. The DAG gets no next run until the timetable works.
    try:
        return timetable.next_dagrun_info(
            last_automated_data_interval=last_automated, restriction=restriction
        )
    except Exception:
        log.exception(
            "DAG %r: the timetable %s failed; no run is scheduled", spec.dag_id, type(timetable)
        )
        return None
