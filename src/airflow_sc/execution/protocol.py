"""The execution protocol: the operations a try's process may call and their arguments.

Every transport (the HTTP routes under ``/execution``, the local executor's pipe channel)
turns a call into an `Operation` and a raw mapping of arguments, and `parse_args` turns
those into one typed value, checked once here for both. A call is always made with a
token scoped to one try (`airflow_sc.execution.tokens`); `TRY_SCOPED` operations act on
that try and must name it.

Operations (arguments -> what a successful call answers):

- ``start`` ``{hostname, pid, unixname?}`` -> the try's `TryContext`; the try moves
  queued -> running (a compare-and-set: a try that already started is refused, 409).
- ``heartbeat`` ``{}`` -> a fresh token; 409 when the try is no longer running (stop it).
- ``finish`` ``{state, skip?, retry_delay?}`` -> nothing; the try moves running -> `state`
  (one of `FINISH_STATES`), the downstream task ids in ``skip`` that have not started are
  skipped (a branch), and its history row is written; 409 when the try is no longer
  running. ``retry_delay`` (seconds, only with ``up_for_retry``) is the delay the task's
  retry policy chose for the next try, in place of the task's ``retry_delay`` rule.
- ``xcom_pull`` ``{task_id, key, map_index?, dag_id?, run_id?, include_prior_dates?}`` ->
  the value pushed in the try's DAG run, or in run ``run_id`` of ``dag_id`` (each defaults
  to the try's own); with ``include_prior_dates`` the newest value of that run or of the
  DAG's runs with an earlier logical date (404 when there is none).
- ``xcom_push`` ``{key, value, task_id?}`` -> nothing; for the try's own task only (403
  when ``task_id`` names another).
- ``get_variable`` ``{key}``, ``get_connection`` ``{conn_id}`` -> the value (404 when
  absent); ``set_variable`` ``{key, value, description?}`` writes the metastore
  (``Variable.set``); ``delete_variable`` ``{key}`` (404 when the metastore has none).
- ``trigger_dag_run`` ``{dag_id, run_id, conf?, logical_date?, run_after?, reset_dag_run?,
  fail_when_dag_is_paused?, note?}`` -> a `TriggerOutcome`: the run was ``created``, or
  it already existed and was cleared (``reset``, with ``reset_dag_run``), or it already
  existed (``exists``), or the DAG is paused and nothing was created (``paused``, with
  ``fail_when_dag_is_paused``). 404 when the DAG does not exist, 400 when ``conf`` does not
  satisfy its params. Dates are ISO 8601 with an offset. (``TriggerDagRunOperator``.)
- ``get_dag_run_state`` ``{dag_id, run_id}`` -> the run's state (404 when there is none).

Every call's arguments first meet the REST API's input rules (`check_args`), whatever
carried them: no key or string at any depth may hold a NUL character or an unpaired
surrogate, no number may be NaN or infinite, and the arguments may nest at most
`max_depth` levels (the API's ``api.max_request_json_depth``). A call that breaks one is
refused (400, naming where) before anything is read or written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from airflow_sc.domain.json_values import document_problem
from airflow_sc.domain.retries import DEFAULT_MAX_TASK_RETRY_DELAY
from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.domain.transitions import TI_TRANSITION_RULES, Actor
from airflow_sc.execution.errors import BadRequest

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "EXECUTION_API_PREFIX",
    "FINISH_STATES",
    "TRY_SCOPED",
    "Args",
    "ConnectionRef",
    "DagRunRef",
    "DagRunTrigger",
    "Finish",
    "Heartbeat",
    "Operation",
    "Start",
    "TriggerOutcome",
    "TryFinish",
    "VariableRef",
    "VariableWrite",
    "XComPush",
    "XComRef",
    "check_args",
    "check_value",
    "operation",
    "parse_args",
]

_TI = TaskInstanceState

#: Where the API server serves the protocol over HTTP (its URL is the API's + this).
EXECUTION_API_PREFIX: Final = "/execution"

#: How deep a call's arguments may nest unless the transport says otherwise (the default
#: of the REST API's ``api.max_request_json_depth``).
DEFAULT_MAX_DEPTH: Final = 64

#: States a running try may finish in: what the transition table lets the execution
#: service move a running try to.
FINISH_STATES: Final = frozenset(
    new
    for rule in TI_TRANSITION_RULES
    if rule.actor is Actor.EXECUTION and _TI.RUNNING in rule.old
    for new in rule.new
    if new is not None
)


class Operation(StrEnum):
    START = "start"
    HEARTBEAT = "heartbeat"
    FINISH = "finish"
    XCOM_PULL = "xcom_pull"
    XCOM_PUSH = "xcom_push"
    GET_VARIABLE = "get_variable"
    SET_VARIABLE = "set_variable"
    DELETE_VARIABLE = "delete_variable"
    GET_CONNECTION = "get_connection"
    TRIGGER_DAG_RUN = "trigger_dag_run"
    GET_DAG_RUN_STATE = "get_dag_run_state"


#: Operations on the token's own try: a transport that names a try must name that one.
TRY_SCOPED: Final = frozenset(
    {
        Operation.START,
        Operation.HEARTBEAT,
        Operation.FINISH,
        Operation.XCOM_PULL,
        Operation.XCOM_PUSH,
    }
)


@dataclass(frozen=True, slots=True)
class Start:
    """Who starts the try: the host and process it runs in."""

    hostname: str
    pid: int
    unixname: str | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A try says it is alive."""


