"""The plugins folder: timetables the scheduler can rebuild, macros, listeners."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_sc.compat import OPTIONS_ENV, CompatOptions, finder
from airflow_sc.dag_processing.parsing import parse_file
from airflow_sc.plugins import (
    forget_plugins,
    listeners,
    load_plugins,
    loaded_plugins,
    plugin_import_errors,
)
from airflow_sc.scheduler.dag_test import manual_run_info, run_dag_test
from airflow_sc.sdk import DAG, PythonOperator
from airflow_sc.sdk import macros as macros_module

PLUGINS = Path(__file__).parents[1] / "e2e" / "plugins"
NOW = dt.datetime(2026, 3, 6, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[Path]:
    """The e2e plugins folder, loaded into this process with `import airflow` served."""
    folder = tmp_path / "plugins"
    shutil.copytree(PLUGINS, folder)
    finder.install()
    try:
        load_plugins(folder)
        yield folder
    finally:
        forget_plugins()
        finder.uninstall()


def test_a_plugin_registers_its_timetable_macro_and_listener(plugins: Path) -> None:
    plugin = loaded_plugins()["workday_plugin"]
    assert plugin.source == str(plugins / "workday_plugin.py")
    assert macros_module.workday_plugin.workdays_between("2026-03-06", "2026-03-13") == 5  # type: ignore[attr-defined]
    assert any(type(x).__name__ == "MarkingListener" for x in listeners.get_listeners())


def test_a_dag_on_a_plugin_timetable_deserializes_where_no_dag_file_is_imported(
    plugins: Path, tmp_path: Path
) -> None:
    dag_file = tmp_path / "on_workdays.py"
    dag_file.write_text(
        textwrap.dedent(
            """
            import pendulum
            from airflow.sdk import DAG
            from airflow.providers.standard.operators.empty import EmptyOperator
            from workday_plugin import WorkdayTimetable

            with DAG("on_workdays", schedule=WorkdayTimetable(), catchup=True,
                     start_date=pendulum.datetime(2026, 3, 6, tz="UTC")):
                EmptyOperator(task_id="noop")
            """
        )
    )
    result = parse_file(str(dag_file))
    assert result["errors"] == []
    [serialized] = result["dags"]
    assert serialized["dag"]["timetable"]["__type"] == "workday_plugin.WorkdayTimetable"
    # A fresh interpreter, as the scheduler: plugins loaded, the DAG file never imported.
    options = CompatOptions(plugins_folder=str(plugins))
    script = textwrap.dedent(
        """
        import json, sys, datetime as dt
        from airflow_sc.compat import install_airflow_compat_from_environment
        from airflow_sc.serialization import DagSpec
        from airflow_sc.serialization.schedule import next_dagrun_info
        from airflow_sc.sdk.timetables import DataInterval
        install_airflow_compat_from_environment()
        spec = DagSpec.from_dict(json.load(sys.stdin))
        assert not any(m.startswith("airflow_sc_dagfile_") for m in sys.modules)
        friday = DataInterval(dt.datetime(2026, 3, 6, tzinfo=dt.UTC),
                              dt.datetime(2026, 3, 7, tzinfo=dt.UTC))
        now = dt.datetime(2026, 3, 12, tzinfo=dt.UTC)
        first = next_dagrun_info(spec, last_automated=None, now=now)
        after = next_dagrun_info(spec, last_automated=friday, now=now)
        print(first.data_interval.start.isoformat(), after.data_interval.start.isoformat(),
              after.run_after.isoformat())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(serialized),
        capture_output=True,
        text=True,
        env={**os.environ, OPTIONS_ENV: options.to_json()},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Friday's run, then Monday's (the weekend is skipped), due once Monday is over.
    assert done.stdout.split() == [
        "2026-03-06T00:00:00+00:00",
        "2026-03-09T00:00:00+00:00",
        "2026-03-10T00:00:00+00:00",
    ]


def test_a_timetable_defined_in_the_dag_file_is_refused_at_parse(tmp_path: Path) -> None:
    dag_file = tmp_path / "own_timetable.py"
    dag_file.write_text(
        textwrap.dedent(
            """
            import datetime as dt
            from airflow_sc.sdk import DAG
            from airflow_sc.sdk.timetables import Timetable

            class Mine(Timetable):
                def next_dagrun_info(self, *, last_automated_data_interval, restriction):
                    return None

            DAG("own", schedule=Mine(), start_date=dt.datetime(2026, 1, 1))
            """
        )
    )
    result = parse_file(str(dag_file))
    assert result["dags"] == []
    [error] = result["errors"]
    assert "define it in a module of the plugins folder" in error["stacktrace"]


