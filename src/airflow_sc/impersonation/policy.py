"""Which OS user a try runs as (pure: no I/O).

Airflow's rule, plus one for a server running as root:

1. the task's ``run_as_user``;
2. else ``core.default_impersonation``;
3. else, when the server runs as root, ``core.root_impersonation`` (a dedicated
   unprivileged user, ``airflow-sc-task`` by default): a task never runs as root unless a
   setting or the task names root;
4. else the server's own user (no switch).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_sc.config.settings import Settings

__all__ = ["Impersonation", "ImpersonationError", "task_user"]


class ImpersonationError(Exception):
    """A try cannot run as the user it should run as (the message says why)."""


@dataclass(frozen=True, slots=True)
class Impersonation:
    """The deployment's impersonation settings, as a task process needs them.

    `default_user`: ``core.default_impersonation`` ("" none). `root_user`:
    ``core.root_impersonation``, the user tasks run as when the server runs as root and
    nothing else was asked for ("" none: they run as root). `folders`: the dags and plugins
    folders, which the task's user is given a way to (see `paths`).
    """

    default_user: str = ""
    root_user: str = ""
    folders: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "default_user": self.default_user,
            "root_user": self.root_user,
            "folders": list(self.folders),
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> Impersonation:
        """The deployment's settings (``core.*_impersonation``, the dags and plugins folders)."""
        return cls(
            default_user=settings.core.default_impersonation,
            root_user=settings.core.root_impersonation,
            folders=(str(settings.dags_folder), str(settings.plugins_folder)),
        )

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> Impersonation:
        if not data:
            return cls()
        folders = data.get("folders") or ()
        return cls(
            default_user=str(data.get("default_user") or ""),
            root_user=str(data.get("root_user") or ""),
            folders=tuple(str(f) for f in folders) if isinstance(folders, list | tuple) else (),
        )


def task_user(run_as_user: str | None, settings: Impersonation, *, server_uid: int) -> str | None:
    """The name of the user a task should run as; None: the server's own user."""
    asked = (run_as_user or "").strip() or settings.default_user.strip()
    if asked:
        return asked
    if server_uid == 0 and settings.root_user.strip():
        return settings.root_user.strip()
    return None
