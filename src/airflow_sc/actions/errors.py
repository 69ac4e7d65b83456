"""What an operator action refuses, in words a user reads (the API maps them to 404/409)."""

from __future__ import annotations


class ActionError(Exception):
    """An action that cannot be carried out as asked."""


class DagNotFound(ActionError):
    def __init__(self, dag_id: str) -> None:
        super().__init__(f"DAG {dag_id!r} not found")
        self.dag_id = dag_id


class DagRunNotFound(ActionError):
    def __init__(self, dag_id: str, run_id: str) -> None:
        super().__init__(f"DAG run {run_id!r} of DAG {dag_id!r} not found")
        self.dag_id = dag_id
        self.run_id = run_id


class DagRunExists(ActionError):
    def __init__(self, dag_id: str, run_id: str, *, run_id_taken: bool = True) -> None:
        super().__init__(
            f"DAG {dag_id!r} already has a run with run id {run_id!r} or the same logical date"
        )
        self.dag_id = dag_id
        self.run_id = run_id
        #: Whether a run holds this run id (False: another run has the logical date).
        self.run_id_taken = run_id_taken


class DagIsPaused(ActionError):
    def __init__(self, dag_id: str) -> None:
        super().__init__(f"DAG {dag_id!r} is paused")
        self.dag_id = dag_id


class InvalidRunId(ActionError):
    """A run id Airflow's rule refuses (pattern, length, characters): the reason says which."""


class InvalidConf(ActionError):
    """A run conf that cannot be stored and shown again (NUL, surrogates, NaN, depth)."""
