"""The input-rule settings: [api] body limits and [scheduler] allowed_run_id_pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_sc.config import ConfigError, load_settings


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"AIRFLOW_SC_HOME": str(tmp_path)}, cwd=tmp_path)
    assert settings.api.max_request_body_size == 10 * 1024 * 1024
    assert settings.api.max_request_json_depth == 64
    assert settings.api.max_concurrent_requests == 4
    assert settings.api.list_cache_max_age == 2.0
    assert settings.scheduler.allowed_run_id_pattern == r"^[A-Za-z0-9_.~:+-]+$"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "API__MAX_REQUEST_BODY_SIZE",
            "10",
            "api.max_request_body_size: 10; expected bytes >= 1024",
        ),
        ("API__MAX_REQUEST_JSON_DEPTH", "0", "expected an integer from 1 to 200"),
        ("API__MAX_REQUEST_JSON_DEPTH", "201", "expected an integer from 1 to 200"),
        ("SCHEDULER__ALLOWED_RUN_ID_PATTERN", "^[a-", "expected a regular expression"),
        ("API__MAX_CONCURRENT_REQUESTS", "0", "api.max_concurrent_requests: 0; expected"),
        ("API__LIST_CACHE_MAX_AGE", "-1", "api.list_cache_max_age: -1"),
    ],
)
def test_invalid_values_are_refused(tmp_path: Path, key: str, value: str, expected: str) -> None:
    environ = {"AIRFLOW_SC_HOME": str(tmp_path), f"AIRFLOW_SC__{key}": value}
    with pytest.raises(ConfigError) as raised:
        load_settings(environ, cwd=tmp_path)
    assert expected in str(raised.value)
