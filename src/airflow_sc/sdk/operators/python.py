"""`PythonOperator` and the Python-callable branching operators.

The callable gets ``op_args`` positionally, ``op_kwargs`` by name, and, by name, exactly
the context entries its signature asks for (all of them when it takes ``**kwargs``), like
Airflow. ``async def`` callables make the operator `is_async`; the in-process executor
awaits `aexecute`, and `execute` runs them on a private event loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, ClassVar

from airflow_sc.sdk.baseoperator import BaseOperator
from airflow_sc.sdk.skipping import SkipDecision, branch_decision, short_circuit_decision

__all__ = [
    "BranchPythonOperator",
    "PythonOperator",
    "ShortCircuitOperator",
    "callable_kwargs",
]


def callable_kwargs(
    function: Callable[..., Any], op_args: Collection[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The entries of `kwargs` that `function` accepts, after `op_args` fill its positions.

    Raises `ValueError` when a position `op_args` fills is also a key of `kwargs`.
    """
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    positional = [
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ][: len(op_args)]
    for name in positional:
        if name in kwargs:
            raise ValueError(
                f"The key {name!r} in args is a part of kwargs and therefore reserved."
            )
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return dict(kwargs)
    accepted = {p.name for p in parameters if p.kind != p.POSITIONAL_ONLY}
    return {name: value for name, value in kwargs.items() if name in accepted}


class PythonOperator(BaseOperator):
    """Call a Python function; its return value is the task's return value."""

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "templates_dict": "json",
        "op_args": "py",
        "op_kwargs": "py",
    }
    ui_color: ClassVar[str] = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: Mapping[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise self._error("python_callable must be callable")
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = dict(templates_dict) if templates_dict is not None else None
        if templates_exts:
            self.template_ext = tuple(templates_exts)  # type: ignore[misc]
        self.show_return_value_in_logs = show_return_value_in_logs
        self.is_async = inspect.iscoroutinefunction(python_callable)

    def _call_kwargs(self, context: Mapping[str, Any]) -> dict[str, Any]:
        merged = {**context, "templates_dict": self.templates_dict, **self.op_kwargs}
        return callable_kwargs(self.python_callable, self.op_args, merged)

    def execute(self, context: Mapping[str, Any]) -> Any:
        if self.is_async:
            import anyio

            return anyio.run(self.aexecute, context)
        value = self.python_callable(*self.op_args, **self._call_kwargs(context))
        return self._finish(value, context)

    async def aexecute(self, context: Mapping[str, Any]) -> Any:
        """Await an ``async def`` callable (what the in-process executor calls)."""
        value = self.python_callable(*self.op_args, **self._call_kwargs(context))
        if inspect.isawaitable(value):
            value = await value
        return self._finish(value, context)

    def _finish(self, value: Any, context: Mapping[str, Any]) -> Any:
        """Turn the callable's value into the task's result (branch operators decide here)."""
        if self.show_return_value_in_logs:
            self.log.info("Done. Returned value was: %r", value)
        return value


class BranchPythonOperator(PythonOperator):
    """The callable returns the task id(s) to follow; other direct downstream tasks skip."""

    def _finish(self, value: Any, context: Mapping[str, Any]) -> SkipDecision:
        decision = branch_decision(self, value)
        self.log.info(
            "Following branch %s; skipping %s", sorted(decision.follow), sorted(decision.skip)
        )
        return decision


class ShortCircuitOperator(PythonOperator):
    """Continue when the callable returns a truthy value; otherwise skip downstream tasks."""

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def _finish(self, value: Any, context: Mapping[str, Any]) -> SkipDecision:
        decision = short_circuit_decision(
            self, value, ignore_downstream_trigger_rules=self.ignore_downstream_trigger_rules
        )
        if decision.skip:
            self.log.info("Condition %r is falsy; skipping %s", value, sorted(decision.skip))
        return decision
