"""The public surface of `airflow_sc.sdk` is exactly the pinned list."""

from __future__ import annotations

import airflow_sc.sdk as sdk

EXPECTED = {
    "BranchMixIn",
    "timezone",
    "macros",
    "conf",
    "TaskInstanceState",
    "DagRunState",
    "get_current_context",
    "literal",
    "WeekDay",
    "BranchDayOfWeekOperator",
    "PythonVirtualenvOperator",
    "ExternalPythonOperator",
    "BranchPythonVirtualenvOperator",
    "BranchExternalPythonOperator",
    "EmailOperator",
    "BranchDateTimeOperator",
    "BaseBranchOperator",
    "BaseNotifier",
    "DAG",
    "AirflowDagCycleException",
    "AirflowException",
    "AirflowFailException",
    "AirflowRescheduleException",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BashOperator",
    "BranchPythonOperator",
    "Connection",
    "Context",
    "CronDataIntervalTimetable",
    "CronTriggerTimetable",
    "DagDefinitionError",
    "DagRunTriggerException",
    "DeltaDataIntervalTimetable",
    "DeltaTriggerTimetable",
    "DependencyMixin",
    "DuplicateTaskIdFound",
    "EdgeModifier",
    "EmptyOperator",
    "ExceptionRetryPolicy",
    "Label",
    "LatestOnlyOperator",
    "Param",
    "ParamValidationError",
    "ParamsDict",
    "RetryAction",
    "RetryDecision",
    "RetryPolicy",
    "RetryRule",
    "PythonOperator",
    "ShortCircuitOperator",
    "TaskDeferred",
    "TaskGroup",
    "Timetable",
    "TriggerDagRunOperator",
    "TriggerRule",
    "Variable",
    "WeightRule",
    "XComArg",
    "chain",
    "chain_linear",
    "cross_downstream",
    "dag",
    "task",
    "task_group",
}


def test_public_names_are_pinned() -> None:
    assert set(sdk.__all__) == EXPECTED
    assert len(sdk.__all__) == len(EXPECTED)


def test_every_public_name_resolves() -> None:
    missing = [name for name in sdk.__all__ if not hasattr(sdk, name)]
    assert missing == []


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from airflow_sc.sdk import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == EXPECTED
