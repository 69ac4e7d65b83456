from pathlib import Path

import pytest

from airflow_sc.config import ConfigError, load_settings


def test_sweep_interval_defaults_and_is_read_from_the_environment(tmp_path: Path) -> None:
    assert (
        load_settings({"AIRFLOW_SC_HOME": str(tmp_path)}, cwd=tmp_path).scheduler.sweep_interval
        == 10.0
    )
    env = {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__SCHEDULER__SWEEP_INTERVAL": "2.5"}
    assert load_settings(env, cwd=tmp_path).scheduler.sweep_interval == 2.5


def test_sweep_interval_must_be_positive(tmp_path: Path) -> None:
    env = {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__SCHEDULER__SWEEP_INTERVAL": "0"}
    with pytest.raises(ConfigError, match=r"scheduler\.sweep_interval"):
        load_settings(env, cwd=tmp_path)
