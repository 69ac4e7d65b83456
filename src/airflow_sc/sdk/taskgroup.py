"""`TaskGroup` and `@task_group`: named, nestable groups of tasks.

Task ids inside a group are prefixed with the group id (``group.task``) unless the group
says ``prefix_group_id=False``. An edge into a group lands on its roots (member tasks with
no upstream inside the group); an edge out of it starts from its leaves.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from . import _active
from ._sites import user_site
from .baseoperator import BaseOperator, validate_key
from .dependencies import DependencyMixin
from .exceptions import DagDefinitionError, DuplicateTaskIdFound

if TYPE_CHECKING:
    from .dag import DAG

__all__ = ["TaskGroup", "task_group"]


class TaskGroup(DependencyMixin):
    """A group of tasks (and nested groups) shown and addressed together."""

    def __init__(
        self,
        group_id: str | None,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: Mapping[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
        group_display_name: str | None = None,
    ) -> None:
        self.children: dict[str, BaseOperator | TaskGroup] = {}
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self._definition_site = user_site()
        if group_id is None:  # the root group of a DAG
            if dag is None:
                raise ValueError("a root task group needs its DAG")
            self._group_id: str | None = None
            self.dag = dag
            self.parent_group: TaskGroup | None = None
            self.default_args: dict[str, Any] = {}
            self.group_display_name = ""
            return
        dag = dag or (parent_group.dag if parent_group else None) or _active.current_dag()
        if dag is None:
            raise self._error(f"task group {group_id!r} must be created inside a DAG")
        parent = parent_group or _active.current_task_group(dag)
        assert parent is not None
        self.dag = dag
        self.parent_group = parent
        try:
            validate_key(group_id, what="group_id")
        except (TypeError, ValueError) as exc:
            raise self._error(str(exc)) from exc
        self._group_id = group_id
        if add_suffix_on_collision:
            self._group_id = self._unique_label(group_id)
        self.default_args = {**parent.default_args, **(default_args or {})}
        self.group_display_name = group_display_name or self._group_id
        self._register()

    @classmethod
    def create_root(cls, dag: DAG) -> TaskGroup:
        return cls(group_id=None, dag=dag)

    def _error(self, message: str) -> DagDefinitionError:
        site = self._definition_site
        return DagDefinitionError(message, filename=site.filename, lineno=site.lineno)

    def _unique_label(self, label: str) -> str:
        assert self.parent_group is not None
        taken = set(self.dag.task_group_dict) | set(self.dag.task_dict)
        if self.parent_group.child_id(label) not in taken:
            return label
        core = re.split(r"__\d+$", label)[0]
        suffix = 1
        while self.parent_group.child_id(f"{core}__{suffix}") in taken:
            suffix += 1
        return f"{core}__{suffix}"

    def _register(self) -> None:
        assert self.parent_group is not None
        assert self._group_id is not None
        group_id = self.group_id
        assert group_id is not None
        if group_id in self.dag.task_group_dict or group_id in self.dag.task_dict:
            site = self._definition_site
            raise DuplicateTaskIdFound(
                f"group_id {group_id!r} has already been added to the DAG {self.dag.dag_id!r}",
                filename=site.filename,
                lineno=site.lineno,
            )
        self.parent_group.children[self._group_id] = self
        self.dag.task_group_dict[group_id] = self

    # -- ids -----------------------------------------------------------------------------------

    @property
    def is_root(self) -> bool:
        return self._group_id is None

    @property
    def group_id(self) -> str | None:
        """The full id (prefixed by the enclosing groups that prefix); None for the root."""
        parent = self.parent_group
        if self._group_id and parent is not None and parent.prefix_group_id and parent._group_id:
            return parent.child_id(self._group_id)
        return self._group_id

    @property
    def label(self) -> str | None:
        """The id given to this group, without prefixes."""
        return self._group_id

    def child_id(self, label: str) -> str:
        """The id a child created with `label` gets inside this group."""
        if self.prefix_group_id and self.group_id:
            return f"{self.group_id}.{label}"
        return label

    def add(self, task: BaseOperator) -> None:
        """Adopt `task` (called when a task joins its DAG)."""
        key = task.label if self.prefix_group_id else task.task_id
        if key in self.children and self.children[key] is not task:
            site = task.definition_site
            raise DuplicateTaskIdFound(
                f"Task id {task.task_id!r} has already been added to the DAG {self.dag.dag_id!r}",
                filename=site.filename,
                lineno=site.lineno,
            )
        self.children[key] = task

    # -- members -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[BaseOperator]:
        """Every task in this group and its nested groups."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child
            else:
                yield child

    def get_child_by_label(self, label: str) -> BaseOperator | TaskGroup:
        return self.children[label]

    @property
    def roots(self) -> list[BaseOperator]:
        tasks = list(self)
        ids = {task.task_id for task in tasks}
        return [task for task in tasks if task.upstream_task_ids.isdisjoint(ids)]

    @property
    def leaves(self) -> list[BaseOperator]:
        tasks = list(self)
        ids = {task.task_id for task in tasks}
        return [task for task in tasks if task.downstream_task_ids.isdisjoint(ids)]

    # -- context manager -----------------------------------------------------------------------

    def __enter__(self) -> TaskGroup:
        _active.push_task_group(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _active.pop_task_group(self)

    def __repr__(self) -> str:
        return f"<TaskGroup: {self.group_id}>"


class _TaskGroupFactory:
    """What `@task_group` returns: each call opens a group and runs the function in it."""

    def __init__(self, function: Callable[..., Any], group_kwargs: Mapping[str, Any]) -> None:
        self.function = function
        self.group_kwargs = dict(group_kwargs)
        functools.update_wrapper(self, function)

    def override(self, **group_kwargs: Any) -> _TaskGroupFactory:
        """The same factory with some `TaskGroup` arguments replaced."""
        return _TaskGroupFactory(self.function, {**self.group_kwargs, **group_kwargs})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        group_kwargs = dict(self.group_kwargs)
        group_kwargs.setdefault("group_id", self.function.__name__)
        if self.function.__doc__:
            group_kwargs.setdefault("tooltip", inspect.cleandoc(self.function.__doc__))
        group_kwargs.setdefault("add_suffix_on_collision", True)
        with TaskGroup(**group_kwargs) as group:
            result = self.function(*args, **kwargs)
        # A function returning a task (or its output) lets `>>` bind to that task;
        # otherwise the call stands for the whole group.
        return group if result is None else result


@overload
def task_group(function: Callable[..., Any], /) -> _TaskGroupFactory: ...
@overload
def task_group(**group_kwargs: Any) -> Callable[[Callable[..., Any]], _TaskGroupFactory]: ...
def task_group(
    function: Callable[..., Any] | None = None, /, **group_kwargs: Any
) -> _TaskGroupFactory | Callable[[Callable[..., Any]], _TaskGroupFactory]:
    """Decorate a function that creates tasks; each call puts them in a new `TaskGroup`.

    ``group_id`` defaults to the function name (``name__1``, ... on repeated calls) and
    ``tooltip`` to its docstring.
    """
    if function is not None:
        return _TaskGroupFactory(function, group_kwargs)
    return lambda fn: _TaskGroupFactory(fn, group_kwargs)
