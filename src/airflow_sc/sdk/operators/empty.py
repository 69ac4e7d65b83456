"""`EmptyOperator`: a task that does nothing (a join point or a placeholder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from airflow_sc.sdk.baseoperator import BaseOperator

__all__ = ["EmptyOperator"]


class EmptyOperator(BaseOperator):
    """Does nothing; the scheduler marks it SUCCESS without running it unless it has callbacks."""

    ui_color: ClassVar[str] = "#e8f7e4"
    inherits_from_empty_operator: ClassVar[bool] = True

    def execute(self, context: Mapping[str, Any]) -> None:
        return None
