"""Schedules: when runs happen, which data interval they cover, and how they are stored."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from zoneinfo import ZoneInfo

import pytest

from airflow_sc.sdk.timetables import (
    ContinuousTimetable,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    DeltaDataIntervalTimetable,
    DeltaTriggerTimetable,
    NullTimetable,
    OnceTimetable,
    TimeRestriction,
    Timetable,
    deserialize_timetable,
    resolve_schedule,
    serialize_timetable,
)

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def runs(
    timetable: Timetable,
    *,
    start: dt.datetime | None,
    end: dt.datetime | None = None,
    catchup: bool = True,
    now: dt.datetime,
    limit: int = 50,
) -> list[DagRunInfo]:
    """The automated runs the scheduler would create, in order, with the clock held at `now`."""
    restriction = TimeRestriction(start, end, catchup, now)
    found: list[DagRunInfo] = []
    last: DataInterval | None = None
    while len(found) < limit:
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        if info is None:
            break
        found.append(info)
        last = info.data_interval
    return found


def local(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(NEW_YORK)


# -- presets and cron strings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "first", "second"),
    [
        ("@hourly", utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)),
        ("@daily", utc(2024, 1, 2), utc(2024, 1, 3)),
        ("@weekly", utc(2024, 1, 7), utc(2024, 1, 14)),
        ("@monthly", utc(2024, 2, 1), utc(2024, 3, 1)),
        ("@quarterly", utc(2024, 4, 1), utc(2024, 7, 1)),
        ("@yearly", utc(2025, 1, 1), utc(2026, 1, 1)),
    ],
)
def test_every_preset_triggers_at_its_fire_times(
    preset: str, first: dt.datetime, second: dt.datetime
) -> None:
    # Start just after midnight on Monday 2024-01-01 so the start itself is not a fire time.
    timetable = resolve_schedule(preset, timezone="UTC")
    found = runs(timetable, start=utc(2024, 1, 1, 0, 1), now=utc(2030, 1, 1), limit=2)
    assert [r.run_after for r in found] == [first, second]
    # Airflow 3 trigger semantics: the data interval is empty at the fire time.
    assert found[0].data_interval == DataInterval(first, first)
    assert found[0].logical_date == first
    assert timetable.summary == preset


def test_a_start_date_on_a_fire_time_runs_at_the_start_date() -> None:
    found = runs(
        resolve_schedule("@daily", timezone="UTC"),
        start=utc(2024, 1, 1),
        now=utc(2030, 1, 1),
        limit=1,
    )
    assert found[0].run_after == utc(2024, 1, 1)


def test_cron_is_evaluated_in_the_dag_timezone() -> None:
    timetable = resolve_schedule("0 9 * * 1-5", timezone="America/New_York")
    found = runs(timetable, start=utc(2024, 1, 5), now=utc(2030, 1, 1), limit=3)
    # Friday 9:00 in New York, then Monday and Tuesday: weekends skipped, 14:00 UTC in winter.
    assert [r.run_after for r in found] == [
        utc(2024, 1, 5, 14),
        utc(2024, 1, 8, 14),
        utc(2024, 1, 9, 14),
    ]


def test_data_interval_timetable_runs_after_the_period_it_covers() -> None:
    timetable = CronDataIntervalTimetable("@daily", timezone="UTC")
    found = runs(timetable, start=utc(2024, 1, 1), now=utc(2030, 1, 1), limit=2)
    assert found[0].data_interval == DataInterval(utc(2024, 1, 1), utc(2024, 1, 2))
    assert found[0].logical_date == utc(2024, 1, 1)
    assert found[0].run_after == utc(2024, 1, 2)
    assert found[1].data_interval == DataInterval(utc(2024, 1, 2), utc(2024, 1, 3))


def test_trigger_timetable_with_an_interval_covers_the_preceding_period() -> None:
    timetable = CronTriggerTimetable("0 6 * * *", timezone="UTC", interval=dt.timedelta(days=1))
    (first,) = runs(timetable, start=utc(2024, 1, 1), now=utc(2030, 1, 1), limit=1)
    assert first.run_after == utc(2024, 1, 1, 6)
    assert first.data_interval == DataInterval(utc(2023, 12, 31, 6), utc(2024, 1, 1, 6))


# -- daylight saving time -------------------------------------------------------------------


def test_daily_job_inside_the_spring_forward_gap_runs_once_that_day() -> None:
    # 2024-03-10: New York clocks jump from 02:00 to 03:00; 02:30 does not exist.
    timetable = resolve_schedule("30 2 * * *", timezone="America/New_York")
    found = runs(timetable, start=utc(2024, 3, 8), now=utc(2030, 1, 1), limit=4)
    days = [local(r.run_after).date() for r in found]
    assert days == [
        dt.date(2024, 3, 8),
        dt.date(2024, 3, 9),
        dt.date(2024, 3, 10),
        dt.date(2024, 3, 11),
    ]
    assert local(found[2].run_after).time() == dt.time(3, 0)  # right after the gap
    assert local(found[3].run_after).time() == dt.time(2, 30)


def test_daily_job_inside_the_fall_back_overlap_runs_once_that_day() -> None:
    # 2024-11-03: New York clocks fall back from 02:00 to 01:00; 01:30 happens twice.
    timetable = resolve_schedule("30 1 * * *", timezone="America/New_York")
    found = runs(timetable, start=utc(2024, 11, 2), now=utc(2030, 1, 1), limit=3)
    assert [local(r.run_after).date() for r in found] == [
        dt.date(2024, 11, 2),
        dt.date(2024, 11, 3),
        dt.date(2024, 11, 4),
    ]
    assert all(local(r.run_after).time() == dt.time(1, 30) for r in found)


@pytest.mark.parametrize(
    ("day", "expected_runs"),
    [(dt.date(2024, 3, 10), 23), (dt.date(2024, 11, 3), 25), (dt.date(2024, 6, 1), 24)],
)
def test_hourly_job_runs_every_real_hour_through_dst(day: dt.date, expected_runs: int) -> None:
    start = dt.datetime.combine(day, dt.time(), NEW_YORK)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), NEW_YORK)
    timetable = resolve_schedule("@hourly", timezone="America/New_York")
    found = runs(timetable, start=start, end=end - dt.timedelta(seconds=1), now=utc(2030, 1, 1))
    assert len(found) == expected_runs
    gaps = {b.run_after - a.run_after for a, b in itertools.pairwise(found)}
    assert gaps == {dt.timedelta(hours=1)}


def test_daily_data_intervals_are_23_and_25_hours_on_dst_days() -> None:
    timetable = CronDataIntervalTimetable("@daily", timezone="America/New_York")
    spring = timetable.infer_manual_data_interval(run_after=utc(2024, 3, 11, 12))
    fall = timetable.infer_manual_data_interval(run_after=utc(2024, 11, 4, 12))
    assert spring.end - spring.start == dt.timedelta(hours=23)
    assert fall.end - fall.start == dt.timedelta(hours=25)
    assert local(spring.start).time() == dt.time(0, 0)


# -- catchup --------------------------------------------------------------------------------


def test_without_catchup_a_trigger_timetable_starts_at_the_latest_fire_time() -> None:
    timetable = resolve_schedule("@daily", timezone="UTC")
    found = runs(timetable, start=utc(2024, 1, 1), catchup=False, now=utc(2024, 6, 15, 10), limit=2)
    assert [r.run_after for r in found] == [utc(2024, 6, 15), utc(2024, 6, 16)]


def test_without_catchup_a_data_interval_timetable_starts_at_the_latest_complete_interval() -> None:
    timetable = CronDataIntervalTimetable("@daily", timezone="UTC")
    (first,) = runs(
        timetable, start=utc(2024, 1, 1), catchup=False, now=utc(2024, 6, 15, 10), limit=1
    )
    assert first.data_interval == DataInterval(utc(2024, 6, 14), utc(2024, 6, 15))


def test_without_catchup_missed_runs_after_a_pause_are_skipped() -> None:
    timetable = resolve_schedule("@daily", timezone="UTC")
    restriction = TimeRestriction(utc(2024, 1, 1), None, False, utc(2024, 6, 15, 10))
    info = timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval.exact(utc(2024, 2, 1)), restriction=restriction
    )
    assert info is not None
    assert info.run_after == utc(2024, 6, 15)


def test_with_catchup_every_missed_run_is_created() -> None:
    timetable = resolve_schedule("@daily", timezone="UTC")
    found = runs(timetable, start=utc(2024, 1, 1), end=utc(2024, 1, 10), now=utc(2024, 6, 15))
    assert [r.run_after.day for r in found] == list(range(1, 11))


def test_a_start_date_in_the_future_delays_the_first_run() -> None:
    timetable = resolve_schedule("@daily", timezone="UTC")
    (first,) = runs(
        timetable, start=utc(2024, 7, 1, 5), catchup=False, now=utc(2024, 6, 15), limit=1
    )
    assert first.run_after == utc(2024, 7, 2)


def test_no_start_date_runs_the_latest_fire_time_only_if_recent() -> None:
    timetable = resolve_schedule("@daily", timezone="UTC")
    just_after = runs(timetable, start=None, catchup=False, now=utc(2024, 6, 15, 1), limit=1)
    long_after = runs(timetable, start=None, catchup=False, now=utc(2024, 6, 15, 12), limit=1)
    immediately = CronTriggerTimetable("@daily", timezone="UTC", run_immediately=True)
    eager = runs(immediately, start=None, catchup=True, now=utc(2024, 6, 15, 12), limit=1)
    assert just_after[0].run_after == utc(2024, 6, 15)
    assert long_after[0].run_after == utc(2024, 6, 16)
    assert eager[0].run_after == utc(2024, 6, 15)


def test_timedelta_schedule_steps_from_the_start_date() -> None:
    timetable = resolve_schedule(dt.timedelta(hours=6), timezone="UTC")
    found = runs(timetable, start=utc(2024, 1, 1, 1), now=utc(2030, 1, 1), limit=3)
    assert [r.run_after for r in found] == [
        utc(2024, 1, 1, 1),
        utc(2024, 1, 1, 7),
        utc(2024, 1, 1, 13),
    ]
    interval = DeltaDataIntervalTimetable(dt.timedelta(hours=6))
    (first,) = runs(interval, start=utc(2024, 1, 1, 1), now=utc(2030, 1, 1), limit=1)
    assert first.data_interval == DataInterval(utc(2024, 1, 1, 1), utc(2024, 1, 1, 7))


# -- non-periodic timetables ----------------------------------------------------------------


def test_schedule_none_never_runs_on_its_own() -> None:
    timetable = resolve_schedule(None, timezone="UTC")
    assert isinstance(timetable, NullTimetable)
    assert not timetable.can_be_scheduled
    assert runs(timetable, start=utc(2024, 1, 1), now=utc(2030, 1, 1)) == []


def test_once_runs_exactly_once_at_the_start_date() -> None:
    found = runs(
        resolve_schedule("@once", timezone="UTC"), start=utc(2024, 1, 1, 5), now=utc(2030, 1, 1)
    )
    assert [r.run_after for r in found] == [utc(2024, 1, 1, 5)]
    assert runs(OnceTimetable(), start=None, now=utc(2024, 2, 2))[0].run_after == utc(2024, 2, 2)


def test_continuous_runs_back_to_back_covering_the_time_since_the_last_run() -> None:
    timetable = resolve_schedule("@continuous", timezone="UTC")
    assert timetable.active_runs_limit == 1
    restriction = TimeRestriction(utc(2024, 1, 1), None, False, utc(2024, 1, 1, 12))
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first == DagRunInfo.interval(utc(2024, 1, 1), utc(2024, 1, 1, 12))
    later = restriction._replace(now=utc(2024, 1, 1, 12, 5))
    second = timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=later
    )
    assert second == DagRunInfo.interval(utc(2024, 1, 1, 12), utc(2024, 1, 1, 12, 5))
    ended = restriction._replace(latest=utc(2024, 1, 1, 6))
    assert timetable.next_dagrun_info(last_automated_data_interval=None, restriction=ended) is None


# -- manual runs ----------------------------------------------------------------------------


def test_manual_runs_get_the_data_interval_of_their_timetable() -> None:
    at = utc(2024, 5, 5, 10, 30)
    assert resolve_schedule("@daily", timezone="UTC").infer_manual_data_interval(run_after=at) == (
        DataInterval.exact(at)
    )
    assert CronDataIntervalTimetable("@daily").infer_manual_data_interval(
        run_after=at
    ) == DataInterval(utc(2024, 5, 4), utc(2024, 5, 5))
    assert NullTimetable().infer_manual_data_interval(run_after=at) == DataInterval.exact(at)


# -- resolving and storing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("not a cron", "invalid schedule"),
        ("@fortnightly", "unknown schedule preset"),
        (dt.timedelta(0), "must be positive"),
        (42, "got int"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(schedule: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        resolve_schedule(schedule, timezone="UTC")


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        resolve_schedule("@daily", timezone="Mars/Olympus_Mons")


def test_naive_datetimes_are_refused_at_the_interface() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DataInterval(dt.datetime(2024, 1, 1), utc(2024, 1, 2))


def test_a_timetable_passed_as_schedule_is_used_as_is() -> None:
    timetable = DeltaDataIntervalTimetable(dt.timedelta(days=1))
    assert resolve_schedule(timetable, timezone="UTC") is timetable


ALL_BUILTINS: list[Timetable] = [
    NullTimetable(),
    OnceTimetable(),
    ContinuousTimetable(),
    CronTriggerTimetable(
        "30 2 * * 1-5", timezone="Europe/Amsterdam", interval=dt.timedelta(hours=2)
    ),
    CronTriggerTimetable("@hourly", timezone="UTC", run_immediately=dt.timedelta(minutes=3)),
    DeltaTriggerTimetable(dt.timedelta(minutes=90), interval=dt.timedelta(minutes=90)),
    CronDataIntervalTimetable("@quarterly", timezone="Asia/Kolkata"),
    DeltaDataIntervalTimetable(dt.timedelta(days=2, seconds=1)),
]


@pytest.mark.parametrize("timetable", ALL_BUILTINS, ids=lambda t: type(t).__name__)
def test_every_builtin_survives_a_json_round_trip(timetable: Timetable) -> None:
    stored = json.loads(json.dumps(serialize_timetable(timetable)))
    rebuilt = deserialize_timetable(stored)
    assert rebuilt == timetable
    assert type(rebuilt) is type(timetable)
    restriction = TimeRestriction(utc(2024, 3, 1), None, True, utc(2024, 3, 5))
    assert rebuilt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction) == (
        timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    )


def test_custom_timetables_register_themselves() -> None:
    class EveryNoon(Timetable):
        type_name = "tests.every_noon"

        def next_dagrun_info(
            self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
        ) -> DagRunInfo | None:
            return None

    assert isinstance(deserialize_timetable(serialize_timetable(EveryNoon())), EveryNoon)
    with pytest.raises(ValueError, match="unknown timetable type"):
        deserialize_timetable({"__type": "nobody.knows", "__var": {}})
