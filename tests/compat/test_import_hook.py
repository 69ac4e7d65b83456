"""`import airflow...` in DAG files, plugins and tasks, served by airflow-sc."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_sc.compat import OPTIONS_ENV, CompatOptions, finder
from airflow_sc.compat.finder import AirflowNameNotSupported
from airflow_sc.sdk import DAG, BashOperator, PythonOperator, TriggerRule, task


@pytest.mark.usefixtures("airflow_compat")
def test_airflow_3_and_airflow_2_paths_give_airflow_sc_objects() -> None:
    from airflow import DAG as Airflow2Dag
    from airflow.decorators import task as airflow2_task
    from airflow.operators.python import PythonOperator as Airflow2Python
    from airflow.providers.common.compat.sdk import TriggerRule as CompatTriggerRule
    from airflow.providers.standard.operators.bash import BashOperator as StandardBash
    from airflow.sdk import DAG as SdkDag
    from airflow.sdk import task as sdk_task

    assert SdkDag is DAG
    assert Airflow2Dag is DAG
    assert sdk_task is task
    assert airflow2_task is task
    assert StandardBash is BashOperator
    assert Airflow2Python is PythonOperator
    assert CompatTriggerRule is TriggerRule


@pytest.mark.usefixtures("airflow_compat")
def test_an_unsupported_name_is_an_import_error_naming_it() -> None:
    with pytest.raises(ImportError, match=r"'airflow\.sdk\.Asset'"):
        from airflow.sdk import Asset  # noqa: F401
    with pytest.raises(AirflowNameNotSupported, match=r"'airflow\.providers\.amazon'"):
        import airflow.providers.amazon.aws.hooks.s3  # noqa: F401
    with pytest.raises(ImportError, match=r"'airflow\.sensors'"):
        from airflow.sensors.filesystem import FileSensor  # noqa: F401


@pytest.mark.usefixtures("airflow_compat")
def test_an_unsupported_task_decorator_names_itself() -> None:
    from airflow.sdk import task as airflow_task

    with pytest.raises(AttributeError, match=r"@task\.docker"):
        airflow_task.docker  # noqa: B018


@pytest.mark.usefixtures("airflow_compat")
def test_star_import_gives_the_served_names() -> None:
    namespace: dict[str, object] = {}
    exec("from airflow.providers.standard.operators.bash import *", namespace)
    assert namespace["BashOperator"] is BashOperator


def _python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_a_real_airflow_installation_is_never_shadowed(tmp_path: Path) -> None:
    fake = tmp_path / "site" / "airflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = _python(
        """
        from airflow_sc.compat import install_airflow_compat_from_environment, finder
        install_airflow_compat_from_environment()
        import airflow
        print(airflow.REAL, finder.installed())
        """,
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_the_setting_turns_the_layer_off(tmp_path: Path) -> None:
    env = {**os.environ, OPTIONS_ENV: CompatOptions(airflow_compat=False).to_json()}
    done = _python(
        """
        from airflow_sc.compat import install_airflow_compat_from_environment
        install_airflow_compat_from_environment()
        try:
            import airflow
        except ModuleNotFoundError as exc:
            print("absent", exc.name)
        """,
        env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["absent", "airflow"]


def test_options_travel_to_child_processes_through_the_environment() -> None:
    options = CompatOptions(
        airflow_compat=False,
        plugins_folder="/nowhere",
        api_base_url="http://127.0.0.1:9",
        venv_cache_path="/tmp/v",
        config={"core.dags_folder": "/dags"},
    )
    assert CompatOptions.from_json(options.to_json()) == options
    assert dict(options.airflow_config()) == {("core", "dags_folder"): "/dags"}


def test_install_adds_the_finder_last() -> None:
    assert finder.install()
    try:
        assert sys.meta_path[-1] is finder._FINDER
    finally:
        finder.uninstall()
    assert not finder.installed()
