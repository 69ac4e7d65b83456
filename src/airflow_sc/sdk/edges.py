"""Edge labels: `a >> Label("on success") >> b` annotates the edge a -> b in the graph view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .dependencies import DependencyMixin, connect

if TYPE_CHECKING:
    from .baseoperator import BaseOperator

__all__ = ["EdgeModifier", "Label"]


class EdgeModifier(DependencyMixin):
    """Stands between two sides of `>>`; every edge it completes carries its info.

    It remembers what was put upstream and downstream of it and links each new side to
    everything already on the other side, so it works written left-to-right or with `<<`.
    """

    def __init__(self, label: str | None = None) -> None:
        self.label = label
        self._upstream: list[DependencyMixin] = []
        self._downstream: list[DependencyMixin] = []

    @property
    def edge_info(self) -> dict[str, Any]:
        """What the DAG stores for each edge this modifier completes."""
        return {"label": self.label} if self.label is not None else {}

    @property
    def roots(self) -> list[BaseOperator]:
        return [task for item in self._downstream for task in item.roots]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [task for item in self._upstream for task in item.leaves]

    def add_upstream(self, items: list[DependencyMixin]) -> None:
        self._upstream.extend(items)
        if items and self._downstream:
            connect(items, self._downstream, self)

    def add_downstream(self, items: list[DependencyMixin]) -> None:
        self._downstream.extend(items)
        if items and self._upstream:
            connect(self._upstream, items, self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"


class Label(EdgeModifier):
    """An edge label shown in the graph view."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
