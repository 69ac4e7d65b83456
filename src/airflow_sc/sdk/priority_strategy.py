"""Custom priority-weight strategies (Airflow's ``airflow.task.priority_strategy``).

A task's ``weight_rule`` is one of the built-in rules (``"downstream"``, ``"upstream"``,
``"absolute"``) or an instance of a `PriorityWeightStrategy` subclass whose ``get_weight(ti)``
returns the task instance's priority weight. As in Airflow, such a class must be defined in
the plugins folder and listed in an ``AirflowPlugin``'s ``priority_weight_strategies``: the
scheduler, which imports no DAG file, rebuilds it from its import path and the dict its
``serialize()`` returns. ``weight_rule`` may also name a registered class by its import path.

The scheduler asks the strategy once per task instance, when the run's task instances are
created (``ti.try_number`` is 0 then); the weight is stored on the task instance and orders
queueing like any other. A strategy that raises, returns something other than an integer,
or is no longer registered leaves the task's own ``priority_weight`` (logged).
"""

from __future__ import annotations

import abc
from typing import Any

__all__ = [
    "PriorityWeightStrategy",
    "deserialize_strategy",
    "register_priority_weight_strategy",
    "registered_strategy",
    "serialize_strategy",
    "strategy_path",
]


class PriorityWeightStrategy(abc.ABC):
    """How a task instance's priority weight is computed (subclass it in a plugin)."""

    @abc.abstractmethod
    def get_weight(self, ti: Any) -> int:
        """The priority weight of task instance `ti` (higher is queued first)."""

    def serialize(self) -> dict[str, Any]:
        """The strategy's arguments, JSON-serializable; `deserialize` rebuilds it from them."""
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> PriorityWeightStrategy:
        return cls(**data)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(type(self))


_REGISTRY: dict[str, type[PriorityWeightStrategy]] = {}


def strategy_path(cls: type[PriorityWeightStrategy]) -> str:
    """A strategy class's import path, the name it is stored and registered under."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register_priority_weight_strategy(cls: type[PriorityWeightStrategy]) -> None:
    """Make `cls` usable as a ``weight_rule`` (a plugin's ``priority_weight_strategies``)."""
    if not (isinstance(cls, type) and issubclass(cls, PriorityWeightStrategy)):
        raise TypeError(f"{cls!r} is not a PriorityWeightStrategy subclass")
    _REGISTRY[strategy_path(cls)] = cls


def registered_strategy(path: str) -> type[PriorityWeightStrategy] | None:
    return _REGISTRY.get(path)


def forget_strategies() -> None:
    """Forget every registered strategy (with the plugins, in tests)."""
    _REGISTRY.clear()


def serialize_strategy(strategy: PriorityWeightStrategy) -> dict[str, Any]:
    return {"__type": strategy_path(type(strategy)), "__var": strategy.serialize()}


def deserialize_strategy(data: dict[str, Any]) -> PriorityWeightStrategy:
    """Rebuild a stored strategy; ValueError when its class is not registered here."""
    path = str(data.get("__type"))
    cls = _REGISTRY.get(path)
    if cls is None:
        raise ValueError(f"the priority weight strategy {path!r} is not registered by a plugin")
    return cls.deserialize(dict(data.get("__var") or {}))
