"""`POST /dags/{dag_id}/runs/{run_id}/tasks/{task_id}/action`: clear or mark a task instance
from its panel, with downstream/upstream (and, for clear, only the failed ones), through
`actions.clear_task_instances` and `actions.mark_task_instances` (the API's and the CLI's
actions). The first step is always
the dry run, shown in the panel; applying it is a second POST."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from airflow_sc.actions import ActionError, clear_task_instances, mark_task_instances
from airflow_sc.auth import Permission
from airflow_sc.domain.transitions import IllegalTransition
from airflow_sc.ui.access import checked_form, context_of, page_requires
from airflow_sc.ui.dag_page import render_dag_page
from airflow_sc.ui.rendering import with_security_headers
from airflow_sc.ui.session import Session
from airflow_sc.ui.task_actions_plan import TaskAction, TaskActionPreview, read_task_action

router = APIRouter(include_in_schema=False)

_EDIT = page_requires(Permission.DAG_EDIT)


async def _apply(
    request: Request, dag_id: str, run_id: str, task_id: str, action: TaskAction, *, dry: bool
) -> list[tuple[str, str, str]]:
    ctx = context_of(request)
    if action.action == "clear":
        cleared = await clear_task_instances(
            ctx.db,
            dag_id,
            now=ctx.clock(),
            run_ids=[run_id],
            task_ids=[task_id],
            include_downstream=action.downstream,
            include_upstream=action.upstream,
            only_failed=action.only_failed,
            dry_run=dry,
            wake=ctx.wake,
        )
        return [(c.run_id, c.task_id, c.state or "none") for c in cleared]
    marked = await mark_task_instances(
        ctx.db,
        dag_id,
        run_id,
        [task_id],
        action.action,
        now=ctx.clock(),
        map_indexes=[-1],
        include_downstream=action.downstream,
        include_upstream=action.upstream,
        dry_run=dry,
        wake=ctx.wake,
    )
    return [(run_id, m.task_id, m.state or "none") for m in marked]


@router.post("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/action")
async def task_action(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    session: Annotated[Session, Depends(_EDIT)],
) -> Response:
    form = await checked_form(request, session)
    action = read_task_action(form)
    if action is None:
        preview = None
        status = 400
    else:
        try:
            affected = await _apply(request, dag_id, run_id, task_id, action, dry=action.preview)
        except (ActionError, IllegalTransition) as exc:
            preview = TaskActionPreview(action, [], str(exc))
            status = 409
        else:
            if not action.preview:
                query = urlencode({"run_id": run_id, "task_id": task_id})
                target = f"/dags/{quote(dag_id)}?{query}#panel"
                return with_security_headers(RedirectResponse(target, status_code=303))
            preview = TaskActionPreview(action, affected)
            status = 200
    return await render_dag_page(
        request,
        session,
        dag_id,
        run_id=run_id,
        task_id=task_id,
        preview=preview,
        status_code=status,
    )
