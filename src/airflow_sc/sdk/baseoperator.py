"""`BaseOperator`: one task of a DAG, its arguments, its place in the graph, and `execute`.

Operators take keyword arguments only. Arguments not given explicitly are filled from the
``default_args`` of the DAG, the enclosing task groups and the operator call (innermost
wins), for every parameter that any ``__init__`` along the class's MRO accepts. A task
registers itself with its DAG (given as ``dag=`` or the innermost ``with DAG``) and task
group once its whole ``__init__`` has run.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_sc.domain.task_rules import TriggerRule, WeightRule

from . import _active
from ._sites import Site, user_site
from .dependencies import DependencyMixin, connect
from .exceptions import DagDefinitionError
from .ignored_arguments import TASK_ARGUMENTS, warn_ignored
from .params import ParamsDict
from .priority_strategy import PriorityWeightStrategy, registered_strategy, strategy_path

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from .dag import DAG
    from .edges import EdgeModifier
    from .taskgroup import TaskGroup
    from .xcom_arg import XComArg, XComPull

__all__ = ["BaseOperator", "TaskStateChangeCallback", "validate_key"]

TaskStateChangeCallback = Callable[[Mapping[str, Any]], object]
Callbacks = TaskStateChangeCallback | Sequence[TaskStateChangeCallback] | None

DEFAULT_OWNER = "airflow"
DEFAULT_POOL = "default_pool"
DEFAULT_QUEUE = "default"
DEFAULT_RETRY_DELAY = dt.timedelta(seconds=300)

_KEY = re.compile(r"^[\w.-]+$")
_MAX_KEY_LENGTH = 250


def validate_key(key: object, *, what: str = "key") -> str:
    """`key` if it is a valid dag/task/group id; `DagDefinitionError` otherwise."""
    if not isinstance(key, str):
        raise TypeError(f"The {what} must be a string, got {type(key).__name__} {key!r}")
    if not key or len(key) > _MAX_KEY_LENGTH:
        raise ValueError(f"The {what} {key!r} must be 1 to {_MAX_KEY_LENGTH} characters long")
    if not _KEY.match(key):
        raise ValueError(
            f"The {what} {key!r} has to be made of alphanumeric characters, dashes, dots "
            "and underscores exclusively"
        )
    return key


def _as_timedelta(value: object, name: str, *, optional: bool) -> dt.timedelta | None:
    if value is None and optional:
        return None
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    raise TypeError(f"{name} must be a timedelta or a number of seconds, got {value!r}")


def _callbacks(value: Callbacks) -> list[TaskStateChangeCallback]:
    if value is None:
        return []
    if callable(value):
        return [value]
    return list(value)


_PARAMETER_NAMES: dict[type, frozenset[str]] = {}


def _init_parameter_names(cls: type) -> frozenset[str]:
    """Every keyword any ``__init__`` along `cls`'s MRO accepts (where default_args apply)."""
    if cls in _PARAMETER_NAMES:
        return _PARAMETER_NAMES[cls]
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                names.add(param.name)
    names.discard("self")
    return _PARAMETER_NAMES.setdefault(cls, frozenset(names))


