"""Which run ids a user may give a DAG run (Airflow's rule, plus what keeps paths sane).

As Airflow 3: a run id must match `[scheduler] allowed_run_id_pattern` (default
`^[A-Za-z0-9_.~:+-]+$`) or have the form of an id Airflow generates
(`manual__2026-01-01T00:00:00+00:00`), and fit the `run_id` column (250 characters).
Beyond Airflow: control characters (a newline that `$` lets through, a NUL) and unpaired
surrogates are always refused, whatever the pattern says.
"""

from __future__ import annotations

import re
from typing import Final

from airflow_sc.domain.json_values import text_problem

__all__ = [
    "DEFAULT_ALLOWED_RUN_ID_PATTERN",
    "GENERATED_RUN_ID_REGEX",
    "RUN_ID_MAX_LENGTH",
    "run_id_problem",
]

#: The `run_id` column's length (Airflow's `StringID`).
RUN_ID_MAX_LENGTH: Final = 250
#: Airflow's default `[scheduler] allowed_run_id_pattern`.
DEFAULT_ALLOWED_RUN_ID_PATTERN: Final = r"^[A-Za-z0-9_.~:+-]+$"
#: The form of the ids Airflow generates; accepted whatever the configured pattern.
GENERATED_RUN_ID_REGEX: Final = (
    r"^(?:manual|scheduled|asset_triggered)__(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00)$"
)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def run_id_problem(run_id: str, allowed_pattern: str) -> str | None:
    """Why `run_id` may not name a run, or None. `allowed_pattern` is matched as Airflow
    does (`re.match`: anchored at the start; an empty pattern allows nothing more)."""
    if len(run_id) > RUN_ID_MAX_LENGTH:
        return f"The run_id is {len(run_id)} characters long; at most {RUN_ID_MAX_LENGTH} fit"
    if (problem := text_problem(run_id)) is not None or _CONTROL.search(run_id):
        return f"The run_id {run_id!r} {problem or 'contains a control character'}"
    if re.match(GENERATED_RUN_ID_REGEX, run_id):
        return None
    pattern = allowed_pattern.strip()
    if pattern and re.match(pattern, run_id):
        return None
    return (
        f"The run_id provided {run_id!r} does not match regex pattern {pattern!r} "
        f"or {GENERATED_RUN_ID_REGEX!r}"
    )