def test_listeners_see_each_try_from_the_task_process(
    plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marks = tmp_path / "marks.txt"
    monkeypatch.setenv("LISTENER_MARKS", str(marks))

    def broken() -> None:
        raise KeyError("missing")

    with DAG("listened", schedule=None, start_date=NOW) as dag:
        ok = PythonOperator(task_id="ok", python_callable=lambda: 1)
        bad = PythonOperator(task_id="bad", python_callable=broken)
        ok >> bad
    run_dag_test(dag, manual_run_info(dag, logical_date=NOW, now=NOW), out=lambda _: None)
    assert marks.read_text().splitlines() == [
        "running listened.ok",
        "success listened.ok",
        "running listened.bad",
        "failed(KeyError) listened.bad",
    ]


def test_a_listener_that_raises_never_changes_the_outcome(tmp_path: Path) -> None:
    class Broken:
        def on_task_instance_success(self, previous_state: object, task_instance: object) -> None:
            raise RuntimeError("listener bug")

    listeners.register_listener(Broken())
    try:
        with DAG("robust", schedule=None, start_date=NOW) as dag:
            PythonOperator(task_id="ok", python_callable=lambda: 1)
        result = run_dag_test(
            dag, manual_run_info(dag, logical_date=NOW, now=NOW), out=lambda _: None
        )
    finally:
        listeners.clear_listeners()
    assert result.tasks["ok"].state is not None
    assert result.tasks["ok"].state.value == "success"


def test_a_plugin_file_that_fails_is_reported_and_the_others_still_load(tmp_path: Path) -> None:
    folder = tmp_path / "mixed_plugins"
    folder.mkdir()
    (folder / "broken_plugin_file.py").write_text("raise RuntimeError('half-written')\n")
    (folder / "good_plugin_file.py").write_text(
        textwrap.dedent(
            """
            from airflow_sc.plugins import AirflowPlugin

            def shout(text):
                return text.upper()

            class GoodPlugin(AirflowPlugin):
                name = "good_plugin"
                macros = [shout]
            """
        )
    )
    try:
        loaded = load_plugins(folder)
    finally:
        errors = dict(plugin_import_errors)
        forget_plugins()
    assert [p.name for p in loaded] == ["good_plugin"]
    assert "half-written" in errors[str(folder / "broken_plugin_file.py")]
    with DAG("macro_user", schedule=None, start_date=NOW) as dag:
        from airflow_sc.sdk import BashOperator

        BashOperator(task_id="echo", bash_command="echo {{ macros.good_plugin.shout('hi') }}")
    result = run_dag_test(dag, manual_run_info(dag, logical_date=NOW, now=NOW), out=lambda _: None)
    assert result.tasks["echo"].return_value == "HI"


def test_skipped_tries_reach_listeners_and_unused_plugin_attributes_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "attr_plugins"
    folder.mkdir()
    (folder / "skip_listener_plugin.py").write_text(
        textwrap.dedent(
            """
            from airflow_sc.plugins import AirflowPlugin

            SEEN = []

            class Listener:
                def on_task_instance_skipped(self, previous_state, task_instance):
                    SEEN.append((str(previous_state), task_instance.task_id))

            class WithViews(AirflowPlugin):
                name = "with_views"
                listeners = [Listener()]
                fastapi_apps = [{"app": None, "url_prefix": "/x"}]
            """
        )
    )
    try:
        load_plugins(folder)
        from airflow_sc.sdk import AirflowSkipException

        def skip() -> None:
            raise AirflowSkipException("nothing new")

        with DAG("skipper", schedule=None, start_date=NOW) as dag:
            PythonOperator(task_id="maybe", python_callable=skip)
        run_dag_test(dag, manual_run_info(dag, logical_date=NOW, now=NOW), out=lambda _: None)
        seen = sys.modules["skip_listener_plugin"].SEEN
    finally:
        forget_plugins()
    assert seen == [("running", "maybe")]
    assert "Plugin 'with_views' sets fastapi_apps, which airflow-sc does not use yet" in (
        caplog.text
    )
