"""`/dags/{dag_id}/trigger`: the trigger form built from the DAG's params, and its submission
through the same action as `POST /api/v2/dags/{dag_id}/dagRuns` (`actions.trigger_dag_run`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from airflow_sc.actions import (
    DagNotFound,
    DagRunExists,
    InvalidConf,
    InvalidRunId,
    trigger_dag_run,
)
from airflow_sc.auth import Permission
from airflow_sc.sdk.params import ParamValidationError
from airflow_sc.ui.access import checked_form, context_of, page_requires
from airflow_sc.ui.dag_data import load_dag
from airflow_sc.ui.rendering import render, with_security_headers
from airflow_sc.ui.session import Session
from airflow_sc.ui.trigger_form import (
    CONF,
    LOGICAL_DATE,
    RUN_ID,
    TriggerRequest,
    form_fields,
    read_trigger_form,
)

router = APIRouter(include_in_schema=False)

_EDIT = page_requires(Permission.DAG_EDIT)


def _page(
    request: Request,
    session: Session,
    dag_id: str,
    params: dict[str, Any],
    *,
    entered: dict[str, list[str]] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = context_of(request)
    fields = form_fields(params, ctx.masker)
    entered = entered or {}
    return render(
        "trigger.html",
        {
            "session": session,
            "dag_id": dag_id,
            "fields": fields,
            "entered": {name: values[-1] for name, values in entered.items() if values},
            "errors": errors or {},
            "names": {"conf": CONF, "logical_date": LOGICAL_DATE, "run_id": RUN_ID},
        },
        status_code=status_code,
    )


def _missing(session: Session, dag_id: str) -> Response:
    return render(
        "message.html",
        {"session": session, "title": "DAG not found", "message": f"No DAG {dag_id!r}."},
        status_code=404,
    )


@router.get("/dags/{dag_id}/trigger")
async def trigger_form(
    request: Request, dag_id: str, session: Annotated[Session, Depends(_EDIT)]
) -> Response:
    view = await load_dag(context_of(request), dag_id)
    if view is None or view.spec is None:
        return _missing(session, dag_id)
    return _page(request, session, dag_id, dict(view.spec.params))


@router.post("/dags/{dag_id}/trigger")
async def trigger(
    request: Request, dag_id: str, session: Annotated[Session, Depends(_EDIT)]
) -> Response:
    form = await checked_form(request, session)
    ctx = context_of(request)
    view = await load_dag(ctx, dag_id)
    if view is None or view.spec is None:
        return _missing(session, dag_id)
    params = dict(view.spec.params)
    wanted: TriggerRequest = read_trigger_form(params, form)
    if not wanted.errors:
        try:
            run = await trigger_dag_run(
                ctx.db,
                dag_id,
                now=ctx.clock(),
                conf=wanted.conf,
                logical_date=wanted.logical_date,
                run_id=wanted.run_id,
                triggered_by="ui",
                allowed_run_id_pattern=ctx.settings.scheduler.allowed_run_id_pattern,
                triggering_user_name=session.token.username,
                wake=ctx.wake,
            )
        except DagNotFound:
            return _missing(session, dag_id)
        except (ParamValidationError, InvalidConf) as exc:
            wanted.errors[CONF] = str(exc)
        except InvalidRunId as exc:
            wanted.errors[RUN_ID] = str(exc)
        except DagRunExists as exc:
            wanted.errors[RUN_ID] = (
                f"a run with id {exc.run_id!r} or the same logical date already exists"
            )
        else:
            # Back to the DAG page, where the new run's column appears.
            target = f"/dags/{quote(dag_id)}#run-{quote(run.run_id)}"
            return with_security_headers(RedirectResponse(target, status_code=303))
    return _page(
        request, session, dag_id, params, entered=form, errors=wanted.errors, status_code=400
    )
