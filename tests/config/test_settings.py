from pathlib import Path

import pytest

from airflow_sc.config import ConfigError, load_settings


def write_toml(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "airflow-sc.toml").write_text(text)


def test_defaults_derive_paths_from_home(tmp_path: Path) -> None:
    settings = load_settings({"AIRFLOW_SC_HOME": str(tmp_path)}, cwd=tmp_path)
    assert settings.core.home == tmp_path
    assert settings.dags_folder == tmp_path / "dags"
    assert settings.database_url == f"sqlite:///{tmp_path / 'airflow-sc.db'}"
    assert settings.base_log_folder == tmp_path / "logs"
    assert settings.api.port == 8080
    assert settings.api.host == "127.0.0.1"


def test_toml_file_then_environment_override(tmp_path: Path) -> None:
    write_toml(tmp_path, "[core]\nparallelism = 4\nload_examples = true\n[api]\nport = 9000\n")
    env = {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__API__PORT": "9100"}
    settings = load_settings(env, cwd=tmp_path)
    assert settings.core.parallelism == 4
    assert settings.core.load_examples is True
    assert settings.api.port == 9100  # environment beats the file


def test_overrides_beat_environment(tmp_path: Path) -> None:
    env = {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__CORE__PARALLELISM": "3"}
    settings = load_settings(env, cwd=tmp_path, overrides={"core.parallelism": "5"})
    assert settings.core.parallelism == 5


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("AIRFLOW_SC__CORE__PARALLELISM", "many", "core.parallelism"),
        ("AIRFLOW_SC__CORE__PARALLELISM", "0", "an integer >= 1"),
        ("AIRFLOW_SC__API__PORT", "70000", "a TCP port"),
        ("AIRFLOW_SC__CORE__LOAD_EXAMPLES", "maybe", "a boolean"),
        ("AIRFLOW_SC__LOGGING__LEVEL", "LOUD", "one of 'DEBUG'"),
        ("AIRFLOW_SC__DATABASE__URL", "mysql://x/y", "a sqlite:/// or postgresql:// URL"),
        ("AIRFLOW_SC__CORE__DEFAULT_TIMEZONE", "Mars/Olympus", "an IANA timezone"),
        ("AIRFLOW_SC__CORE__SHUTDOWN_GRACE", "nan", "a finite number"),
    ],
)
def test_invalid_value_names_key_value_and_expectation(
    tmp_path: Path, name: str, value: str, fragment: str
) -> None:
    env = {"AIRFLOW_SC_HOME": str(tmp_path), name: value}
    with pytest.raises(ConfigError) as info:
        load_settings(env, cwd=tmp_path)
    message = str(info.value)
    assert fragment in message
    key = name.removeprefix("AIRFLOW_SC__").replace("__", ".").lower()
    assert key in message


def test_invalid_value_in_file_names_the_file(tmp_path: Path) -> None:
    write_toml(tmp_path, "[core]\nparallelism = 'x'\n")
    with pytest.raises(ConfigError, match=r"core\.parallelism \(from .*airflow-sc\.toml\): 'x'"):
        load_settings({"AIRFLOW_SC_HOME": str(tmp_path)}, cwd=tmp_path)


def test_unknown_key_and_section_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting core\.paralelism"):
        load_settings(
            {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__CORE__PARALELISM": "2"}, cwd=tmp_path
        )
    write_toml(tmp_path, "[sheduler]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown settings section \[sheduler\]"):
        load_settings({"AIRFLOW_SC_HOME": str(tmp_path)}, cwd=tmp_path)


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    write_toml(tmp_path, "[core\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"AIRFLOW_SC_HOME": str(tmp_path)}, cwd=tmp_path)


def test_home_defaults_to_dot_dir_in_checkout(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "airflow-sc"\n')
    assert load_settings({}, cwd=tmp_path).core.home == tmp_path / ".airflow-sc"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert load_settings({}, cwd=elsewhere).core.home == Path("~/airflow-sc").expanduser()


def test_items_lists_every_section(tmp_path: Path) -> None:
    keys = dict(load_settings({"AIRFLOW_SC_HOME": str(tmp_path)}, cwd=tmp_path).items())
    sections = {key.split(".")[0] for key in keys}
    assert sections == {
        "core",
        "database",
        "api",
        "scheduler",
        "dag_processor",
        "executor",
        "logging",
        "secrets",
    }
