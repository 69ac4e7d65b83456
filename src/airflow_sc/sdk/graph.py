"""Pure graph algorithms over task ids: topological order and cycle finding."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

__all__ = ["find_cycle", "topological_order"]


def find_cycle(downstream: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle as a path ``[a, b, ..., a]``, or None when the graph is acyclic.

    `downstream` maps each node to its direct successors; iteration order decides which
    cycle is reported when there are several. Iterative, so deep graphs do not overflow.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(downstream, white)
    for start in downstream:
        if colour[start] != white:
            continue
        path = [start]
        iterators = [iter(sorted(downstream[start]))]
        colour[start] = grey
        while iterators:
            child = next(iterators[-1], None)
            if child is None:
                colour[path.pop()] = black
                iterators.pop()
                continue
            state = colour.get(child, white)
            if state == grey:
                return [*path[path.index(child) :], child]
            if state == white:
                colour[child] = grey
                path.append(child)
                iterators.append(iter(sorted(downstream.get(child, ()))))
    return None


def topological_order(downstream: Mapping[str, Iterable[str]]) -> list[str]:
    """Every node after all its upstream nodes; ties keep `downstream`'s order.

    Raises `ValueError` on a cycle (call `find_cycle` first for a useful message).
    """
    indegree = dict.fromkeys(downstream, 0)
    for children in downstream.values():
        for child in children:
            indegree[child] = indegree.get(child, 0) + 1
    position = {node: i for i, node in enumerate(indegree)}
    ready = [(position[node], node) for node, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for child in downstream.get(node, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (position[child], child))
    if len(order) != len(indegree):
        raise ValueError("the graph has a cycle")
    return order
