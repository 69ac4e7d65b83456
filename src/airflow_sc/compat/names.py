"""Which Airflow import names airflow-sc serves, and what each one is in airflow-sc.

`MODULES` maps an Airflow module (``airflow.sdk``, ``airflow.operators.python``...) to its
names: ``{airflow name: "airflow_sc.module:attribute"}``. `MODULE_ALIASES` maps an Airflow
module to an airflow-sc module whose public names (``__all__``) it serves whole. Both are
plain data, shared by the import hook (`finder.py`) and the static check of a DAG folder
(`scan.py`); ``tests/compat/test_names.py`` pins the resulting list of names. A target
without ``:`` is a module served as the name (``airflow.sdk.timezone``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

__all__ = [
    "MODULES",
    "MODULE_ALIASES",
    "TASK_DECORATORS",
    "all_modules",
    "is_supported",
    "packages",
    "supported_names",
]

_SDK = "airflow_sc.sdk"


def _from(target: str, names: Iterable[str], **renamed: str) -> dict[str, str]:
    """``{name: "target:name"}`` for `names`, plus ``{airflow name: "target:our name"}``."""
    out = {name: f"{target}:{name}" for name in names}
    out.update({airflow: f"{target}:{ours}" for airflow, ours in renamed.items()})
    return out


_EXCEPTIONS = _from(
    f"{_SDK}.exceptions",
    [
        "AirflowException",
        "AirflowSkipException",
        "AirflowFailException",
        "AirflowRescheduleException",
        "AirflowNotFoundException",
        "AirflowConfigException",
        "AirflowTaskTimeout",
        "AirflowTaskTerminated",
        "TaskDeferred",
        "DuplicateTaskIdFound",
        "AirflowDagCycleException",
    ],
) | _from(f"{_SDK}.params", ["ParamValidationError"])

_PYTHON_OPERATORS = (
    _from(
        f"{_SDK}.operators.python",
        ["PythonOperator", "BranchPythonOperator", "ShortCircuitOperator"],
    )
    | _from(
        f"{_SDK}.operators.python_virtualenv",
        [
            "PythonVirtualenvOperator",
            "BranchPythonVirtualenvOperator",
            "ExternalPythonOperator",
            "BranchExternalPythonOperator",
        ],
    )
    | _from(f"{_SDK}.context", ["get_current_context"])
)

_BASH = _from(f"{_SDK}.operators.bash", ["BashOperator"])
_EMPTY = _from(f"{_SDK}.operators.empty", ["EmptyOperator"])
_TRIGGER = _from(f"{_SDK}.operators.trigger_dagrun", ["TriggerDagRunOperator"])
_LATEST = _from(f"{_SDK}.operators.latest_only", ["LatestOnlyOperator"])
_BRANCH = _from(f"{_SDK}.operators.branch", ["BaseBranchOperator", "BranchMixIn"])
_DATETIME = _from(f"{_SDK}.operators.datetime", ["BranchDateTimeOperator"])
_WEEKDAY_OP = _from(f"{_SDK}.operators.weekday", ["BranchDayOfWeekOperator"])
_WEEKDAY = _from(f"{_SDK}.weekday", ["WeekDay"])
_EMAIL = _from(f"{_SDK}.operators.email", ["EmailOperator"])
_NOTIFIER = _from(f"{_SDK}.notifier", ["BaseNotifier"])
_SMTP_NOTIFIER = _from(f"{_SDK}.notifications.smtp", ["SmtpNotifier", "send_smtp_notification"])
_HOOK = _from(f"{_SDK}.bases.hook", ["BaseHook"])
_TRIGGER_RULE = _from("airflow_sc.domain.task_rules", ["TriggerRule"])
_WEIGHT_RULE = _from("airflow_sc.domain.task_rules", ["WeightRule"])
_STATES = _from("airflow_sc.domain.states", ["TaskInstanceState", "DagRunState"])
_TIMETABLE_BASE = _from(
    f"{_SDK}.timetables", ["Timetable", "DataInterval", "DagRunInfo", "TimeRestriction"]
)
_TIMETABLES = _from(
    f"{_SDK}.timetables",
    [
        "CronDataIntervalTimetable",
        "CronTriggerTimetable",
        "DeltaDataIntervalTimetable",
        "DeltaTriggerTimetable",
    ],
)
_CHAIN = _from(f"{_SDK}.dependencies", ["chain", "chain_linear", "cross_downstream"])
_DECORATORS = _from(f"{_SDK}.taskflow", ["task"]) | _from(f"{_SDK}.dag", ["dag"])
_DECORATORS |= _from(f"{_SDK}.taskgroup", ["task_group"])

_RETRY_POLICIES = _from(
    f"{_SDK}.retry_policy",
    ["ExceptionRetryPolicy", "RetryAction", "RetryDecision", "RetryPolicy", "RetryRule"],
)

#: The Airflow 3 authoring interface, ``airflow.sdk``.
_AIRFLOW_SDK = (
    _from(
        _SDK,
        [
            "DAG",
            "BaseOperator",
            "Connection",
            "Context",
            "EdgeModifier",
            "Label",
            "Param",
            "ParamsDict",
            "TaskGroup",
            "Variable",
            "XComArg",
        ],
    )
    | _DECORATORS
    | _CHAIN
    | _HOOK
    | _NOTIFIER
    | _BRANCH
    | _TRIGGER_RULE
    | _WEIGHT_RULE
    | _STATES
    | _TIMETABLES
    | _from(f"{_SDK}.context", ["get_current_context"])
    | _from(f"{_SDK}.literal", ["literal"])
    | _RETRY_POLICIES
    | _from("airflow_sc.task_runner.task_instance", [], TaskInstance="RuntimeTaskInstance")
    | _from("airflow_sc.compat.configuration", ["conf"])
    | {"timezone": f"{_SDK}.timezone", "macros": f"{_SDK}.macros"}
)

#: The names ``airflow.providers.common.compat.sdk`` re-exports that airflow-sc has.
_COMMON_COMPAT_SDK = (
    {name: target for name, target in _AIRFLOW_SDK.items() if name not in _RETRY_POLICIES}
    | _EXCEPTIONS
    | _from(f"{_SDK}.timetables", ["Timetable"])
    | _from(f"{_SDK}.operators.python", ["PythonOperator"])
)

MODULES: Mapping[str, Mapping[str, str]] = {
    "airflow": _from(_SDK, ["DAG"]),
    "airflow.sdk": _AIRFLOW_SDK,
    "airflow.sdk.bases.operator": _from(_SDK, ["BaseOperator"]) | _CHAIN,
    "airflow.sdk.bases.hook": _HOOK,
    "airflow.sdk.bases.notifier": _NOTIFIER,
    "airflow.sdk.bases.branch": _BRANCH,
    "airflow.sdk.definitions.dag": _from(_SDK, ["DAG", "dag"]),
    "airflow.sdk.definitions.taskgroup": _from(_SDK, ["TaskGroup"]),
    "airflow.sdk.definitions.param": _from(_SDK, ["Param", "ParamsDict"]),
    "airflow.sdk.definitions.context": _from(f"{_SDK}.context", ["Context", "get_current_context"]),
    "airflow.sdk.definitions.variable": _from(_SDK, ["Variable"]),
    "airflow.sdk.definitions.connection": _from(_SDK, ["Connection"]),
    "airflow.sdk.definitions.edges": _from(_SDK, ["EdgeModifier", "Label"]),
    "airflow.sdk.definitions.xcom_arg": _from(_SDK, ["XComArg"]),
    "airflow.sdk.definitions.decorators": _from(f"{_SDK}.taskflow", ["task"]),
    "airflow.sdk.exceptions": _EXCEPTIONS,
    "airflow.exceptions": _EXCEPTIONS,
    "airflow.configuration": _from("airflow_sc.compat.configuration", ["conf"]),
    "airflow.decorators": _DECORATORS,
    "airflow.models": _from(_SDK, ["DAG", "BaseOperator", "Variable", "Connection", "Param"]),
    "airflow.models.dag": _from(_SDK, ["DAG"]),
    "airflow.models.baseoperator": _from(_SDK, ["BaseOperator"]) | _CHAIN,
    "airflow.models.param": _from(_SDK, ["Param", "ParamsDict"]),
    "airflow.models.variable": _from(_SDK, ["Variable"]),
    "airflow.models.connection": _from(_SDK, ["Connection"]),
    "airflow.hooks.base": _HOOK,
    "airflow.notifications.basenotifier": _NOTIFIER,
    "airflow.utils.trigger_rule": _TRIGGER_RULE,
    "airflow.utils.weight_rule": _WEIGHT_RULE,
    "airflow.task.weight_rule": _WEIGHT_RULE,
    "airflow.task.priority_strategy": _from(
        f"{_SDK}.priority_strategy", ["PriorityWeightStrategy"]
    ),
    "airflow.utils.state": _STATES,
    "airflow.utils.task_group": _from(_SDK, ["TaskGroup"]),
    "airflow.utils.edgemodifier": _from(_SDK, ["EdgeModifier", "Label"]),
    "airflow.utils.helpers": _from(f"{_SDK}.dependencies", ["chain", "cross_downstream"]),
    "airflow.utils.context": _from(f"{_SDK}.context", ["Context", "get_current_context"]),
    "airflow.utils.weekday": _WEEKDAY,
    "airflow.timetables.base": _TIMETABLE_BASE,
    "airflow.timetables.trigger": _from(
        f"{_SDK}.timetables", ["CronTriggerTimetable", "DeltaTriggerTimetable"]
    ),
    "airflow.timetables.interval": _from(
        f"{_SDK}.timetables", ["CronDataIntervalTimetable", "DeltaDataIntervalTimetable"]
    ),
    "airflow.timetables.simple": _from(
        f"{_SDK}.timetables", ["NullTimetable", "OnceTimetable", "ContinuousTimetable"]
    ),
    "airflow.plugins_manager": _from("airflow_sc.plugins", ["AirflowPlugin"]),
    "airflow.listeners": _from("airflow_sc.plugins.listeners", ["hookimpl"]),
    # Airflow 2 operator paths, still accepted by Airflow 3.
    "airflow.operators.python": _PYTHON_OPERATORS,
    "airflow.operators.bash": _BASH,
    "airflow.operators.empty": _EMPTY,
    "airflow.operators.trigger_dagrun": _TRIGGER,
    "airflow.operators.latest_only": _LATEST,
    "airflow.operators.branch": _BRANCH,
    "airflow.operators.datetime": _DATETIME,
    "airflow.operators.weekday": _WEEKDAY_OP,
    "airflow.operators.email": _EMAIL,
    # The standard provider (Airflow 3 paths).
    "airflow.providers.standard.operators.python": _PYTHON_OPERATORS,
    "airflow.providers.standard.operators.bash": _BASH,
    "airflow.providers.standard.operators.empty": _EMPTY,
    "airflow.providers.standard.operators.trigger_dagrun": _TRIGGER,
    "airflow.providers.standard.operators.latest_only": _LATEST,
    "airflow.providers.standard.operators.branch": _BRANCH,
    "airflow.providers.standard.operators.datetime": _DATETIME,
    "airflow.providers.standard.operators.weekday": _WEEKDAY_OP,
    "airflow.providers.standard.utils.weekday": _WEEKDAY,
    "airflow.providers.standard.decorators.python": _from(
        f"{_SDK}.taskflow", [], python_task="python_task"
    ),
    "airflow.providers.standard.decorators.bash": _from(
        f"{_SDK}.taskflow", [], bash_task="bash_task"
    ),
    "airflow.providers.standard.decorators.branch_python": _from(
        f"{_SDK}.taskflow", [], branch_task="branch_task"
    ),
    "airflow.providers.standard.decorators.short_circuit": _from(
        f"{_SDK}.taskflow", [], short_circuit_task="short_circuit_task"
    ),
    "airflow.providers.standard.decorators.python_virtualenv": _from(
        f"{_SDK}.taskflow", [], virtualenv_task="virtualenv_task"
    ),
    "airflow.providers.standard.decorators.external_python": _from(
        f"{_SDK}.taskflow", [], external_python_task="external_python_task"
    ),
    "airflow.providers.standard.decorators.branch_virtualenv": _from(
        f"{_SDK}.taskflow", [], branch_virtualenv_task="branch_virtualenv_task"
    ),
    "airflow.providers.standard.decorators.branch_external_python": _from(
        f"{_SDK}.taskflow", [], branch_external_python_task="branch_external_python_task"
    ),
    "airflow.providers.smtp.operators.smtp": _EMAIL,
    "airflow.providers.smtp.notifications.smtp": _SMTP_NOTIFIER,
    "airflow.providers.common.compat.sdk": _COMMON_COMPAT_SDK,
    "airflow.providers.common.compat.notifier": _NOTIFIER,
}

#: Airflow modules served whole by an airflow-sc module (every name in its ``__all__``).
MODULE_ALIASES: Mapping[str, str] = {
    "airflow.sdk.timezone": f"{_SDK}.timezone",
    "airflow.utils.timezone": f"{_SDK}.timezone",
    "airflow.macros": f"{_SDK}.macros",
}

#: ``@task.<name>`` variants airflow-sc has (``@task.docker`` and the like are not).
TASK_DECORATORS: frozenset[str] = frozenset(
    {
        "python",
        "bash",
        "branch",
        "short_circuit",
        "virtualenv",
        "branch_virtualenv",
        "external_python",
        "branch_external_python",
        "override",
    }
)


@cache
def all_modules() -> frozenset[str]:
    """Every Airflow module name the import hook serves, packages included."""
    modules = set(MODULES) | set(MODULE_ALIASES)
    return frozenset(modules | packages())


@cache
def packages() -> frozenset[str]:
    """The Airflow module names that are packages (have submodules that are served)."""
    found: set[str] = set()
    for module in (*MODULES, *MODULE_ALIASES):
        parts = module.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(found)


def alias_names(module: str) -> Mapping[str, str]:
    """The names a whole-module alias serves, read from its target's ``__all__``."""
    import importlib

    target = MODULE_ALIASES[module]
    public = getattr(importlib.import_module(target), "__all__", ())
    return {name: f"{target}:{name}" for name in public}


def names_of(module: str) -> Mapping[str, str]:
    """``{name: target}`` for one served Airflow module (empty for a bare package)."""
    if module in MODULE_ALIASES:
        return alias_names(module)
    return MODULES.get(module, {})


def is_supported(module: str, name: str | None = None) -> bool:
    """Whether ``import module`` (`name` None) or ``from module import name`` works."""
    if module not in all_modules():
        return False
    if name is None:
        return True
    return name in names_of(module) or f"{module}.{name}" in all_modules()


def supported_names() -> list[str]:
    """Every Airflow name airflow-sc serves, as ``module.name``, sorted."""
    out: set[str] = set()
    for module in all_modules():
        out.update(f"{module}.{name}" for name in names_of(module))
    return sorted(out)