@dataclass(frozen=True, slots=True)
class Finish:
    """How a try ended, as its process reports it."""

    state: TaskInstanceState
    #: Downstream task ids a branching operator decided to skip.
    skip: tuple[str, ...] = ()
    #: Seconds before the next try, as the task's retry policy chose (``up_for_retry``).
    retry_delay: float | None = None


@dataclass(frozen=True, slots=True)
class TryFinish:
    """What a finish carries to the service: the try, its `Finish`, and the XComs stored
    in the same transaction (the in-process executor pushes them with the finish)."""

    ti_id: str
    state: TaskInstanceState
    skip: tuple[str, ...] = ()
    xcoms: tuple[tuple[str, Any], ...] = ()
    retry_delay: float | None = None


@dataclass(frozen=True, slots=True)
class XComRef:
    task_id: str
    key: str
    map_index: int = -1
    #: Another DAG / run to read from (None: the try's own).
    dag_id: str | None = None
    run_id: str | None = None
    #: Also earlier runs of that DAG (by logical date): the newest value wins.
    include_prior_dates: bool = False


@dataclass(frozen=True, slots=True)
class XComPush:
    key: str
    value: Any
    #: The task the value is pushed for, when the transport names one (it must be the
    #: try's own).
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class VariableRef:
    key: str


