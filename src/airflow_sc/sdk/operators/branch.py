"""`BaseBranchOperator`: subclass it and implement `choose_branch` to branch in Python.

`choose_branch(context)` returns the task id(s) (or task group ids) to follow; every other
direct downstream task is skipped, as with `BranchPythonOperator`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_sc.sdk.baseoperator import BaseOperator
from airflow_sc.sdk.skipping import SkipDecision, branch_decision

__all__ = ["BaseBranchOperator", "BranchMixIn"]


class BranchMixIn:
    """`do_branch(context, branches)`: the decision to follow `branches` (Airflow's name)."""

    def do_branch(
        self, context: Mapping[str, Any], branches_to_execute: str | Iterable[str] | None
    ) -> SkipDecision:
        assert isinstance(self, BaseOperator)
        decision = branch_decision(self, branches_to_execute)
        self.log.info(
            "Following branch %s; skipping %s", sorted(decision.follow), sorted(decision.skip)
        )
        return decision


class BaseBranchOperator(BaseOperator, BranchMixIn):
    """A task that decides which downstream branch runs (implement `choose_branch`)."""

    inherits_from_skipmixin = True

    def choose_branch(self, context: Mapping[str, Any]) -> str | Iterable[str] | None:
        """The task or task group id(s) to follow."""
        raise NotImplementedError(f"{type(self).__name__} must implement choose_branch()")

    def execute(self, context: Mapping[str, Any]) -> SkipDecision:
        return self.do_branch(context, self.choose_branch(context))
