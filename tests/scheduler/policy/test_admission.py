"""The enqueue decision: pools, parallelism, per-run and per-task caps, priority order."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sc.domain import DagRunKey, TaskInstanceKey
from airflow_sc.scheduler.policy import (
    ActiveCounts,
    Admission,
    Blocked,
    Candidate,
    PoolState,
    admission_order,
    admit,
)

DAY = datetime(2025, 1, 1, tzinfo=UTC)


def ti(
    task: str,
    *,
    run: str = "r1",
    dag: str = "d",
    map_index: int = -1,
    pool: str = "default_pool",
    slots: int = 1,
    priority: int = 1,
    day: int | None = 0,
    max_active_tasks: int = 16,
    per_dag: int | None = None,
    per_run: int | None = None,
) -> Candidate:
    return Candidate(
        TaskInstanceKey(dag, run, task, map_index, 1),
        pool=pool,
        pool_slots=slots,
        priority_weight=priority,
        logical_date=None if day is None else DAY + timedelta(days=day),
        max_active_tasks=max_active_tasks,
        max_active_tis_per_dag=per_dag,
        max_active_tis_per_dagrun=per_run,
    )


def queued_ids(result: Admission) -> list[str]:
    return [c.key.task_id for c in result.queued]


def reasons(result: Admission) -> dict[str, Blocked]:
    return {c.key.task_id: reason for c, reason in result.blocked}


def pools(**sizes: int) -> dict[str, PoolState]:
    return {name: PoolState(size) for name, size in sizes.items()}


def test_highest_priority_goes_first() -> None:
    result = admit(
        [ti("low", priority=1), ti("high", priority=9)],
        pools=pools(default_pool=1),
        active=ActiveCounts(),
        parallelism=None,
    )
    assert queued_ids(result) == ["high"]
    assert reasons(result) == {"low": Blocked.POOL_FULL}


def test_ties_break_by_logical_date_then_task_id() -> None:
    candidates = [ti("b", day=1), ti("c", day=0), ti("a", day=1), ti("undated", day=None)]
    result = admit(
        candidates, pools=pools(default_pool=-1), active=ActiveCounts(), parallelism=None
    )
    assert queued_ids(result) == ["c", "a", "b", "undated"]


def test_a_full_pool_does_not_block_other_pools() -> None:
    result = admit(
        [ti("big", pool="gpu", priority=9), ti("small", pool="cpu", priority=1)],
        pools={"gpu": PoolState(2, occupied=2), "cpu": PoolState(4)},
        active=ActiveCounts(),
        parallelism=None,
    )
    assert queued_ids(result) == ["small"]
    assert reasons(result) == {"big": Blocked.POOL_FULL}


def test_a_smaller_task_fills_slots_a_bigger_one_cannot_use() -> None:
    result = admit(
        [ti("three", slots=3, priority=9), ti("one", slots=1, priority=1)],
        pools=pools(default_pool=2),
        active=ActiveCounts(),
        parallelism=None,
    )
    assert queued_ids(result) == ["one"]


def test_pool_slots_beyond_the_pool_size_can_never_run() -> None:
    result = admit(
        [ti("huge", slots=5), ti("nowhere", pool="missing"), ti("fine")],
        pools=pools(default_pool=4),
        active=ActiveCounts(),
        parallelism=0,  # even with no capacity at all, these are reported for what they are
    )
    assert reasons(result) == {
        "huge": Blocked.EXCEEDS_POOL_SIZE,
        "nowhere": Blocked.UNKNOWN_POOL,
        "fine": Blocked.PARALLELISM,
    }
    assert {c.key.task_id for c, _ in result.never_runnable} == {"huge", "nowhere"}


def test_parallelism_counts_what_already_runs() -> None:
    result = admit(
        [ti("a"), ti("b"), ti("c")],
        pools=pools(default_pool=-1),
        active=ActiveCounts(total=3),
        parallelism=5,
    )
    assert queued_ids(result) == ["a", "b"]
    assert reasons(result) == {"c": Blocked.PARALLELISM}


def test_max_active_tasks_applies_per_dag_run() -> None:
    # Airflow 3: each run of a DAG gets its own max_active_tasks (r2 already has one active).
    result = admit(
        [
            ti("a", run="r1", max_active_tasks=2),
            ti("b", run="r1", max_active_tasks=2),
            ti("c", run="r2", max_active_tasks=2, day=1),
            ti("d", run="r2", max_active_tasks=2, day=1),
        ],
        pools=pools(default_pool=-1),
        active=ActiveCounts(per_dag_run={DagRunKey("d", "r2"): 1}),
        parallelism=None,
    )
    assert queued_ids(result) == ["a", "b", "c"]
    assert reasons(result) == {"d": Blocked.MAX_ACTIVE_TASKS}


def test_max_active_tis_per_dag_spans_runs() -> None:
    result = admit(
        [
            ti("t", run="r1", per_dag=2),
            ti("t", run="r2", per_dag=2, day=1),
            ti("t", run="r3", per_dag=2, day=2),
        ],
        pools=pools(default_pool=-1),
        active=ActiveCounts(per_dag_task={("d", "t"): 1}),
        parallelism=None,
    )
    assert [c.key.run_id for c in result.queued] == ["r1"]
    assert [reason for _, reason in result.blocked] == [Blocked.MAX_ACTIVE_TIS_PER_DAG] * 2


def test_max_active_tis_per_dagrun_caps_mapped_instances_of_one_run() -> None:
    mapped = [ti("m", map_index=i, per_run=2) for i in range(4)] + [ti("m", run="r2", per_run=2)]
    result = admit(mapped, pools=pools(default_pool=-1), active=ActiveCounts(), parallelism=None)
    assert [(c.key.run_id, c.key.map_index) for c in result.queued] == [
        ("r1", 0),
        ("r1", 1),
        ("r2", -1),
    ]
    assert {reason for _, reason in result.blocked} == {Blocked.MAX_ACTIVE_TIS_PER_DAGRUN}


def test_duplicate_candidates_are_rejected() -> None:
    with pytest.raises(ValueError, match="twice"):
        admit(
            [ti("a"), ti("a")], pools=pools(default_pool=1), active=ActiveCounts(), parallelism=None
        )


def test_invalid_pool_slots_are_rejected() -> None:
    with pytest.raises(ValueError, match="pool_slots"):
        ti("a", slots=0)


# -- properties --------------------------------------------------------------------------


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Candidate], dict[str, PoolState], ActiveCounts, int | None]:
    pool_map = {
        name: PoolState(slots, occupied=draw(st.integers(0, 4)) if slots >= 0 else 0)
        for name, slots in zip(
            ["p1", "p2", "p3"],
            draw(st.lists(st.integers(-1, 6), min_size=3, max_size=3)),
            strict=True,
        )
    }
    # Limits belong to the DAG / task, so they are drawn once per DAG and per task.
    dag_limit = {d: draw(st.integers(1, 4)) for d in ["d1", "d2"]}
    task_limits = {
        (d, t): (draw(st.none() | st.integers(0, 3)), draw(st.none() | st.integers(0, 3)))
        for d in ["d1", "d2"]
        for t in ["t1", "t2", "t3"]
    }
    keys = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["d1", "d2"]),
                st.sampled_from(["r1", "r2"]),
                st.sampled_from(["t1", "t2", "t3"]),
                st.integers(-1, 3),
            ),
            unique=True,
            max_size=25,
        )
    )
    candidates = []
    for dag, run, task, map_index in keys:
        per_dag, per_run = task_limits[(dag, task)]
        candidates.append(
            Candidate(
                TaskInstanceKey(dag, run, task, map_index, 1),
                pool=draw(st.sampled_from(["p1", "p2", "p3", "p4"])),
                pool_slots=draw(st.integers(1, 3)),
                priority_weight=draw(st.integers(0, 4)),
                logical_date=DAY + timedelta(days=int(run[1])),
                max_active_tasks=dag_limit[dag],
                max_active_tis_per_dag=per_dag,
                max_active_tis_per_dagrun=per_run,
            )
        )
    small = st.integers(0, 3)
    active = ActiveCounts(
        total=draw(small),
        per_dag_run={DagRunKey(d, r): draw(small) for d in ["d1", "d2"] for r in ["r1", "r2"]},
        per_dag_task={k: draw(small) for k in task_limits},
        per_dag_run_task={(d, r, t): draw(small) for (d, t) in task_limits for r in ["r1", "r2"]},
    )
    parallelism = draw(st.none() | st.integers(0, 12))
    return candidates, pool_map, active, parallelism


def violated(
    c: Candidate,
    queued: list[Candidate],
    pool_map: dict[str, PoolState],
    active: ActiveCounts,
    parallelism: int | None,
) -> set[Blocked]:
    """Every limit ``c`` would break if added to ``queued`` (an independent recount)."""
    out: set[Blocked] = set()
    pool = pool_map.get(c.pool)
    if pool is None:
        return {Blocked.UNKNOWN_POOL}
    if not pool.unlimited and c.pool_slots > pool.slots:
        out.add(Blocked.EXCEEDS_POOL_SIZE)
    if parallelism is not None and active.total + len(queued) + 1 > parallelism:
        out.add(Blocked.PARALLELISM)
    used = sum(q.pool_slots for q in queued if q.pool == c.pool)
    if not pool.unlimited and pool.occupied + used + c.pool_slots > pool.slots:
        out.add(Blocked.POOL_FULL)
    in_run = sum(q.dag_run == c.dag_run for q in queued)
    if active.per_dag_run.get(c.dag_run, 0) + in_run + 1 > c.max_active_tasks:
        out.add(Blocked.MAX_ACTIVE_TASKS)
    cap = c.max_active_tis_per_dag
    of_task = sum(q.dag_task == c.dag_task for q in queued)
    if cap is not None and active.per_dag_task.get(c.dag_task, 0) + of_task + 1 > cap:
        out.add(Blocked.MAX_ACTIVE_TIS_PER_DAG)
    cap = c.max_active_tis_per_dagrun
    of_run_task = sum(q.dag_run_task == c.dag_run_task for q in queued)
    if cap is not None and active.per_dag_run_task.get(c.dag_run_task, 0) + of_run_task + 1 > cap:
        out.add(Blocked.MAX_ACTIVE_TIS_PER_DAGRUN)
    return out


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_admission_is_safe_ordered_and_maximal(
    scenario: tuple[list[Candidate], dict[str, PoolState], ActiveCounts, int | None],
) -> None:
    candidates, pool_map, active, parallelism = scenario
    result = admit(candidates, pools=pool_map, active=active, parallelism=parallelism)
    queued = list(result.queued)

    # Every candidate is either queued or blocked, once.
    assert Counter(c.key for c in queued) + Counter(c.key for c, _ in result.blocked) == Counter(
        c.key for c in candidates
    )
    # Priority order.
    assert queued == sorted(queued, key=admission_order)
    # Safe: each admitted candidate fit next to those admitted before it.
    for i, c in enumerate(queued):
        assert not violated(c, queued[:i], pool_map, active, parallelism)
    # Maximal: each blocked candidate still breaks the limit it was blocked by.
    for c, reason in result.blocked:
        assert reason in violated(c, queued, pool_map, active, parallelism)
    # Within a pool, a lower-priority task instance only overtakes a higher one that needs
    # more slots than were left.
    position = {c.key: i for i, c in enumerate(sorted(candidates, key=admission_order))}
    for c, reason in result.blocked:
        if reason is Blocked.POOL_FULL:
            later = [q for q in queued if q.pool == c.pool and position[q.key] > position[c.key]]
            assert all(q.pool_slots < c.pool_slots for q in later)
