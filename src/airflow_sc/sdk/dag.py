"""`DAG` and the `@dag` decorator: a named graph of tasks with a schedule.

A DAG is built by ``with DAG(...):`` or by calling a `@dag`-decorated function; either way
`DAG.validate()` runs when the block or the function ends, so mistakes surface while the
file is parsed, with the file and line that caused them. DAGs created while
`capture_dags()` is active are also collected there, for the DAG processor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import inspect
import itertools
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import _active
from ._sites import Site, user_site
from .baseoperator import TaskStateChangeCallback, validate_key
from .exceptions import AirflowDagCycleException, DagDefinitionError, DuplicateTaskIdFound
from .graph import find_cycle, topological_order
from .ignored_arguments import DAG_ARGUMENTS, warn_ignored
from .params import ParamsDict, ParamValidationError
from .taskgroup import TaskGroup
from .timetables import Timetable, resolve_schedule

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from .baseoperator import BaseOperator
    from .edges import EdgeModifier

__all__ = ["DAG", "capture_dags", "dag"]

T = TypeVar("T")
DagCallbacks = TaskStateChangeCallback | Sequence[TaskStateChangeCallback] | None

_SUFFIXED_ID = re.compile(r"^(.*)__(\d+)$")
_captured: ContextVar[list[DAG] | None] = ContextVar("airflow_sc_captured_dags", default=None)


@contextlib.contextmanager
def capture_dags() -> Iterator[list[DAG]]:
    """Collect every DAG constructed inside the block (how a DAG file is read)."""
    found: list[DAG] = []
    token = _captured.set(found)
    try:
        yield found
    finally:
        _captured.reset(token)


def _timezone_name(value: dt.datetime | None) -> str:
    if value is None or value.tzinfo is None or value.tzinfo is dt.UTC:
        return "UTC"
    key = getattr(value.tzinfo, "key", None)
    if isinstance(key, str):
        return key
    if value.utcoffset() == dt.timedelta(0):
        return "UTC"
    raise ValueError(
        f"the timezone of start_date {value.isoformat()} has no IANA name; use "
        "zoneinfo.ZoneInfo('Region/City') or UTC"
    )


def _aware(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    # A naive date means UTC, Airflow's default timezone.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class DAG:
    """A named graph of tasks, its schedule and the defaults its tasks share."""

    def __init__(
        self,
        dag_id: str,
        description: str | None = None,
        schedule: object = None,
        start_date: dt.datetime | None = None,
        end_date: dt.datetime | None = None,
        default_args: Mapping[str, Any] | None = None,
        max_active_tasks: int = 16,
        max_active_runs: int = 16,
        max_consecutive_failed_dag_runs: int = 0,
        dagrun_timeout: dt.timedelta | None = None,
        catchup: bool = False,
        on_success_callback: DagCallbacks = None,
        on_failure_callback: DagCallbacks = None,
        doc_md: str | None = None,
        params: Mapping[str, Any] | None = None,
        is_paused_upon_creation: bool | None = None,
        tags: Collection[str] | None = None,
        template_searchpath: str | Sequence[str] | None = None,
        user_defined_macros: Mapping[str, Any] | None = None,
        user_defined_filters: Mapping[str, Callable[..., Any]] | None = None,
        render_template_as_native_obj: bool = False,
        owner_links: Mapping[str, str] | None = None,
        dag_display_name: str | None = None,
        fail_fast: bool = False,
        access_control: Mapping[str, Any] | None = None,
        jinja_environment_kwargs: Mapping[str, Any] | None = None,
        template_undefined: type[Any] | None = None,
        auto_register: bool = True,
        disable_bundle_versioning: bool = False,
        deadline: Any = None,
        fileloc: str | None = None,
    ) -> None:
        site = user_site()
        self._definition_site = Site(fileloc, 1) if fileloc else site
        self.fileloc = self._definition_site.filename
        self.dag_id = self._checked(lambda: validate_key(dag_id, what="dag_id"))
        self.description = description
        self.default_args: dict[str, Any] = dict(default_args or {})
        self.start_date = self._checked(
            lambda: _aware(start_date or self.default_args.get("start_date"), "start_date")
        )
        self.end_date = self._checked(
            lambda: _aware(end_date or self.default_args.get("end_date"), "end_date")
        )
        self.timezone = self._checked(lambda: _timezone_name(self.start_date))
        self.schedule = schedule
        self.timetable: Timetable = self._checked(
            lambda: resolve_schedule(schedule, timezone=self.timezone)
        )
        self.max_active_tasks = max_active_tasks
        self.max_active_runs = max_active_runs
        self.max_consecutive_failed_dag_runs = max_consecutive_failed_dag_runs
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, dt.timedelta):
            raise self._error(f"dagrun_timeout must be a timedelta, got {dagrun_timeout!r}")
        self.dagrun_timeout = dagrun_timeout
        self.catchup = catchup
        self.on_success_callback = _callbacks(on_success_callback)
        self.on_failure_callback = _callbacks(on_failure_callback)
        self.doc_md = doc_md
        self.params = self._checked(
            lambda: ParamsDict({**(self.default_args.get("params") or {}), **(params or {})})
        )
        self.is_paused_upon_creation = is_paused_upon_creation
        self.tags: list[str] = list(dict.fromkeys(tags or ()))
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath: list[str] = list(template_searchpath or ())
        self.user_defined_macros = dict(user_defined_macros or {})
        self.user_defined_filters = dict(user_defined_filters or {})
        self.render_template_as_native_obj = render_template_as_native_obj
        self.owner_links = dict(owner_links or {})
        self.dag_display_name = dag_display_name or self.dag_id
        self.fail_fast = fail_fast
        self.access_control = dict(access_control) if access_control is not None else None
        self.jinja_environment_kwargs = dict(jinja_environment_kwargs or {})
        self.template_undefined = template_undefined
        self.auto_register = auto_register
        self.disable_bundle_versioning = disable_bundle_versioning
        self.deadline = deadline
        self._warn_ignored_arguments()
        self.task_dict: dict[str, BaseOperator] = {}
        self.task_group_dict: dict[str, TaskGroup] = {}
        self.edge_info: dict[tuple[str, str], dict[str, Any]] = {}
        self._edge_sites: dict[tuple[str, str], Site] = {}
        # "core" -> the highest N among task ids "core__N" (TaskFlow id de-duplication).
        self._id_suffixes: dict[str, int] = {}
        self.task_group = TaskGroup.create_root(self)
        captured = _captured.get()
        if captured is not None:
            captured.append(self)

    # -- errors --------------------------------------------------------------------------------

    def _error(self, message: str, site: Site | None = None) -> DagDefinitionError:
        where = site or self._definition_site
        dag_id = getattr(self, "dag_id", None)
        prefix = f"DAG {dag_id!r}: " if dag_id else ""
        return DagDefinitionError(
            f"{prefix}{message}", filename=where.filename, lineno=where.lineno
        )

    def _checked(self, build: Callable[[], T]) -> T:
        """`build()`, with a ValueError/TypeError reworded to point at the DAG's line."""
        try:
            return build()
        except ParamValidationError as exc:
            raise ParamValidationError(f"{self._where()}: {exc}") from exc
        except (ValueError, TypeError) as exc:
            raise self._error(str(exc)) from exc

    def _where(self) -> str:
        return str(self._definition_site)

    def _warn_ignored_arguments(self) -> None:
        given = {
            "access_control": self.access_control is not None,
            "owner_links": bool(self.owner_links),
            "deadline": self.deadline is not None,
            "auto_register": not self.auto_register,
            "disable_bundle_versioning": self.disable_bundle_versioning,
        }
        for name, used in given.items():
            if used:
                warn_ignored(f"DAG argument {name}", DAG_ARGUMENTS[name], self._definition_site)

    # -- context manager -----------------------------------------------------------------------

    def __enter__(self) -> DAG:
        _active.push_dag(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _active.pop_dag(self)
        if exc_type is None:
            self.validate()

    # -- tasks ---------------------------------------------------------------------------------

    def add_task(self, task: BaseOperator) -> None:
        """Register `task` (called by operators; raises `DuplicateTaskIdFound`)."""
        existing = self.task_dict.get(task.task_id)
        if existing is task:
            return
        if task._dag is not None and task._dag is not self:
            raise task._error(f"already belongs to DAG {task._dag.dag_id!r}")
        site = task.definition_site
        if existing is not None:
            raise DuplicateTaskIdFound(
                f"Task id {task.task_id!r} has already been added to the DAG {self.dag_id!r} "
                f"(first defined at {existing.definition_site})",
                filename=site.filename,
                lineno=site.lineno,
            )
        if task.task_id in self.task_group_dict:
            raise DuplicateTaskIdFound(
                f"Task id {task.task_id!r} is already the id of a task group in DAG "
                f"{self.dag_id!r}",
                filename=site.filename,
                lineno=site.lineno,
            )
        if self.params:
            merged = self.params.copy()
            for name in task.params:
                merged[name] = task.params.get_param(name)
            task.params = merged
        group = task.task_group if task.task_group is not None else self.task_group
        task.task_group = group
        group.add(task)
        self.task_dict[task.task_id] = task
        task._dag = self
        if (match := _SUFFIXED_ID.match(task.task_id)) is not None:
            core, suffix = match.group(1), int(match.group(2))
            self._id_suffixes[core] = max(self._id_suffixes.get(core, 0), suffix)

    def max_task_id_suffix(self, core: str) -> int:
        """The highest N of the task ids ``{core}__N`` in this DAG (0 when there is none)."""
        return self._id_suffixes.get(core, 0)

    def add_tasks(self, tasks: Sequence[BaseOperator]) -> None:
        for task in tasks:
            self.add_task(task)

    @property
    def tasks(self) -> list[BaseOperator]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    def get_task(self, task_id: str) -> BaseOperator:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise KeyError(f"Task {task_id!r} not found in DAG {self.dag_id!r}") from None

    @property
    def roots(self) -> list[BaseOperator]:
        """Tasks with no upstream task."""
        return [task for task in self.task_dict.values() if not task.upstream_task_ids]

    @property
    def leaves(self) -> list[BaseOperator]:
        """Tasks with no downstream task."""
        return [task for task in self.task_dict.values() if not task.downstream_task_ids]

    def _downstream_map(self) -> dict[str, list[str]]:
        return {
            task_id: [t for t in task.downstream_task_ids if t in self.task_dict]
            for task_id, task in self.task_dict.items()
        }

    def topological_sort(self) -> list[BaseOperator]:
        """Every task after all its upstream tasks (definition order between independents)."""
        self._check_cycle()
        return [self.task_dict[t] for t in topological_order(self._downstream_map())]

    # -- edges ---------------------------------------------------------------------------------

    def record_edge(
        self, upstream_id: str, downstream_id: str, modifier: EdgeModifier | None, site: Site
    ) -> None:
        """Remember where an edge was declared, and its label if any."""
        self._edge_sites.setdefault((upstream_id, downstream_id), site)
        if modifier is not None and modifier.edge_info:
            self.edge_info.setdefault((upstream_id, downstream_id), {}).update(modifier.edge_info)

    def get_edge_info(self, upstream_id: str, downstream_id: str) -> dict[str, Any]:
        """The info of an edge (``{"label": ...}`` when labelled, else empty)."""
        return dict(self.edge_info.get((upstream_id, downstream_id), {}))

    def set_edge_info(self, upstream_id: str, downstream_id: str, info: Mapping[str, Any]) -> None:
        self.edge_info[(upstream_id, downstream_id)] = dict(info)

    # -- validation ----------------------------------------------------------------------------

    def _check_cycle(self) -> None:
        cycle = find_cycle(self._downstream_map())
        if cycle is None:
            return
        edges = list(itertools.pairwise(cycle))
        order = list(self._edge_sites)
        # Point at the edge of the cycle that was declared last: the one that closed it.
        last = max(edges, key=lambda e: order.index(e) if e in self._edge_sites else -1)
        site = self._edge_sites.get(last, self._definition_site)
        raise AirflowDagCycleException(
            f"Cycle detected in DAG {self.dag_id!r}: {' >> '.join(cycle)}",
            cycle=cycle,
            filename=site.filename,
            lineno=site.lineno,
        )

    def validate(self) -> None:
        """Raise if the DAG cannot work: cycles, bad params, a schedule without a start."""
        self._check_cycle()
        self._check_fail_fast()
        if self.timetable.can_be_scheduled and self.start_date is None:
            raise self._error(
                f"schedule {self.timetable.summary!r} needs a start_date (set start_date= on "
                "the DAG or in default_args)"
            )
        try:
            self.timetable.validate()
        except ValueError as exc:
            raise self._error(f"invalid schedule: {exc}") from exc
        self._validate_params()

    def _check_fail_fast(self) -> None:
        # As in Airflow: a fail_fast DAG's tasks keep the default trigger rule (a rule such as
        # all_done would wait for upstreams that fail_fast skips).
        if not self.fail_fast:
            return
        for task in self.task_dict.values():
            if str(task.trigger_rule) != "all_success":
                raise task._error(
                    f"a fail_fast DAG's tasks must use the all_success trigger rule, "
                    f"not {str(task.trigger_rule)!r}"
                )

    def _validate_params(self) -> None:
        # A scheduled run has no conf, so every param needs a valid value of its own; a DAG
        # that only runs when triggered may leave params for the trigger to fill.
        try:
            if self.timetable.can_be_scheduled:
                self.params.validate()
            else:
                for name, param in self.params.params().items():
                    if param.has_value:
                        param.resolve(name=name)
        except ParamValidationError as exc:
            raise ParamValidationError(f"{self._where()}: DAG {self.dag_id!r}: {exc}") from exc

    # -- templates -----------------------------------------------------------------------------

    def get_template_env(self, *, native: bool | None = None) -> SandboxedEnvironment:
        """The Jinja environment of this DAG's templates (`native` overrides the DAG's
        ``render_template_as_native_obj``)."""
        from .templating import make_environment

        searchpath = [str(_parent_dir(self.fileloc)), *self.template_searchpath]
        return make_environment(
            searchpath=searchpath,
            user_defined_macros=self.user_defined_macros,
            user_defined_filters=self.user_defined_filters,
            native=self.render_template_as_native_obj if native is None else native,
            undefined=self.template_undefined,
            options=self.jinja_environment_kwargs,
        )

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"


def _parent_dir(fileloc: str) -> str:
    import os.path

    return os.path.dirname(os.path.abspath(fileloc))


def _callbacks(value: DagCallbacks) -> list[TaskStateChangeCallback]:
    if value is None:
        return []
    if callable(value):
        return [value]
    return list(value)


class _DagFactory:
    """What `@dag` returns: calling it builds (and validates) the DAG."""

    def __init__(self, function: Callable[..., Any], dag_kwargs: Mapping[str, Any]) -> None:
        self.function = function
        self.dag_kwargs = dict(dag_kwargs)
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any, **kwargs: Any) -> DAG:
        from .xcom_arg import DagParam

        signature = inspect.signature(self.function)
        bound = signature.bind_partial(*args, **kwargs)
        bound.apply_defaults()
        dag_kwargs = dict(self.dag_kwargs)
        dag_kwargs.setdefault("dag_id", self.function.__name__)
        if self.function.__doc__ and "doc_md" not in dag_kwargs:
            dag_kwargs["doc_md"] = inspect.cleandoc(self.function.__doc__)
        dag_kwargs.setdefault("fileloc", None)
        params = dict(dag_kwargs.pop("params", None) or {})
        # The function's arguments become DAG params; tasks receive references to them.
        for name, value in bound.arguments.items():
            params.setdefault(name, value)
        missing = [n for n in signature.parameters if n not in bound.arguments]
        if missing:
            raise TypeError(f"@dag function {self.function.__name__}() missing {missing}")
        new_dag = DAG(params=params, **dag_kwargs)
        if dag_kwargs["fileloc"] is None:
            code = self.function.__code__
            new_dag._definition_site = Site(code.co_filename, code.co_firstlineno)
            new_dag.fileloc = code.co_filename
        with new_dag:
            self.function(**{name: DagParam(new_dag, name) for name in bound.arguments})
        return new_dag


@overload
def dag(function: Callable[..., Any], /) -> _DagFactory: ...
@overload
def dag(**dag_kwargs: Any) -> Callable[[Callable[..., Any]], _DagFactory]: ...
def dag(
    function: Callable[..., Any] | None = None, /, **dag_kwargs: Any
) -> _DagFactory | Callable[[Callable[..., Any]], _DagFactory]:
    """Decorate a function that builds tasks; calling it returns the validated `DAG`.

    Takes `DAG`'s arguments (``dag_id`` defaults to the function name, ``doc_md`` to its
    docstring); the function's own arguments become DAG params.
    """
    if function is not None:
        return _DagFactory(function, dag_kwargs)
    return lambda fn: _DagFactory(fn, dag_kwargs)
