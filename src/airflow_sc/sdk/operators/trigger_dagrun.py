"""`TriggerDagRunOperator`: start a run of another DAG.

``execute`` does no I/O: it raises a `DagRunTriggerException` carrying the request, and the
task runner performs it through the execution API (creating the run, optionally waiting
for it to reach one of ``allowed_states`` or ``failed_states``), as Airflow 3 does
(`airflow_sc.task_runner.dag_run_trigger`). The run is recorded with ``run_type``
``operator_triggered`` and ``triggered_by`` ``operator``. ``deferrable=True`` waits in the
task's process as well: airflow-sc has no triggerer yet.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, NoReturn

from airflow_sc.sdk.baseoperator import BaseOperator
from airflow_sc.sdk.exceptions import AirflowException, DagRunTriggerException
from airflow_sc.sdk.ignored_arguments import OPERATOR_ARGUMENTS, warn_ignored
from airflow_sc.sdk.params import NOTSET, ArgNotSet

__all__ = ["TriggerDagRunOperator"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TriggerDagRunOperator(BaseOperator):
    """Trigger a run of `trigger_dag_id` with `conf`; optionally wait for it to finish."""

    template_fields: ClassVar[Sequence[str]] = (
        "trigger_dag_id",
        "trigger_run_id",
        "logical_date",
        "conf",
        "wait_for_completion",
        "skip_when_already_exists",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"conf": "py"}
    ui_color: ClassVar[str] = "#ffefeb"

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: Mapping[str, Any] | None = None,
        logical_date: str | dt.datetime | ArgNotSet | None = NOTSET,
        run_after: str | dt.datetime | ArgNotSet | None = NOTSET,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float = 60,
        allowed_states: Sequence[str] | None = None,
        failed_states: Sequence[str] | None = None,
        skip_when_already_exists: bool = False,
        fail_when_dag_is_paused: bool = False,
        note: str | None = None,
        deferrable: bool = False,
        clock: Callable[[], dt.datetime] = _utcnow,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf
        self.logical_date = logical_date
        self.run_after = run_after
        self.note = note
        self.reset_dag_run = reset_dag_run
        self.wait_for_completion = wait_for_completion
        self.poke_interval = poke_interval
        self.allowed_states = list(allowed_states) if allowed_states else ["success"]
        self.failed_states = list(failed_states) if failed_states else ["failed"]
        self.skip_when_already_exists = skip_when_already_exists
        self.deferrable = deferrable
        self.fail_when_dag_is_paused = fail_when_dag_is_paused
        if deferrable:
            key = "TriggerDagRunOperator.deferrable"
            warn_ignored(key, OPERATOR_ARGUMENTS[key], self.definition_site)
        self._clock = clock
        overlap = set(self.allowed_states) & set(self.failed_states)
        if overlap:
            raise self._error(f"allowed_states and failed_states overlap: {sorted(overlap)}")

    def _logical_date(self) -> dt.datetime | None:
        value = self.logical_date
        if isinstance(value, ArgNotSet):
            # As in Airflow: now, unless only run_after was given (then no logical date).
            return None if not isinstance(self.run_after, ArgNotSet) else self._clock()
        return _parse_date("logical_date", value)

    def _run_after(self) -> dt.datetime | None:
        value = self.run_after
        return None if isinstance(value, ArgNotSet) else _parse_date("run_after", value)

    def execute(self, context: Mapping[str, Any]) -> NoReturn:
        conf: Any = self.conf
        try:
            if isinstance(conf, str) and conf:  # a rendered template: JSON text, as in Airflow
                conf = json.loads(conf)
            json.dumps(conf)
        except (TypeError, ValueError) as exc:
            raise AirflowException(f"conf must be JSON serializable: {exc}") from None
        if conf is not None and not isinstance(conf, Mapping):
            raise AirflowException(f"conf must be a mapping, not {type(conf).__name__}")
        logical_date, run_after = self._logical_date(), self._run_after()
        when = logical_date or run_after or self._clock()
        run_id = str(self.trigger_run_id) if self.trigger_run_id else f"manual__{when.isoformat()}"
        raise DagRunTriggerException(
            trigger_dag_id=self.trigger_dag_id,
            dag_run_id=run_id,
            conf=conf,
            logical_date=logical_date,
            reset_dag_run=self.reset_dag_run,
            skip_when_already_exists=self.skip_when_already_exists,
            wait_for_completion=self.wait_for_completion,
            allowed_states=self.allowed_states,
            failed_states=self.failed_states,
            poke_interval=self.poke_interval,
            deferrable=self.deferrable,
            run_after=run_after,
            note=self.note,
            fail_when_dag_is_paused=self.fail_when_dag_is_paused,
        )


def _parse_date(name: str, value: object) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise AirflowException(f"{name} must be a datetime or ISO string: {value!r}") from None
    if not isinstance(value, dt.datetime):
        raise AirflowException(f"{name} must be a datetime or ISO string: {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
