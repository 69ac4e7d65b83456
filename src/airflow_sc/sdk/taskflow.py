"""TaskFlow: `@task` and its variants turn plain functions into tasks.

Calling a decorated function inside a DAG creates an operator and returns its `XComArg`;
passing that into another decorated call (or any templated operator argument) makes the
producer upstream of the consumer. Calling the same function twice gives ids ``fn``,
``fn__1``, ``fn__2``... ``async def`` functions produce tasks with ``is_async`` set.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, overload

from . import _active
from .context import Context
from .operators.bash import BashOperator
from .operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
    callable_kwargs,
)
from .xcom_arg import XComArg

if TYPE_CHECKING:
    from .baseoperator import BaseOperator
    from .dag import DAG
    from .taskgroup import TaskGroup

__all__ = [
    "bash_task",
    "branch_external_python_task",
    "branch_task",
    "branch_virtualenv_task",
    "external_python_task",
    "python_task",
    "short_circuit_task",
    "task",
    "virtualenv_task",
]

_CONTEXT_KEYS = frozenset(Context.__annotations__) | {"templates_dict"}


def _unique_task_id(task_id: str, dag: DAG | None, group: TaskGroup | None) -> str:
    """`task_id`, or ``core__N`` with the next free N when the DAG already has it."""
    if dag is None:
        return task_id

    def full(label: str) -> str:
        return group.child_id(label) if group is not None else label

    if full(task_id) not in dag.task_dict:
        return task_id
    core = re.split(r"__\d+$", task_id)[0]
    return f"{core}__{dag.max_task_id_suffix(full(core)) + 1}"


def _infers_multiple_outputs(function: Callable[..., Any]) -> bool:
    """True when the function is annotated to return a dict (each key becomes an XCom)."""
    try:
        returns = typing.get_type_hints(function).get("return")
    except Exception:  # unresolvable annotations: no inference, as in Airflow
        return False
    origin = typing.get_origin(returns) or returns
    return isinstance(origin, type) and issubclass(origin, Mapping)


class _TaskDecorator:
    """A decorated function: call it to add a task; `override` changes operator arguments."""

    def __init__(
        self,
        function: Callable[..., Any],
        operator_class: type[BaseOperator],
        kwargs: Mapping[str, Any],
    ) -> None:
        if not callable(function):
            raise TypeError(f"@task needs a function, got {function!r}")
        self.function = function
        self.operator_class = operator_class
        self.kwargs = dict(kwargs)
        self._signature = inspect.signature(function)
        functools.update_wrapper(self, function)

    def override(self, **kwargs: Any) -> _TaskDecorator:
        """The same task with some operator arguments (task_id, retries, ...) replaced."""
        return _TaskDecorator(self.function, self.operator_class, {**self.kwargs, **kwargs})

    def _check_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        signature = self._signature
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.function.__name__}(): {exc}") from None
        missing = [
            p.name
            for p in signature.parameters.values()
            if p.name not in bound.arguments
            and p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.name not in _CONTEXT_KEYS
        ]
        if missing:
            raise TypeError(f"{self.function.__name__}() missing required arguments: {missing}")

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        self._check_call(args, kwargs)
        op_kwargs = dict(self.kwargs)
        dag = op_kwargs.get("dag") or _active.current_dag()
        group = op_kwargs.get("task_group") or _active.current_task_group(dag)
        task_id = op_kwargs.pop("task_id", self.function.__name__)
        op_kwargs["task_id"] = _unique_task_id(task_id, dag, group)
        if "multiple_outputs" not in op_kwargs:
            op_kwargs["multiple_outputs"] = _infers_multiple_outputs(self.function)
        if "doc_md" not in op_kwargs and self.function.__doc__:
            op_kwargs["doc_md"] = inspect.cleandoc(self.function.__doc__)
        operator = self.operator_class(
            python_callable=self.function, op_args=args, op_kwargs=kwargs, **op_kwargs
        )
        return XComArg(operator)


class _PythonDecoratedOperator(PythonOperator):
    custom_operator_name: ClassVar[str] = "@task"


class _BranchDecoratedOperator(BranchPythonOperator):
    custom_operator_name: ClassVar[str] = "@task.branch"


class _ShortCircuitDecoratedOperator(ShortCircuitOperator):
    custom_operator_name: ClassVar[str] = "@task.short_circuit"


class _BashDecoratedOperator(BashOperator):
    """Runs the function at execute time; the string it returns is the bash command."""

    custom_operator_name: ClassVar[str] = "@task.bash"
    template_fields = ("op_args", "op_kwargs", "env", "cwd")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: tuple[Any, ...] | list[Any] = (),
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("bash_command", "")
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args)
        self.op_kwargs = dict(op_kwargs or {})

    def execute(self, context: Mapping[str, Any]) -> Any:
        from .templating import render_template

        kwargs = callable_kwargs(self.python_callable, self.op_args, {**context, **self.op_kwargs})
        command = self.python_callable(*self.op_args, **kwargs)
        if not isinstance(command, str) or not command.strip():
            raise TypeError(
                f"@task.bash function {self.python_callable.__name__}() must return a "
                f"non-empty string, got {command!r}"
            )
        self.bash_command = render_template(command, context, self.get_template_env())
        return super().execute(context)


def _interpreter_operator(kind: str) -> type[BaseOperator]:
    """The decorated variant of an other-interpreter operator (imported when first used)."""
    from .operators import python_virtualenv

    return python_virtualenv.DECORATED[kind]


Decorator = Callable[[Callable[..., Any]], _TaskDecorator]


def _decorate(
    function: Callable[..., Any] | None,
    operator_class: type[BaseOperator],
    kwargs: Mapping[str, Any],
) -> _TaskDecorator | Decorator:
    if function is not None:
        return _TaskDecorator(function, operator_class, kwargs)
    return lambda fn: _TaskDecorator(fn, operator_class, kwargs)


class _TaskNamespace:
    """``@task``, ``@task.python``, ``@task.branch``, ``@task.short_circuit``, ``@task.bash``,
    ``@task.virtualenv``, ``@task.branch_virtualenv``, ``@task.external_python``,
    ``@task.branch_external_python``.

    Each takes the operator's arguments (``task_id``, ``retries``, ``multiple_outputs``...),
    used bare (``@task``) or called (``@task(retries=2)``). Other Airflow variants
    (``@task.docker``, ``@task.kubernetes``, ``@task.sensor``...) are not supported yet and
    fail where the DAG file names them.
    """

    @overload
    def __call__(self, python_callable: Callable[..., Any], /) -> _TaskDecorator: ...
    @overload
    def __call__(self, /, **kwargs: Any) -> Decorator: ...
    def __call__(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> _TaskDecorator | Decorator:
        return _decorate(python_callable, _PythonDecoratedOperator, kwargs)

    def python(self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        """Same as ``@task``."""
        return _decorate(python_callable, _PythonDecoratedOperator, kwargs)

    def branch(self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        """The function returns the task id(s) to follow (see `BranchPythonOperator`)."""
        return _decorate(python_callable, _BranchDecoratedOperator, kwargs)

    def short_circuit(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """A falsy return value skips downstream tasks (see `ShortCircuitOperator`)."""
        return _decorate(python_callable, _ShortCircuitDecoratedOperator, kwargs)

    def bash(self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        """The function returns the bash command to run (see `BashOperator`)."""
        return _decorate(python_callable, _BashDecoratedOperator, kwargs)

    def virtualenv(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """Run in a virtualenv built from ``requirements`` (see `PythonVirtualenvOperator`)."""
        return _decorate(python_callable, _interpreter_operator("virtualenv"), kwargs)

    def branch_virtualenv(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """``@task.virtualenv`` returning the task id(s) to follow."""
        return _decorate(python_callable, _interpreter_operator("branch_virtualenv"), kwargs)

    def external_python(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """Run with the interpreter ``python=`` names (see `ExternalPythonOperator`)."""
        return _decorate(python_callable, _interpreter_operator("external_python"), kwargs)

    def branch_external_python(
        self, python_callable: Callable[..., Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """``@task.external_python`` returning the task id(s) to follow."""
        return _decorate(python_callable, _interpreter_operator("branch_external_python"), kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"airflow-sc does not support the Airflow task decorator @task.{name} yet "
            "(supported: @task, @task.python, @task.branch, @task.short_circuit, @task.bash, "
            "@task.virtualenv, @task.branch_virtualenv, @task.external_python, "
            "@task.branch_external_python)"
        )


task = _TaskNamespace()

# The standard provider's names for the same decorators.
python_task = task.python
bash_task = task.bash
branch_task = task.branch
short_circuit_task = task.short_circuit
virtualenv_task = task.virtualenv
branch_virtualenv_task = task.branch_virtualenv
external_python_task = task.external_python
branch_external_python_task = task.branch_external_python