def _wrap_init(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def apply_defaults(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if args:
            raise TypeError(
                f"{type(self).__name__} takes keyword arguments only, got positional {args!r}"
            )
        if self.__dict__.get("_in_init"):  # a subclass calling super().__init__
            init(self, **kwargs)
            return
        self.__dict__["_in_init"] = True
        try:
            dag = kwargs.get("dag") or _active.current_dag()
            group = kwargs.get("task_group") or _active.current_task_group(dag)
            defaults: dict[str, Any] = {}
            if dag is not None:
                defaults.update(dag.default_args)
            if group is not None:
                defaults.update(group.default_args)
            defaults.update(kwargs.pop("default_args", None) or {})
            self._explicit_args = frozenset(kwargs)
            self._definition_site = user_site()
            params = {**(defaults.pop("params", None) or {}), **(kwargs.pop("params", None) or {})}
            for name in _init_parameter_names(type(self)) - set(kwargs):
                if name in defaults:
                    kwargs[name] = defaults[name]
            kwargs["params"] = params
            kwargs["dag"] = dag
            kwargs["task_group"] = group
            init(self, **kwargs)
        finally:
            self.__dict__["_in_init"] = False
        if dag is not None:
            dag.add_task(self)
        self._link_references()

    apply_defaults.__signature__ = inspect.signature(init)  # type: ignore[attr-defined]
    return apply_defaults


class BaseOperator(DependencyMixin):
    """A task: subclasses implement `execute(context)`; its return value becomes an XCom."""

    template_fields: ClassVar[Sequence[str]] = ()
    template_ext: ClassVar[Sequence[str]] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color: ClassVar[str] = "#fff"
    ui_fgcolor: ClassVar[str] = "#000"
    #: The scheduler marks such tasks SUCCESS without running them (when no callback is set).
    inherits_from_empty_operator: ClassVar[bool] = False
    #: Async tasks (``async def`` TaskFlow functions) are routed to the in-process executor.
    is_async: bool = False

    _explicit_args: frozenset[str]
    _definition_site: Site

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _wrap_init(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        task_id: str,
        owner: str = DEFAULT_OWNER,
        email: str | Iterable[str] | None = None,
        email_on_retry: bool = True,
        email_on_failure: bool = True,
        retries: int | None = 0,
        retry_delay: dt.timedelta | float = DEFAULT_RETRY_DELAY,
        retry_exponential_backoff: bool | float = False,
        max_retry_delay: dt.timedelta | float | None = None,
        start_date: dt.datetime | None = None,
        end_date: dt.datetime | None = None,
        depends_on_past: bool = False,
        ignore_first_depends_on_past: bool = True,
        wait_for_past_depends_before_skipping: bool = False,
        wait_for_downstream: bool = False,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
        params: Mapping[str, Any] | None = None,
        default_args: Mapping[str, Any] | None = None,
        priority_weight: int = 1,
        weight_rule: str | WeightRule | PriorityWeightStrategy = WeightRule.DOWNSTREAM,
        queue: str = DEFAULT_QUEUE,
        pool: str | None = None,
        pool_slots: int = 1,
        execution_timeout: dt.timedelta | None = None,
        trigger_rule: str | TriggerRule = TriggerRule.ALL_SUCCESS,
        max_active_tis_per_dag: int | None = None,
        max_active_tis_per_dagrun: int | None = None,
        executor: str | None = None,
        on_execute_callback: Callbacks = None,
        on_failure_callback: Callbacks = None,
        on_success_callback: Callbacks = None,
        on_retry_callback: Callbacks = None,
        on_skipped_callback: Callbacks = None,
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        inlets: Any = None,
        outlets: Any = None,
        doc: str | None = None,
        doc_md: str | None = None,
        doc_json: str | None = None,
        doc_yaml: str | None = None,
        doc_rst: str | None = None,
        task_display_name: str | None = None,
        pre_execute: Callable[[Mapping[str, Any]], object] | None = None,
        post_execute: Callable[[Mapping[str, Any], Any], object] | None = None,
        logger_name: str | None = None,
        render_template_as_native_obj: bool | None = None,
        allow_nested_operators: bool = True,
        executor_config: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        run_as_user: str | None = None,
        map_index_template: str | None = None,
        retry_policy: Any = None,
        **kwargs: Any,
    ) -> None:
        if not hasattr(self, "_definition_site"):  # constructed without the wrapper
            self._definition_site = user_site()
            self._explicit_args = frozenset()
        label = validate_key(task_id, what="task_id")
        if kwargs:
            raise TypeError(
                f"Invalid arguments were passed to {type(self).__name__} "
                f"(task_id: {label}): {sorted(kwargs)}"
            )
        self._label = label
        self.task_group = task_group
        self.task_id = task_group.child_id(label) if task_group is not None else label
        self.owner = owner
        self.email = email
        self.email_on_retry = email_on_retry
        self.email_on_failure = email_on_failure
        self.retries = self._check_retries(retries)
        self.retry_delay = _as_timedelta(retry_delay, "retry_delay", optional=False)
        self.retry_exponential_backoff = retry_exponential_backoff
        self.max_retry_delay = _as_timedelta(max_retry_delay, "max_retry_delay", optional=True)
        self.start_date = start_date
        self.end_date = end_date
        self.wait_for_downstream = wait_for_downstream
        self.depends_on_past = depends_on_past or wait_for_downstream
        self.ignore_first_depends_on_past = ignore_first_depends_on_past
        self.wait_for_past_depends_before_skipping = wait_for_past_depends_before_skipping
        self.params = ParamsDict(params)
        self.priority_weight = self._check_int(priority_weight, "priority_weight")
        self.weight_rule = self._check_weight_rule(weight_rule)
        self.queue = queue
        self.pool = pool or DEFAULT_POOL
        self.pool_slots = self._check_pool_slots(pool_slots)
        if execution_timeout is not None and not isinstance(execution_timeout, dt.timedelta):
            raise self._error(f"execution_timeout must be a timedelta, got {execution_timeout!r}")
        self.execution_timeout = execution_timeout
        self.trigger_rule = self._check_trigger_rule(trigger_rule)
        self.max_active_tis_per_dag = max_active_tis_per_dag
        self.max_active_tis_per_dagrun = max_active_tis_per_dagrun
        self.executor = executor
        self.on_execute_callback = _callbacks(on_execute_callback)
        self.on_failure_callback = _callbacks(on_failure_callback)
        self.on_success_callback = _callbacks(on_success_callback)
        self.on_retry_callback = _callbacks(on_retry_callback)
        self.on_skipped_callback = _callbacks(on_skipped_callback)
        self.do_xcom_push = do_xcom_push
        self.multiple_outputs = multiple_outputs
        self.inlets = (
            list(inlets) if isinstance(inlets, list | tuple) else [inlets] if inlets else []
        )
        self.outlets = (
            list(outlets) if isinstance(outlets, list | tuple) else [outlets] if outlets else []
        )
        self.doc = doc
        self.doc_md = doc_md
        self.doc_json = doc_json
        self.doc_yaml = doc_yaml
        self.doc_rst = doc_rst
        self.task_display_name = task_display_name
        self._pre_execute_hook = pre_execute
        self._post_execute_hook = post_execute
        self.logger_name = logger_name
        self.render_template_as_native_obj = render_template_as_native_obj
        self.allow_nested_operators = allow_nested_operators
        self.executor_config = dict(executor_config or {})
        self.resources = resources
        self.run_as_user = run_as_user
        self.map_index_template = map_index_template
        self.retry_policy = retry_policy
        self._warn_ignored_arguments()
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self._dag: DAG | None = None

    # -- validation ----------------------------------------------------------------------------

    def _warn_ignored_arguments(self) -> None:
        given = {
            "queue": self.queue != DEFAULT_QUEUE,
            "executor_config": bool(self.executor_config),
            "resources": bool(self.resources),
            "map_index_template": bool(self.map_index_template),
            "inlets": bool(self.inlets),
            "outlets": bool(self.outlets),
        }
        for name, used in given.items():
            if used:
                warn_ignored(f"task argument {name}", TASK_ARGUMENTS[name], self._definition_site)

    def _error(self, message: str) -> DagDefinitionError:
        task_id = getattr(self, "task_id", None) or getattr(self, "_label", "?")
        site = self._definition_site
        return DagDefinitionError(
            f"task {task_id!r}: {message}", filename=site.filename, lineno=site.lineno
        )

    def _check_retries(self, retries: object) -> int:
        if retries is None:
            return 0
        if isinstance(retries, bool) or not isinstance(retries, int | str):
            raise self._error(f"retries must be an integer, got {retries!r}")
        try:
            value = int(retries)
        except ValueError:
            raise self._error(f"retries must be an integer, got {retries!r}") from None
        if value < 0:
            raise self._error(f"retries cannot be negative, got {value}")
        return value

    def _check_int(self, value: object, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._error(f"{name} must be an integer, got {value!r}")
        return value

    def _check_weight_rule(self, rule: object) -> WeightRule | PriorityWeightStrategy:
        """A built-in rule, or a strategy a plugin registered (an instance, or its path)."""
        if isinstance(rule, PriorityWeightStrategy):
            path = strategy_path(type(rule))
            if registered_strategy(path) is not type(rule):
                raise self._error(
                    f"weight_rule {path} is not a registered priority weight strategy: define "
                    "it in the plugins folder and list it in an AirflowPlugin's "
                    "priority_weight_strategies"
                )
            return rule
        try:
            return WeightRule(str(rule))
        except ValueError:
            pass
        found = registered_strategy(str(rule)) if isinstance(rule, str) else None
        if found is not None:
            return found()
        known = ", ".join(r.value for r in WeightRule)
        raise self._error(
            f"unknown weight_rule {rule!r}; must be one of {known}, or a priority weight "
            "strategy registered by a plugin"
        )

    def _check_pool_slots(self, slots: object) -> int:
        value = self._check_int(slots, "pool_slots")
        if value < 1:
            raise self._error(f"pool_slots cannot be less than 1, got {value}")
        return value

    def _check_trigger_rule(self, rule: object) -> TriggerRule:
        try:
            return TriggerRule(str(rule))
        except ValueError:
            known = ", ".join(r.value for r in TriggerRule)
            raise self._error(f"unknown trigger_rule {rule!r}; must be one of {known}") from None

    # -- the DAG and the graph -----------------------------------------------------------------

    @property
    def dag(self) -> DAG:
        """The DAG holding this task; `RuntimeError` when it has none yet."""
        if self._dag is None:
            raise RuntimeError(f"task {self.task_id!r} has not been assigned to a DAG yet")
        return self._dag

    @dag.setter
    def dag(self, dag: DAG) -> None:
        dag.add_task(self)

    def has_dag(self) -> bool:
        return self._dag is not None

    @property
    def dag_id(self) -> str | None:
        return self._dag.dag_id if self._dag is not None else None

    @property
    def label(self) -> str:
        """The task id without the task group prefix."""
        return self._label

    @property
    def definition_site(self) -> Site:
        """File and line of the DAG file where this task was created."""
        return self._definition_site

    @property
    def explicit_args(self) -> frozenset[str]:
        """Argument names given in the operator call (not filled from default_args)."""
        return self._explicit_args

    @property
    def task_type(self) -> str:
        return type(self).__name__

    @property
    def roots(self) -> list[BaseOperator]:
        return [self]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [self]

    @property
    def upstream_list(self) -> list[BaseOperator]:
        return [self.dag.get_task(task_id) for task_id in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[BaseOperator]:
        return [self.dag.get_task(task_id) for task_id in sorted(self.downstream_task_ids)]

    def get_direct_relative_ids(self, upstream: bool = False) -> set[str]:
        return set(self.upstream_task_ids if upstream else self.downstream_task_ids)

    def get_flat_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """Ids of every task transitively upstream (or downstream) of this one."""
        found: set[str] = set()
        pending = [self]
        while pending:
            task = pending.pop()
            for task_id in task.get_direct_relative_ids(upstream):
                if task_id not in found:
                    found.add(task_id)
                    pending.append(self.dag.get_task(task_id))
        return found

    def add_downstream_task(
        self,
        other: BaseOperator,
        edge_modifier: EdgeModifier | None = None,
        site: Site | None = None,
    ) -> None:
        """Add the edge self -> other (both end up in the same DAG), declared at `site`."""
        dag = self._dag or other._dag
        if dag is None:
            raise self._error(
                f"cannot set a dependency with {other.task_id!r}: neither task has a DAG yet; "
                "create them inside `with DAG(...)` or pass dag="
            )
        if other._dag is not None and other._dag is not dag:
            raise self._error(
                f"cannot set a dependency with {other.task_id!r}: the tasks are in different "
                f"DAGs ({dag.dag_id!r} and {other._dag.dag_id!r})"
            )
        for task in (self, other):
            if task._dag is None:
                dag.add_task(task)
        self.downstream_task_ids.add(other.task_id)
        other.upstream_task_ids.add(self.task_id)
        dag.record_edge(self.task_id, other.task_id, edge_modifier, site or user_site())

    def set_upstream(self, other: Any, edge_modifier: EdgeModifier | None = None) -> None:
        connect(other, self, edge_modifier)

    def set_downstream(self, other: Any, edge_modifier: EdgeModifier | None = None) -> None:
        connect(self, other, edge_modifier)

    def _link_references(self) -> None:
        # An XComArg anywhere in a templated argument makes its producer upstream.
        from .xcom_arg import iter_xcom_args

        for name in self.template_fields:
            for ref in iter_xcom_args(getattr(self, name, None)):
                self.set_upstream(ref.operator)

    def resolve_template_references(self, *, pull: XComPull, params: Mapping[str, Any]) -> None:
        """Replace, in place, every XComArg/DagParam in the templated arguments by its value."""
        from .xcom_arg import resolve_references

        for name in self.template_fields:
            value = getattr(self, name, None)
            setattr(self, name, resolve_references(value, pull=pull, params=params))

    @property
    def output(self) -> XComArg:
        """This task's return value, to pass into other tasks' arguments."""
        from .xcom_arg import XComArg

        return XComArg(self)

    # -- running -------------------------------------------------------------------------------

    @property
    def log(self) -> logging.Logger:
        """The task's logger (``airflow.task.operators.<module>.<class>``)."""
        if self.logger_name:
            return logging.getLogger(f"airflow.task.operators.{self.logger_name}")
        cls = type(self)
        return logging.getLogger(f"airflow.task.operators.{cls.__module__}.{cls.__qualname__}")

    def get_template_env(self) -> SandboxedEnvironment:
        """The Jinja environment of this task's DAG (a plain one without a DAG)."""
        native = getattr(self, "render_template_as_native_obj", None)
        if self._dag is not None:
            return self._dag.get_template_env(native=native)
        from .templating import make_environment

        return make_environment(native=bool(native))

    def render_template_fields(
        self, context: Mapping[str, Any], jinja_env: SandboxedEnvironment | None = None
    ) -> None:
        """Render every attribute named in `template_fields`, in place."""
        from .templating import render_template_fields

        render_template_fields(self, context, jinja_env or self.get_template_env())

    def pre_execute(self, context: Mapping[str, Any]) -> None:
        """Called right before `execute` (runs the ``pre_execute=`` callable, if given)."""
        if self._pre_execute_hook is not None:
            self._pre_execute_hook(context)

    def execute(self, context: Mapping[str, Any]) -> Any:
        """Do the task's work; the return value is pushed as the ``return_value`` XCom."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")

    def post_execute(self, context: Mapping[str, Any], result: Any = None) -> None:
        """Called right after `execute` returned `result` (runs the ``post_execute=``
        callable, if given)."""
        if self._post_execute_hook is not None:
            self._post_execute_hook(context, result)

    def on_kill(self) -> None:
        """Called when the task is being killed: release what `execute` holds."""

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {getattr(self, 'task_id', '?')}>"


BaseOperator.__init__ = _wrap_init(BaseOperator.__dict__["__init__"])  # type: ignore[method-assign]
