"""Turn what a task group raised into the one error a user should see."""

from __future__ import annotations

from airflow_sc.runtime.components import ComponentFailed


def leaf_exceptions(exc: BaseException) -> list[BaseException]:
    """Every non-group exception inside `exc`, depth first, in raise order."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(leaf_exceptions(inner))
        return out
    return [exc]


def first_component_failure(exc: BaseException) -> ComponentFailed | None:
    """The component failure that started the unwinding, if one did."""
    for leaf in leaf_exceptions(exc):
        if isinstance(leaf, ComponentFailed):
            return leaf
    return None
