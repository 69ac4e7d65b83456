"""Walking a DAG's task graph: the tasks reachable from a set of tasks."""

from __future__ import annotations

from collections.abc import Collection, Mapping

__all__ = ["reachable"]


def reachable(start: Collection[str], edges: Mapping[str, Collection[str]]) -> set[str]:
    """Every task an edge path leads to from `start` (`start` itself only on a cycle).

    `edges` maps a task id to its direct neighbours in the walked direction (downstream
    task ids, or upstream ones to walk up).
    """
    found: set[str] = set()
    stack = list(start)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in found:
                found.add(nxt)
                stack.append(nxt)
    return found
