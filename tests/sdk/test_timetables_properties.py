"""Properties every periodic schedule keeps, over many expressions, timezones and dates."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sc.sdk.timetables import (
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DataInterval,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    TimeRestriction,
    Timetable,
)
from airflow_sc.sdk.timetables._cron import CronSchedule

UTC = dt.UTC

EXPRESSIONS = [
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
    "*/15 * * * *",
    "30 2 * * *",
    "30 1 * * *",
    "0 0,2,3 * * *",
    "45 23 * * 1-5",
    "0 */4 * * *",
    "15 3 1,15 * *",
]
TIMEZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"]

instants = st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(UTC)
)
cron_timetables = st.builds(
    lambda expr, tz, intervals: (
        CronDataIntervalTimetable(expr, timezone=tz)
        if intervals
        else CronTriggerTimetable(expr, timezone=tz)
    ),
    st.sampled_from(EXPRESSIONS),
    st.sampled_from(TIMEZONES),
    st.booleans(),
)
delta_timetables = st.builds(
    lambda minutes, intervals: (
        DeltaDataIntervalTimetable(dt.timedelta(minutes=minutes))
        if intervals
        else DeltaTriggerTimetable(dt.timedelta(minutes=minutes))
    ),
    st.integers(min_value=1, max_value=60 * 24 * 40),
    st.booleans(),
)
timetables = st.one_of(cron_timetables, delta_timetables)


def scheduled(
    timetable: Timetable, restriction: TimeRestriction, limit: int = 12
) -> list[DataInterval]:
    intervals: list[DataInterval] = []
    last: DataInterval | None = None
    for _ in range(limit):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        if info is None:
            break
        assert info.run_after == info.data_interval.end
        intervals.append(info.data_interval)
        last = info.data_interval
    return intervals


@settings(max_examples=150, deadline=None)
@given(
    timetables,
    instants,
    st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=400)),
    instants,
    st.booleans(),
)
def test_runs_increase_and_stay_between_start_and_end(
    timetable: Timetable, start: dt.datetime, span: dt.timedelta, now: dt.datetime, catchup: bool
) -> None:
    end = start + span
    found = scheduled(timetable, TimeRestriction(start, end, catchup, now))
    logical_dates = [interval.start for interval in found]
    assert logical_dates == sorted(set(logical_dates)), "runs must be strictly increasing"
    trigger_times = [interval.end for interval in found]
    assert trigger_times == sorted(set(trigger_times))
    for interval in found:
        # Trigger timetables: the run is at the fire time; data-interval ones: the logical date.
        assert start <= interval.start <= end
    for earlier, later in itertools.pairwise(found):
        assert earlier.end <= later.start or earlier.start == earlier.end


@settings(max_examples=150, deadline=None)
@given(cron_timetables, instants, instants)
def test_without_catchup_the_first_run_is_the_latest_complete_interval(
    timetable: Timetable, start: dt.datetime, now: dt.datetime
) -> None:
    start = min(start, now)
    restriction = TimeRestriction(start, None, False, now)
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert info is not None
    schedule = CronSchedule(timetable.summary, timetable.serialize()["timezone"])
    if isinstance(timetable, CronTriggerTimetable):
        expected = max(schedule.align_down(now), schedule.align_up(start))
        assert info.run_after == expected
        assert info.run_after <= now or info.run_after == schedule.align_up(start)
    else:
        latest_end = schedule.align_down(now)
        if schedule.align_up(start) <= schedule.prev_before(latest_end):
            assert info.data_interval.end == latest_end
            assert info.run_after <= now


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.sampled_from(TIMEZONES), instants)
def test_cron_queries_agree_with_each_other(expression: str, timezone: str, t: dt.datetime) -> None:
    schedule = CronSchedule(expression, timezone)
    after = schedule.next_after(t)
    before = schedule.prev_before(t)
    assert before < t < after
    # Nothing fires strictly between the previous and the next fire time around t.
    fires_at_t = schedule.align_up(t) == t
    assert schedule.next_after(before) == (t if fires_at_t else after)
    assert schedule.prev_before(after) == (t if fires_at_t else before)
    assert schedule.align_down(t) <= t <= schedule.align_up(t)
