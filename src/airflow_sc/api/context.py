from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from airflow_sc.config import Settings
from airflow_sc.db import Database
from airflow_sc.runtime import Shutdown


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the routes need, built once by the composition root."""

    settings: Settings
    db: Database
    shutdown: Shutdown = field(default_factory=Shutdown)
    clock: Callable[[], datetime] = utcnow
