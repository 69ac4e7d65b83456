"""Listeners: objects (or modules) whose hook functions run when task instances and DAG
runs change state, as Airflow's listener plugins.

A listener defines any of the hooks below by name, usually marked with ``@hookimpl``
(``from airflow.listeners import hookimpl``), and is registered by a plugin's
``listeners = [...]``. Each hook is called with keyword arguments, and only those its
signature names, like pluggy calls them. A hook that raises is logged; it never changes
what happens to the task or the run.

Task-instance hooks run in the task's own process, around the try:
``on_task_instance_running(previous_state, task_instance)``,
``on_task_instance_success(previous_state, task_instance)``,
``on_task_instance_failed(previous_state, task_instance, error)`` (also when the try will be
retried), ``on_task_instance_skipped(previous_state, task_instance)``.

DAG-run hooks run in the scheduler, off its critical path (`scheduler.run_listeners`):
``on_dag_run_running(dag_run, msg)``, ``on_dag_run_success(dag_run, msg)``,
``on_dag_run_failed(dag_run, msg)``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

__all__ = [
    "HOOKS",
    "clear_listeners",
    "get_listeners",
    "hookimpl",
    "notify",
    "register_listener",
]

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: Every hook name a listener may define.
HOOKS = frozenset(
    {
        "on_starting",
        "before_stopping",
        "on_task_instance_running",
        "on_task_instance_success",
        "on_task_instance_failed",
        "on_task_instance_skipped",
        "on_dag_run_running",
        "on_dag_run_success",
        "on_dag_run_failed",
    }
)

_listeners: list[object] = []


@overload
def hookimpl(function: F, /) -> F: ...
@overload
def hookimpl(**options: Any) -> Callable[[F], F]: ...
def hookimpl(function: Any = None, /, **options: Any) -> Any:
    """Mark a listener's hook implementation (Airflow's ``airflow.listeners.hookimpl``)."""
    if function is not None:
        function.airflow_sc_hookimpl = True
        return function

    def mark(fn: F) -> F:
        fn.airflow_sc_hookimpl = True  # type: ignore[attr-defined]
        return fn

    return mark


def register_listener(listener: object) -> None:
    """Call `listener`'s hooks from now on (once, however often it is registered)."""
    if not any(existing is listener for existing in _listeners):
        _listeners.append(listener)


def get_listeners() -> list[object]:
    return list(_listeners)


def clear_listeners() -> None:
    _listeners.clear()


def notify(hook: str, **kwargs: Any) -> None:
    """Call `hook` on every listener that defines it; errors are logged, never raised."""
    if hook not in HOOKS:
        raise ValueError(f"unknown listener hook {hook!r}")
    for listener in _listeners:
        function = getattr(listener, hook, None)
        if function is None or not callable(function):
            continue
        try:
            function(**_accepted(function, kwargs))
        except Exception:
            log.exception("Listener %r failed in %s", listener, hook)


def _accepted(function: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return kwargs
    names = {p.name for p in parameters}
    return {name: value for name, value in kwargs.items() if name in names}
