"""The Graph of a DAG page, laid out in plain code: tasks in layers, edges between them.

Layers run left to right: a task's layer is the length of the longest path from a task
without upstream to it, so every edge points rightwards. Within a layer, tasks are
ordered by the mean position of their upstream tasks (one pass, which keeps chains
straight), ties in the DAG's task order. The page draws the result as SVG; nothing is
laid out in the browser.

Task groups are collapsed unless opened (`collapse_groups`): a collapsed group is one node
standing for its tasks, with the edges of its tasks to the outside, so a DAG of 100 groups
draws 100 nodes until a group is opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from airflow_sc.ui.grid import GridRow, task_order

__all__ = ["GraphEdge", "GraphLayout", "GraphNode", "collapse_groups", "layout_graph"]

NODE_HEIGHT = 32
LAYER_GAP = 70
ROW_GAP = 14
MARGIN = 10
CHAR_WIDTH = 7.2
MIN_WIDTH = 90
MAX_WIDTH = 300


@dataclass(frozen=True, slots=True)
class GraphNode:
    task_id: str
    layer: int
    x: float
    y: float
    width: float
    height: float
    #: The task id as drawn (shortened with an ellipsis when wider than the node).
    label: str


@dataclass(frozen=True, slots=True)
class GraphEdge:
    upstream: str
    downstream: str
    #: An SVG path (a cubic curve from the upstream's right side to the downstream's left).
    path: str
    label: str | None
    label_x: float
    label_y: float


@dataclass(frozen=True, slots=True)
class GraphLayout:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    width: float
    height: float


def collapse_groups(
    rows: Sequence[GridRow],
    upstream: Mapping[str, Iterable[str]],
    edge_labels: Mapping[tuple[str, str], str],
) -> tuple[list[str], dict[str, set[str]], dict[tuple[str, str], str]]:
    """The nodes of the Graph whose Grid has `rows` (a collapsed group row is one node,
    an open group's row none), in dependency order, with their upstream nodes and the
    labels of edges that still join two tasks."""
    node_of: dict[str, str] = {}
    nodes: list[str] = []
    for row in rows:
        if row.group and not row.expanded:
            nodes.append(row.id)
            node_of.update((t, row.id) for t in row.tasks)
        elif not row.group:
            nodes.append(row.id)
            node_of[row.id] = row.id
    members: dict[str, list[str]] = {}
    for task_id, node in node_of.items():
        members.setdefault(node, []).append(task_id)
    up: dict[str, set[str]] = {}
    for node in nodes:
        up[node] = {
            node_of[u]
            for t in members.get(node, ())
            for u in upstream.get(t, ())
            if u in node_of and node_of[u] != node
        }
    labels = {
        (a, b): text
        for (a, b), text in edge_labels.items()
        if node_of.get(a) == a and node_of.get(b) == b
    }
    return task_order(nodes, up), up, labels


def _layers(task_ids: Sequence[str], upstream: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Longest-path layers; `task_ids` is in dependency order (upstream first)."""
    layer: dict[str, int] = {}
    for task_id in task_ids:
        parents = [layer[u] for u in upstream.get(task_id, ()) if u in layer]
        layer[task_id] = 1 + max(parents) if parents else 0
    return layer


def _label(task_id: str, width: float) -> str:
    fits = int((width - 16) / CHAR_WIDTH)
    return task_id if len(task_id) <= fits else task_id[: max(fits - 1, 1)] + "…"


def layout_graph(
    task_ids: Sequence[str],
    upstream: Mapping[str, Iterable[str]],
    edge_labels: Mapping[tuple[str, str], str] | None = None,
) -> GraphLayout:
    """`task_ids` in dependency order (`grid.task_order`); `upstream[t]`: t's upstream ids;
    `edge_labels[(up, down)]`: a label drawn on that edge."""
    layer_of = _layers(task_ids, upstream)
    order = {task_id: i for i, task_id in enumerate(task_ids)}
    layers: dict[int, list[str]] = {}
    for task_id in task_ids:
        layers.setdefault(layer_of[task_id], []).append(task_id)
    slot: dict[str, float] = {}
    for number in sorted(layers):
        members = layers[number]

        def key(task_id: str) -> tuple[float, int]:
            parents = [slot[u] for u in upstream.get(task_id, ()) if u in slot]
            mean = sum(parents) / len(parents) if parents else float(order[task_id])
            return (mean, order[task_id])

        members.sort(key=key)
        for i, task_id in enumerate(members):
            slot[task_id] = float(i)
    nodes: dict[str, GraphNode] = {}
    x = float(MARGIN)
    height = 0.0
    for number in sorted(layers):
        members = layers[number]
        width = min(max(MIN_WIDTH, max(len(t) for t in members) * CHAR_WIDTH + 16), MAX_WIDTH)
        for i, task_id in enumerate(members):
            y = MARGIN + i * (NODE_HEIGHT + ROW_GAP)
            nodes[task_id] = GraphNode(
                task_id, number, x, y, width, NODE_HEIGHT, _label(task_id, width)
            )
            height = max(height, y + NODE_HEIGHT + MARGIN)
        x += width + LAYER_GAP
    labels = edge_labels or {}
    edges: list[GraphEdge] = []
    for task_id in task_ids:
        child = nodes[task_id]
        for parent_id in sorted(upstream.get(task_id, ()), key=lambda u: order.get(u, 0)):
            parent = nodes.get(parent_id)
            if parent is None:
                continue
            x1, y1 = parent.x + parent.width, parent.y + parent.height / 2
            x2, y2 = child.x, child.y + child.height / 2
            bend = (x2 - x1) / 2
            path = (
                f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} "
                f"{x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            )
            edges.append(
                GraphEdge(
                    parent_id,
                    task_id,
                    path,
                    labels.get((parent_id, task_id)),
                    (x1 + x2) / 2,
                    (y1 + y2) / 2 - 4,
                )
            )
    width = x - LAYER_GAP + MARGIN if nodes else 2 * MARGIN
    return GraphLayout(list(nodes.values()), edges, width, max(height, 2 * MARGIN))
