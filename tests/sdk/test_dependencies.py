"""Dependencies between tasks: `>>`, `<<`, lists, chain helpers and edge labels."""

from __future__ import annotations

import pytest

from airflow_sc.sdk import (
    DAG,
    DagDefinitionError,
    EmptyOperator,
    Label,
    chain,
    chain_linear,
    cross_downstream,
)


def ops(dag: DAG, *ids: str) -> list[EmptyOperator]:
    return [EmptyOperator(task_id=task_id, dag=dag) for task_id in ids]


def edges(dag: DAG) -> set[tuple[str, str]]:
    return {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}


def test_shift_operators_and_lists_set_both_directions() -> None:
    with DAG("deps") as dag:
        a, b, c, d = ops(dag, "a", "b", "c", "d")
        a >> [b, c]
        [b, c] >> d
        a << EmptyOperator(task_id="first")
    assert edges(dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("first", "a")}
    assert d.upstream_task_ids == {"b", "c"}
    assert {t.task_id for t in dag.roots} == {"first"}
    assert {t.task_id for t in dag.leaves} == {"d"}


def test_shift_returns_the_right_operand_for_chaining() -> None:
    with DAG("deps") as dag:
        a, b, c = ops(dag, "a", "b", "c")
        result = a >> b >> c
        assert result is c
    assert edges(dag) == {("a", "b"), ("b", "c")}


def test_set_upstream_and_downstream_methods() -> None:
    with DAG("deps") as dag:
        a, b, c = ops(dag, "a", "b", "c")
        b.set_upstream(a)
        b.set_downstream([c])
    assert edges(dag) == {("a", "b"), ("b", "c")}
    assert [t.task_id for t in b.upstream_list] == ["a"]
    assert [t.task_id for t in b.downstream_list] == ["c"]


def test_chain_pairs_equal_lists_and_fans_out_single_tasks() -> None:
    with DAG("chain") as dag:
        start, x1, x2, y1, y2, end = ops(dag, "start", "x1", "x2", "y1", "y2", "end")
        chain(start, [x1, x2], [y1, y2], end)
    assert edges(dag) == {
        ("start", "x1"),
        ("start", "x2"),
        ("x1", "y1"),
        ("x2", "y2"),
        ("y1", "end"),
        ("y2", "end"),
    }


def test_chain_rejects_lists_of_different_lengths() -> None:
    with DAG("chain") as dag:
        a, b, c = ops(dag, "a", "b", "c")
        with pytest.raises(ValueError, match="equal lengths; got 2 and 1"):
            chain([a, b], [c])


def test_chain_linear_connects_every_member_of_neighbouring_elements() -> None:
    with DAG("linear") as dag:
        a, b, c, d, e = ops(dag, "a", "b", "c", "d", "e")
        chain_linear(a, [b, c], [d, e])
    assert edges(dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("b", "e"), ("c", "d"), ("c", "e")}


def test_chain_linear_needs_two_elements() -> None:
    with DAG("linear") as dag:
        (a,) = ops(dag, "a")
        with pytest.raises(ValueError, match="forget to unpack"):
            chain_linear([a])


def test_cross_downstream_links_every_pair() -> None:
    with DAG("cross") as dag:
        a, b, c, d = ops(dag, "a", "b", "c", "d")
        cross_downstream([a, b], [c, d])
    assert edges(dag) == {("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")}


def test_labels_annotate_edges_in_both_directions() -> None:
    with DAG("labels") as dag:
        a, b, c, d = ops(dag, "a", "b", "c", "d")
        a >> Label("on success") >> [b, c]
        d << Label("backwards") << c
    assert edges(dag) == {("a", "b"), ("a", "c"), ("c", "d")}
    assert dag.get_edge_info("a", "b") == {"label": "on success"}
    assert dag.get_edge_info("a", "c") == {"label": "on success"}
    assert dag.get_edge_info("c", "d") == {"label": "backwards"}
    assert dag.get_edge_info("b", "c") == {}


def test_set_downstream_with_edge_modifier() -> None:
    with DAG("labels") as dag:
        a, b = ops(dag, "a", "b")
        a.set_downstream(b, edge_modifier=Label("why"))
    assert dag.edge_info == {("a", "b"): {"label": "why"}}


def test_tasks_of_different_dags_cannot_depend_on_each_other() -> None:
    first, second = DAG("first"), DAG("second")
    (a,) = ops(first, "a")
    (b,) = ops(second, "b")
    with pytest.raises(DagDefinitionError, match="different DAGs"):
        a >> b


def test_a_task_without_dag_joins_the_dag_of_its_relative() -> None:
    with DAG("joined") as dag:
        (a,) = ops(dag, "a")
    loose = EmptyOperator(task_id="loose")
    a >> loose
    assert dag.get_task("loose") is loose
    assert loose.dag is dag


def test_tasks_without_any_dag_cannot_be_linked() -> None:
    a = EmptyOperator(task_id="a")
    b = EmptyOperator(task_id="b")
    with pytest.raises(DagDefinitionError, match="neither task has a DAG"):
        a >> b


def test_non_task_operands_are_rejected() -> None:
    with DAG("bad") as dag:
        (a,) = ops(dag, "a")
        with pytest.raises(TypeError, match="cannot set a dependency on str"):
            a >> "b"