@dataclass(frozen=True, slots=True)
class VariableWrite:
    key: str
    value: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionRef:
    conn_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DagRunTrigger:
    """A task's request to start a run of `dag_id` (``TriggerDagRunOperator``)."""

    dag_id: str
    run_id: str
    conf: Mapping[str, Any] = field(default_factory=dict)
    logical_date: datetime | None = None
    #: The earliest time the run may start (the service's clock when None).
    run_after: datetime | None = None
    #: When the run already exists: clear it so that it runs again.
    reset_dag_run: bool = False
    #: When the DAG is paused: create nothing and answer ``paused``.
    fail_when_dag_is_paused: bool = False
    note: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The arguments as a transport carries them (what `parse_args` reads back)."""
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "conf": dict(self.conf),
            "logical_date": _iso(self.logical_date),
            "run_after": _iso(self.run_after),
            "reset_dag_run": self.reset_dag_run,
            "fail_when_dag_is_paused": self.fail_when_dag_is_paused,
            "note": self.note,
        }


class TriggerOutcome(StrEnum):
    """What a ``trigger_dag_run`` call did."""

    CREATED = "created"
    #: The run existed; it was cleared and runs again (``reset_dag_run``).
    RESET = "reset"
    #: The run (its run id, or its logical date) existed; nothing was changed.
    EXISTS = "exists"
    #: The DAG is paused; nothing was created (``fail_when_dag_is_paused``).
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class DagRunRef:
    dag_id: str
    run_id: str


Args = (
    Start
    | Heartbeat
    | Finish
    | XComRef
    | XComPush
    | VariableRef
    | VariableWrite
    | ConnectionRef
    | DagRunTrigger
    | DagRunRef
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _text(raw: Mapping[str, Any], name: str, problem: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(problem)
    return value


def _integer(value: Any, problem: str) -> int:
    if isinstance(value, bool):
        raise BadRequest(problem)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise BadRequest(problem) from exc


def _start(raw: Mapping[str, Any]) -> Start:
    problem = "hostname and pid are required"
    unixname = raw.get("unixname")
    if unixname is not None and not isinstance(unixname, str):
        raise BadRequest("unixname must be a string")
    return Start(_text(raw, "hostname", problem), _integer(raw.get("pid"), problem), unixname)


def _heartbeat(raw: Mapping[str, Any]) -> Heartbeat:
    return Heartbeat()


def _finish(raw: Mapping[str, Any]) -> Finish:
    try:
        state = TaskInstanceState(str(raw.get("state")))
    except ValueError as exc:
        raise BadRequest(f"unknown state {raw.get('state')!r}") from exc
    if state not in FINISH_STATES:
        raise BadRequest(f"a try cannot finish in state {state.value!r}")
    skip = raw.get("skip") or []
    if not isinstance(skip, list | tuple) or not all(isinstance(t, str) for t in skip):
        raise BadRequest("skip must be a list of task ids")
    return Finish(state, tuple(skip), _retry_delay(raw.get("retry_delay"), state))


#: The longest retry delay a policy may choose (Airflow's cap on every retry delay).
MAX_RETRY_DELAY_SECONDS = DEFAULT_MAX_TASK_RETRY_DELAY.total_seconds()


def finish_args(
    state: TaskInstanceState, skip: Iterable[str] = (), retry_delay: float | None = None
) -> dict[str, Any]:
    """The raw arguments of a ``finish`` call, as a try's process sends them."""
    args: dict[str, Any] = {"state": state.value, "skip": sorted(skip)}
    if retry_delay is not None:
        args["retry_delay"] = retry_delay
    return args


def _retry_delay(raw: Any, state: TaskInstanceState) -> float | None:
    if raw is None:
        return None
    if state is not TaskInstanceState.UP_FOR_RETRY:
        raise BadRequest("retry_delay is given only with state up_for_retry")
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise BadRequest("retry_delay must be a number of seconds")
    if not 0 <= raw <= MAX_RETRY_DELAY_SECONDS:
        raise BadRequest(f"retry_delay must be between 0 and {MAX_RETRY_DELAY_SECONDS:.0f} seconds")
    return float(raw)


def _xcom_ref(raw: Mapping[str, Any]) -> XComRef:
    problem = "task_id, key and an integer map_index are required"
    for name in ("dag_id", "run_id"):
        if raw.get(name) is not None and not isinstance(raw.get(name), str):
            raise BadRequest(f"{name} must be a string")
    prior = raw.get("include_prior_dates", False)
    if isinstance(prior, str):  # a query parameter
        if prior.lower() not in ("true", "false"):
            raise BadRequest("include_prior_dates must be true or false")
        prior = prior.lower() == "true"
    if not isinstance(prior, bool):
        raise BadRequest("include_prior_dates must be true or false")
    return XComRef(
        _text(raw, "task_id", problem),
        _text(raw, "key", problem),
        _integer(raw.get("map_index", -1), "map_index must be an integer"),
        dag_id=raw.get("dag_id") or None,
        run_id=raw.get("run_id") or None,
        include_prior_dates=prior,
    )


def _xcom_push(raw: Mapping[str, Any]) -> XComPush:
    if "value" not in raw:
        raise BadRequest("key and value are required")
    task_id = raw.get("task_id")
    if task_id is not None and not isinstance(task_id, str):
        raise BadRequest("task_id must be a string")
    return XComPush(_text(raw, "key", "key and value are required"), raw["value"], task_id)


