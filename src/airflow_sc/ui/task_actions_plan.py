"""What a task action from the panel asks for (clear, mark success, failed or skipped, with
downstream/upstream; clear also "only failed"), read from its form, and what its dry run found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ACTIONS", "TaskAction", "TaskActionPreview", "read_task_action"]

ActionName = Literal["clear", "success", "failed", "skipped"]
ACTIONS: dict[str, str] = {
    "clear": "Clear",
    "success": "Mark success",
    "failed": "Mark failed",
    "skipped": "Mark skipped",
}


@dataclass(frozen=True, slots=True)
class TaskAction:
    action: ActionName
    downstream: bool
    upstream: bool
    #: Clear only the failed and upstream_failed ones among them (clear only).
    only_failed: bool
    #: Only show what would change (the dry run), do not change it.
    preview: bool


@dataclass(frozen=True, slots=True)
class TaskActionPreview:
    action: TaskAction
    #: (run_id, task_id, state now) of each task instance the action would change.
    affected: list[tuple[str, str, str]]
    error: str | None = None

    @property
    def label(self) -> str:
        return ACTIONS[self.action.action]


def read_task_action(form: dict[str, list[str]]) -> TaskAction | None:
    """None when the form names no known action."""
    action = (form.get("action") or [""])[0]
    if action not in ACTIONS:
        return None
    options = ("downstream", "upstream", "only_failed")
    checked = {name for name in options if form.get(name) == ["true"]}
    return TaskAction(
        action,  # type: ignore[arg-type]
        downstream="downstream" in checked,
        upstream="upstream" in checked,
        only_failed=action == "clear" and "only_failed" in checked,
        preview=(form.get("step") or [""])[0] != "apply",
    )
