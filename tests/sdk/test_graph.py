"""Pure graph algorithms: topological order respects every edge; cycles are real paths."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_sc.sdk.graph import find_cycle, topological_order

edges = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20)


def graph_of(pairs: list[tuple[int, int]]) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {str(n): [] for n in range(8)}
    for up, down in pairs:
        graph[str(up)].append(str(down))
    return graph


@settings(max_examples=200, deadline=None)
@given(edges)
def test_cycle_or_order(pairs: list[tuple[int, int]]) -> None:
    graph = graph_of(pairs)
    cycle = find_cycle(graph)
    if cycle is not None:
        assert cycle[0] == cycle[-1]
        for up, down in itertools.pairwise(cycle):
            assert down in graph[up]
        return
    order = topological_order(graph)
    assert sorted(order) == sorted(graph)
    position = {node: i for i, node in enumerate(order)}
    for up, downs in graph.items():
        for down in downs:
            assert position[up] < position[down]


def test_independent_nodes_keep_their_order() -> None:
    assert topological_order({"c": [], "a": ["b"], "b": [], "d": []}) == ["c", "a", "b", "d"]


def test_deep_chains_do_not_overflow_the_stack() -> None:
    chain = {str(i): [str(i + 1)] for i in range(20_000)}
    chain["20000"] = ["0"]
    cycle = find_cycle(chain)
    assert cycle is not None
    assert len(cycle) == 20_002