def _variable_ref(raw: Mapping[str, Any]) -> VariableRef:
    return VariableRef(_text(raw, "key", "key is required"))


def _variable_write(raw: Mapping[str, Any]) -> VariableWrite:
    value, description = raw.get("value"), raw.get("description")
    if not isinstance(value, str):
        raise BadRequest("value is required and must be a string")
    if description is not None and not isinstance(description, str):
        raise BadRequest("description must be a string")
    return VariableWrite(_text(raw, "key", "key is required"), value, description)


def _connection_ref(raw: Mapping[str, Any]) -> ConnectionRef:
    return ConnectionRef(_text(raw, "conn_id", "conn_id is required"))


def _date(raw: Mapping[str, Any], name: str) -> datetime | None:
    value = raw.get(name)
    if value is None:
        return None
    problem = f"{name} must be an ISO 8601 date and time with a UTC offset"
    if not isinstance(value, str):
        raise BadRequest(problem)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(problem) from exc
    if parsed.tzinfo is None:
        raise BadRequest(problem)
    return parsed


def _flag(raw: Mapping[str, Any], name: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value


def _dag_run_trigger(raw: Mapping[str, Any]) -> DagRunTrigger:
    problem = "dag_id and run_id are required"
    conf = raw.get("conf") or {}
    if not isinstance(conf, Mapping):
        raise BadRequest("conf must be an object")
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        raise BadRequest("note must be a string")
    return DagRunTrigger(
        dag_id=_text(raw, "dag_id", problem),
        run_id=_text(raw, "run_id", problem),
        conf=dict(conf),
        logical_date=_date(raw, "logical_date"),
        run_after=_date(raw, "run_after"),
        reset_dag_run=_flag(raw, "reset_dag_run"),
        fail_when_dag_is_paused=_flag(raw, "fail_when_dag_is_paused"),
        note=note,
    )


def _dag_run_ref(raw: Mapping[str, Any]) -> DagRunRef:
    problem = "dag_id and run_id are required"
    return DagRunRef(_text(raw, "dag_id", problem), _text(raw, "run_id", problem))


_PARSERS: Mapping[Operation, Callable[[Mapping[str, Any]], Args]] = {
    Operation.START: _start,
    Operation.HEARTBEAT: _heartbeat,
    Operation.FINISH: _finish,
    Operation.XCOM_PULL: _xcom_ref,
    Operation.XCOM_PUSH: _xcom_push,
    Operation.GET_VARIABLE: _variable_ref,
    Operation.SET_VARIABLE: _variable_write,
    Operation.DELETE_VARIABLE: _variable_ref,
    Operation.GET_CONNECTION: _connection_ref,
    Operation.TRIGGER_DAG_RUN: _dag_run_trigger,
    Operation.GET_DAG_RUN_STATE: _dag_run_ref,
}


def operation(name: object) -> Operation:
    """The operation called `name`; `BadRequest` for an unknown one."""
    try:
        return Operation(str(name))
    except ValueError as exc:
        raise BadRequest(f"unknown operation {name!r}") from exc


def check_args(raw: Mapping[str, Any], *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """`BadRequest` when a call's raw arguments break the input rules (module docstring)."""
    if (problem := document_problem(dict(raw), max_depth=max_depth, where="args")) is not None:
        raise BadRequest(problem)


def check_value(value: Any, *, where: str, max_depth: int = DEFAULT_MAX_DEPTH - 1) -> None:
    """`BadRequest` when `value` (an XCom pushed in process, say) breaks the input rules;
    the default depth is what the value may have inside a call's arguments."""
    if (problem := document_problem(value, max_depth=max_depth, where=where)) is not None:
        raise BadRequest(problem)


def parse_args(op: Operation, raw: object, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Args:
    """`op`'s arguments from what a transport received; `BadRequest` when they are wrong."""
    if not isinstance(raw, Mapping):
        raise BadRequest("args must be an object")
    check_args(raw, max_depth=max_depth)
    return _PARSERS[op](raw)
