"""Task dependencies: the `>>` / `<<` operators, `chain`, `chain_linear`, `cross_downstream`.

Anything that can stand on either side of `>>` is a `DependencyMixin`: an operator, an
`XComArg` (its operator), a `TaskGroup` (its roots downstream of an edge, its leaves
upstream) or an edge `Label`. Lists stand for each of their members.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from ._sites import user_site

if TYPE_CHECKING:
    from .baseoperator import BaseOperator
    from .edges import EdgeModifier

__all__ = ["DependencyMixin", "Relatives", "chain", "chain_linear", "connect", "cross_downstream"]

Relatives: TypeAlias = "DependencyMixin | Sequence[DependencyMixin]"


class DependencyMixin:
    """Something that can be upstream or downstream of tasks."""

    @property
    def roots(self) -> list[BaseOperator]:
        """The tasks an edge into this object lands on."""
        raise NotImplementedError

    @property
    def leaves(self) -> list[BaseOperator]:
        """The tasks an edge out of this object starts from."""
        raise NotImplementedError

    def set_upstream(self, other: Relatives, edge_modifier: EdgeModifier | None = None) -> None:
        """Make `other` run before this."""
        connect(other, self, edge_modifier)

    def set_downstream(self, other: Relatives, edge_modifier: EdgeModifier | None = None) -> None:
        """Make `other` run after this."""
        connect(self, other, edge_modifier)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        # `[a, b] >> self`
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        # `[a, b] << self`
        self.set_downstream(other)
        return self


def _members(relatives: Any) -> list[DependencyMixin]:
    if isinstance(relatives, DependencyMixin):
        return [relatives]
    if isinstance(relatives, Iterable) and not isinstance(relatives, str | bytes):
        items = list(relatives)
        for item in items:
            if not isinstance(item, DependencyMixin):
                raise TypeError(f"cannot set a dependency on {type(item).__name__} {item!r}")
        return items
    raise TypeError(f"cannot set a dependency on {type(relatives).__name__} {relatives!r}")


def connect(upstream: Any, downstream: Any, edge_modifier: EdgeModifier | None = None) -> None:
    """Add an edge from every leaf of `upstream` to every root of `downstream`."""
    from .edges import EdgeModifier

    ups = _members(upstream)
    downs = _members(downstream)
    up_labels = [u for u in ups if isinstance(u, EdgeModifier)]
    down_labels = [d for d in downs if isinstance(d, EdgeModifier)]
    ups = [u for u in ups if not isinstance(u, EdgeModifier)]
    downs = [d for d in downs if not isinstance(d, EdgeModifier)]
    for label in down_labels:
        label.add_upstream(ups)
    for label in up_labels:
        label.add_downstream(downs)
    if not ups or not downs:
        return
    up_tasks = [task for u in ups for task in u.leaves]
    down_tasks = [task for d in downs for task in d.roots]
    site = user_site()
    for up_task in up_tasks:
        for down_task in down_tasks:
            up_task.add_downstream_task(down_task, edge_modifier, site)


def chain(*tasks: Relatives) -> None:
    """Link consecutive arguments; two lists in a row must be equally long and pair up."""
    for up, down in itertools.pairwise(tasks):
        if isinstance(up, DependencyMixin):
            up.set_downstream(down)
            continue
        if isinstance(down, DependencyMixin):
            down.set_upstream(up)
            continue
        if len(up) != len(down):
            raise ValueError(
                f"chain() of two lists needs equal lengths; got {len(up)} and {len(down)}"
            )
        for up_item, down_item in zip(up, down, strict=True):
            up_item.set_downstream(down_item)


def chain_linear(*elements: Relatives) -> None:
    """Link each argument to every member of the next one (all-to-all between neighbours)."""
    from .edges import EdgeModifier

    previous: Sequence[DependencyMixin] | None = None
    linked = False
    for element in elements:
        if isinstance(element, EdgeModifier):
            raise ValueError("chain_linear() does not accept labels")
        if previous is not None:
            for item in previous:
                item.set_downstream(element)
                linked = True
        previous = [element] if isinstance(element, DependencyMixin) else list(element)
    if not linked:
        raise ValueError("chain_linear() set no dependencies; did you forget to unpack with `*`?")


def cross_downstream(from_tasks: Sequence[Relatives], to_tasks: Relatives) -> None:
    """Make every task of `to_tasks` run after every task of `from_tasks`."""
    for task in from_tasks:
        connect(task, to_tasks)
