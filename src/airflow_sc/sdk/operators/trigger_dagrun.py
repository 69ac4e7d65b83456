"""`TriggerDagRunOperator`: start a run of another DAG.

``execute`` does no I/O: it raises a `DagRunTriggerException` carrying the request, and the
task runner performs it through the execution API (creating the run, optionally waiting
for it to reach one of ``allowed_states`` or ``failed_states``), as Airflow 3 does.
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
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float = 60,
        allowed_states: Sequence[str] | None = None,
        failed_states: Sequence[str] | None = None,
        skip_when_already_exists: bool = False,
        fail_when_dag_is_paused: bool = False,
        deferrable: bool = False,
        clock: Callable[[], dt.datetime] = _utcnow,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf
        self.logical_date = logical_date
        self.reset_dag_run = reset_dag_run
        self.wait_for_completion = wait_for_completion
        self.poke_interval = poke_interval
        self.allowed_states = list(allowed_states) if allowed_states else ["success"]
        self.failed_states = list(failed_states) if failed_states else ["failed"]
        self.skip_when_already_exists = skip_when_already_exists
        self.deferrable = deferrable
        self.fail_when_dag_is_paused = fail_when_dag_is_paused
        site = self.definition_site
        warn_ignored("TriggerDagRunOperator", OPERATOR_ARGUMENTS["TriggerDagRunOperator"], site)
        for name in ("fail_when_dag_is_paused", "deferrable"):
            if getattr(self, name):
                key = f"TriggerDagRunOperator.{name}"
                warn_ignored(key, OPERATOR_ARGUMENTS[key], site)
        self._clock = clock
        overlap = set(self.allowed_states) & set(self.failed_states)
        if overlap:
            raise self._error(f"allowed_states and failed_states overlap: {sorted(overlap)}")

    def _logical_date(self) -> dt.datetime | None:
        value = self.logical_date
        if isinstance(value, ArgNotSet):
            return self._clock()
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if not isinstance(value, dt.datetime):
            raise AirflowException(f"logical_date must be a datetime or ISO string: {value!r}")
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)

    def execute(self, context: Mapping[str, Any]) -> NoReturn:
        try:
            json.dumps(self.conf)
        except TypeError as exc:
            raise AirflowException(f"conf must be JSON serializable: {exc}") from None
        logical_date = self._logical_date()
        run_id = self.trigger_run_id or (f"manual__{(logical_date or self._clock()).isoformat()}")
        raise DagRunTriggerException(
            trigger_dag_id=self.trigger_dag_id,
            dag_run_id=run_id,
            conf=self.conf,
            logical_date=logical_date,
            reset_dag_run=self.reset_dag_run,
            skip_when_already_exists=self.skip_when_already_exists,
            wait_for_completion=self.wait_for_completion,
            allowed_states=self.allowed_states,
            failed_states=self.failed_states,
            poke_interval=self.poke_interval,
            deferrable=self.deferrable,
        )
