from __future__ import annotations

from airflow_sc.domain import DagRunKey, TaskInstanceKey


def test_keys_are_values_usable_as_dict_keys() -> None:
    a = TaskInstanceKey("dag", "run", "task", map_index=3, try_number=2)
    same = TaskInstanceKey("dag", "run", "task", 3, 2)
    assert a == same
    assert {a: 1}[same] == 1
    assert a.dag_run_key == DagRunKey("dag", "run")


def test_tries_of_one_task_instance_share_its_primary_identity() -> None:
    first = TaskInstanceKey("dag", "run", "task")
    second = first.with_try_number(2)
    assert second != first
    assert second.primary == first.primary == ("dag", "run", "task", -1)
    assert (first.map_index, first.try_number) == (-1, 0)
