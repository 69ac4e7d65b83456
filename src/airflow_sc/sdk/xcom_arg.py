"""References to values known only at run time: task outputs (`XComArg`) and DAG params.

Passing an `XComArg` into another task's arguments makes that task downstream of the
producer. The task runner replaces references with values through `resolve_references`,
given how to pull an XCom and the run's params.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .dependencies import DependencyMixin

if TYPE_CHECKING:
    from .baseoperator import BaseOperator
    from .dag import DAG

__all__ = [
    "XCOM_RETURN_KEY",
    "DagParam",
    "XComArg",
    "XComPull",
    "iter_references",
    "iter_xcom_args",
    "resolve_references",
]

XCOM_RETURN_KEY = "return_value"

#: ``pull(task_id, key)`` -> the XCom value that task pushed in this run.
XComPull = Callable[[str, str], Any]


class XComArg(DependencyMixin):
    """The XCom `key` (default: the return value) that `operator` pushes."""

    def __init__(self, operator: BaseOperator, key: str = XCOM_RETURN_KEY) -> None:
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        """The XCom pushed under `key` (a key of a ``multiple_outputs`` result)."""
        return XComArg(self.operator, key)

    def __iter__(self) -> Iterator[Any]:
        # Without this, Python would iterate by calling __getitem__(0), (1), ... forever.
        raise TypeError("an XComArg is not iterable at parse time; its value exists at run time")

    @property
    def roots(self) -> list[BaseOperator]:
        return [self.operator]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [self.operator]

    def resolve(self, pull: XComPull) -> Any:
        return pull(self.operator.task_id, self.key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, XComArg):
            return NotImplemented
        return self.operator is other.operator and self.key == other.key

    def __hash__(self) -> int:
        return hash((id(self.operator), self.key))

    def __repr__(self) -> str:
        if self.key == XCOM_RETURN_KEY:
            return f"XComArg({self.operator!r})"
        return f"XComArg({self.operator!r}, {self.key!r})"


class DagParam:
    """An argument of a `@dag` function: resolves to the run's value of that param."""

    def __init__(self, dag: DAG, name: str) -> None:
        self.dag = dag
        self.name = name

    def resolve(self, params: Mapping[str, Any]) -> Any:
        return params[self.name]

    def __repr__(self) -> str:
        return f"DagParam({self.dag.dag_id!r}, {self.name!r})"


def iter_references(value: Any) -> Iterator[XComArg | DagParam]:
    """Every reference inside `value` (lists, tuples, sets and dict values, nested)."""
    if isinstance(value, XComArg | DagParam):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from iter_references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_references(item)


def iter_xcom_args(value: Any) -> Iterator[XComArg]:
    """Every `XComArg` inside `value`."""
    for ref in iter_references(value):
        if isinstance(ref, XComArg):
            yield ref


def resolve_references(value: Any, *, pull: XComPull, params: Mapping[str, Any]) -> Any:
    """A copy of `value` with every reference replaced by its value for this run."""
    if isinstance(value, XComArg):
        return value.resolve(pull)
    if isinstance(value, DagParam):
        return value.resolve(params)
    if isinstance(value, list):
        return [resolve_references(v, pull=pull, params=params) for v in value]
    if isinstance(value, tuple):
        items = [resolve_references(v, pull=pull, params=params) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, set | frozenset):
        return type(value)(resolve_references(v, pull=pull, params=params) for v in value)
    if isinstance(value, dict):
        return {k: resolve_references(v, pull=pull, params=params) for k, v in value.items()}
    return value
