"""`OperatorTriggers`: the DAG runs tasks start (``TriggerDagRunOperator``), as an action.

The execution service receives a task's ``trigger_dag_run`` call and hands it here (the
`airflow_sc.execution.port.DagRunTriggers` port; the composition root wires them). The run
is created by the same action as a run triggered from the REST API or the CLI, recorded as
Airflow 3.3 records it: ``run_type`` ``operator_triggered``, ``triggered_by`` ``operator``.
An existing run is cleared (``reset_dag_run``) through the clear action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from airflow_sc.actions.clear import clear_task_instances
from airflow_sc.actions.errors import (
    DagIsPaused,
    DagNotFound,
    DagRunExists,
    InvalidConf,
    InvalidRunId,
)
from airflow_sc.actions.trigger import trigger_dag_run
from airflow_sc.actions.wake import Wake, no_wake
from airflow_sc.db import Database
from airflow_sc.domain.run_ids import DEFAULT_ALLOWED_RUN_ID_PATTERN
from airflow_sc.execution.errors import BadRequest, NotFound
from airflow_sc.execution.protocol import DagRunTrigger, TriggerOutcome
from airflow_sc.sdk.params import ParamValidationError

__all__ = ["OperatorTriggers"]

#: How airflow-sc records a run a task started (Airflow 3.3's names).
OPERATOR_RUN_TYPE = "operator_triggered"
OPERATOR_TRIGGERED_BY = "operator"


@dataclass(frozen=True, slots=True)
class OperatorTriggers:
    """Creates (or clears) the runs tasks ask for; `wake` tells the scheduler after commit.
    A run id must match `allowed_run_id_pattern` (``[scheduler]``), as from the API."""

    db: Database
    wake: Wake = no_wake
    allowed_run_id_pattern: str = DEFAULT_ALLOWED_RUN_ID_PATTERN

    async def trigger(self, request: DagRunTrigger, *, now: datetime) -> TriggerOutcome:
        try:
            await trigger_dag_run(
                self.db,
                request.dag_id,
                now=now,
                conf=request.conf,
                logical_date=request.logical_date,
                run_after=request.run_after,
                run_id=request.run_id,
                note=request.note,
                triggered_by=OPERATOR_TRIGGERED_BY,
                run_type=OPERATOR_RUN_TYPE,
                refuse_paused=request.fail_when_dag_is_paused,
                allowed_run_id_pattern=self.allowed_run_id_pattern,
                wake=self.wake,
            )
        except DagNotFound as exc:
            raise NotFound(str(exc)) from exc
        except DagIsPaused:
            return TriggerOutcome.PAUSED
        except ParamValidationError as exc:
            raise BadRequest(f"conf does not satisfy the DAG's params: {exc}") from exc
        except (InvalidRunId, InvalidConf) as exc:
            raise BadRequest(str(exc)) from exc
        except DagRunExists as exc:
            if not (request.reset_dag_run and exc.run_id_taken):
                return TriggerOutcome.EXISTS
            await clear_task_instances(
                self.db, request.dag_id, now=now, run_ids=[request.run_id], wake=self.wake
            )
            return TriggerOutcome.RESET
        return TriggerOutcome.CREATED
