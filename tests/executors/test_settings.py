"""The executor settings a deployment can change, and the values it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_sc.config import load_settings
from airflow_sc.config.errors import ConfigError


def settings_from(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings({"AIRFLOW_SC_HOME": str(tmp_path), **env}, cwd=tmp_path)


def test_executor_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        AIRFLOW_SC__EXECUTOR__TERMINATE_GRACE="2.5",
        AIRFLOW_SC__EXECUTOR__EXECUTION_API_URL="http://10.0.0.5:8080/execution",
        AIRFLOW_SC__EXECUTOR__INPROCESS_CAPACITY="50",
    )
    assert settings.executor.terminate_grace == 2.5
    assert settings.executor.execution_api_url == "http://10.0.0.5:8080/execution"
    assert settings.executor.inprocess_capacity == 50


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TERMINATE_GRACE", "-1"),
        ("BLOCKING_THRESHOLD", "0"),
        ("TASK_TOKEN_LIFETIME", "0"),
        ("INPROCESS_CAPACITY", "0"),
        ("EXECUTION_API_URL", "ftp://somewhere"),
    ],
)
def test_invalid_executor_settings_are_refused_at_start_up(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"executor.{name.lower()}"):
        settings_from(tmp_path, **{f"AIRFLOW_SC__EXECUTOR__{name}": value})
