"""What a try tells others about itself, from the task's own process: the listeners of
plugins, and Airflow's ``email_on_failure`` / ``email_on_retry`` alerts.

Neither ever changes the try's outcome: a listener or a mail server that fails is logged.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

from airflow_sc.domain.states import TaskInstanceState
from airflow_sc.plugins.listeners import notify

__all__ = ["try_ended", "try_started"]

_TI = TaskInstanceState
_LISTENER_HOOKS = {
    _TI.SUCCESS: "on_task_instance_success",
    _TI.FAILED: "on_task_instance_failed",
    _TI.UP_FOR_RETRY: "on_task_instance_failed",
    _TI.SKIPPED: "on_task_instance_skipped",
}


def try_started(ti: Any) -> None:
    """The try is about to execute."""
    notify("on_task_instance_running", previous_state=_TI.QUEUED, task_instance=ti)


def try_ended(
    task: Any,
    ti: Any,
    state: TaskInstanceState,
    context: Mapping[str, Any],
    log: logging.Logger,
) -> None:
    """The try ended in `state` (its state callbacks have run)."""
    hook = _LISTENER_HOOKS.get(state)
    if hook is not None:
        extra = {"error": context.get("exception")} if hook == "on_task_instance_failed" else {}
        notify(hook, previous_state=_TI.RUNNING, task_instance=ti, **extra)
    wanted = (state is _TI.FAILED and task.email_on_failure) or (
        state is _TI.UP_FOR_RETRY and task.email_on_retry
    )
    if wanted and task.email:
        try:
            _send_alert(task, ti, state, context)
        except Exception:
            log.exception("Could not send the %s e-mail alert to %s", state.value, task.email)
        else:
            log.info("Sent the %s e-mail alert to %s", state.value, task.email)


def _send_alert(task: Any, ti: Any, state: TaskInstanceState, context: Mapping[str, Any]) -> None:
    from airflow_sc.sdk.smtp import send_email_smtp

    title = "Retry" if state is _TI.UP_FOR_RETRY else "Failed"
    subject = f"Airflow alert: <TaskInstance: {ti.dag_id}.{ti.task_id} {ti.run_id} [{state}]>"
    exception = html.escape(str(context.get("exception", "")))
    body = (
        f"Try {ti.try_number} out of {ti.max_tries + 1}<br>"
        f"Exception:<br>{exception}<br>"
        f'Log: <a href="{html.escape(ti.log_url)}">Link</a><br>'
        f"Host: {html.escape(ti.hostname)}<br>"
        f"Mark success: {title.lower()} of {html.escape(ti.task_id)}<br>"
    )
    send_email_smtp(task.email, subject, body)
