from pathlib import Path

import pytest

from airflow_sc.config import ConfigError, load_settings


def test_token_settings_default_to_a_generated_key_and_one_day(tmp_path: Path) -> None:
    settings = load_settings({"AIRFLOW_SC_HOME": str(tmp_path)}, cwd=tmp_path)
    assert settings.api.secret_key is None
    assert settings.api.access_token_expiry == 86400.0


def test_token_settings_from_environment(tmp_path: Path) -> None:
    env = {
        "AIRFLOW_SC_HOME": str(tmp_path),
        "AIRFLOW_SC__API__SECRET_KEY": "k" * 32,
        "AIRFLOW_SC__API__ACCESS_TOKEN_EXPIRY": "600",
    }
    settings = load_settings(env, cwd=tmp_path)
    assert settings.api.secret_key == "k" * 32
    assert settings.api.access_token_expiry == 600.0


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("ACCESS_TOKEN_EXPIRY", "0", "seconds > 0"),
        ("ACCESS_TOKEN_EXPIRY", "-5", "seconds > 0"),
        ("SECRET_KEY", "short", "at least 16 characters"),
    ],
)
def test_invalid_token_settings_are_rejected(
    tmp_path: Path, key: str, value: str, expected: str
) -> None:
    env = {"AIRFLOW_SC_HOME": str(tmp_path), f"AIRFLOW_SC__API__{key}": value}
    with pytest.raises(ConfigError, match=expected) as raised:
        load_settings(env, cwd=tmp_path)
    assert f"api.{key.lower()}" in str(raised.value)
    assert "short" not in str(raised.value)  # a rejected key is not echoed
