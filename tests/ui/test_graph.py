"""The Graph's layout in plain code: longest-path layers, ordering, edges and labels."""

from __future__ import annotations

from airflow_sc.ui.graph import collapse_groups, layout_graph
from airflow_sc.ui.grid import grid_rows


def test_layers_are_longest_paths_and_edges_point_right() -> None:
    # a -> b -> c, a -> c, d alone: c is two layers after a, not one.
    upstream = {"a": set(), "b": {"a"}, "c": {"a", "b"}, "d": set()}
    layout = layout_graph(["a", "d", "b", "c"], upstream, {("a", "b"): "ok"})
    nodes = {n.task_id: n for n in layout.nodes}
    assert {t: n.layer for t, n in nodes.items()} == {"a": 0, "d": 0, "b": 1, "c": 2}
    assert nodes["a"].x == nodes["d"].x < nodes["b"].x < nodes["c"].x
    assert nodes["a"].y < nodes["d"].y  # the DAG's order within a layer
    assert sorted((e.upstream, e.downstream) for e in layout.edges) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]
    for edge in layout.edges:
        start = nodes[edge.upstream]
        assert edge.path.startswith(f"M{start.x + start.width:.1f},")
    assert [e.label for e in layout.edges if e.label] == ["ok"]
    assert layout.width >= nodes["c"].x + nodes["c"].width
    assert layout.height >= nodes["d"].y + nodes["d"].height


def test_a_layer_orders_tasks_under_their_upstream() -> None:
    # x's child listed first, but y's children sit next to y: mean upstream position wins.
    upstream = {"x": set(), "y": set(), "y1": {"y"}, "x1": {"x"}}
    layout = layout_graph(["x", "y", "y1", "x1"], upstream)
    nodes = {n.task_id: n for n in layout.nodes}
    assert nodes["x1"].y < nodes["y1"].y


def test_long_task_ids_are_shortened_to_fit_the_node() -> None:
    long_id = "a_very_long_task_id_" * 5
    layout = layout_graph([long_id], {})
    node = layout.nodes[0]
    assert node.label.endswith("…")
    assert len(node.label) < len(long_id)


def test_no_tasks_is_an_empty_drawing() -> None:
    layout = layout_graph([], {})
    assert layout.nodes == []
    assert layout.edges == []


def test_a_collapsed_group_is_one_node_with_its_tasks_edges() -> None:
    groups = {
        "": {"parent": None, "children": ["start", "stage", "end"]},
        "stage": {"parent": None, "children": ["stage.a", "stage.b"]},
    }
    task_group = {"stage.a": "stage", "stage.b": "stage"}
    order = ["start", "stage.a", "stage.b", "end"]
    upstream = {"stage.a": {"start"}, "stage.b": {"stage.a"}, "end": {"stage.b", "start"}}
    labels = {("start", "end"): "skip", ("stage.a", "stage.b"): "inside"}
    nodes, up, kept = collapse_groups(grid_rows(order, groups, task_group, []), upstream, labels)
    assert nodes == ["start", "stage", "end"]
    assert up == {"start": set(), "stage": {"start"}, "end": {"stage", "start"}}
    assert kept == {("start", "end"): "skip"}
    layout = layout_graph(nodes, up, kept)
    assert [n.layer for n in layout.nodes] == [0, 1, 2]
    opened = grid_rows(order, groups, task_group, ["stage"])
    nodes, up, kept = collapse_groups(opened, upstream, labels)
    assert nodes == order
    assert up["stage.b"] == {"stage.a"}
    assert kept == labels
