"""BashOperator runs real `bash -c` child processes."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from airflow_sc.sdk import DAG, AirflowException, AirflowSkipException, BashOperator
from airflow_sc.sdk.context import RunInfo


def run(command: str, **kwargs: object) -> str:
    return BashOperator(task_id="bash", bash_command=command, **kwargs).execute({})


def test_last_line_of_output_is_the_return_value_and_every_line_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="airflow.task.operators"):
        assert run("echo first; echo second >&2; echo last") == "last"
    logged = [r.getMessage() for r in caplog.records]
    assert {"first", "second", "last"} <= set(logged)
    assert "Command exited with return code 0" in logged


def test_env_replaces_the_environment_unless_appended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_PARENT", "parent")
    assert run('echo "${FROM_PARENT:-unset} $MINE"', env={"MINE": "mine"}) == "unset mine"
    appended = run('echo "$FROM_PARENT $MINE"', env={"MINE": "mine"}, append_env=True)
    assert appended == "parent mine"
    assert run('echo "$FROM_PARENT"') == "parent"


def test_context_facts_are_exported_to_the_command() -> None:
    with DAG("ctx"):
        op = BashOperator(
            task_id="show", bash_command='echo "$AIRFLOW_CTX_DAG_ID.$AIRFLOW_CTX_TASK_ID"'
        )
    context = {
        "dag": op.dag,
        "task": op,
        "dag_run": RunInfo(run_id="r", run_after=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
    }
    assert op.execute(context) == "ctx.show"


def test_cwd_is_where_the_command_runs(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("here")
    assert run("cat marker.txt", cwd=str(tmp_path)) == "here"


def test_missing_cwd_fails_before_running(tmp_path: Path) -> None:
    with pytest.raises(AirflowException, match="Can not find the cwd"):
        run("true", cwd=str(tmp_path / "absent"))
    (tmp_path / "file").write_text("")
    with pytest.raises(AirflowException, match="must be a directory"):
        run("true", cwd=str(tmp_path / "file"))


def test_exit_code_99_skips_the_task() -> None:
    with pytest.raises(AirflowSkipException, match="exit code 99"):
        run("exit 99")


def test_custom_skip_exit_codes() -> None:
    with pytest.raises(AirflowSkipException):
        run("exit 3", skip_on_exit_code=[3, 4])
    with pytest.raises(AirflowException, match="non-zero exit code 99"):
        run("exit 99", skip_on_exit_code=None)


def test_non_zero_exit_fails_the_task() -> None:
    with pytest.raises(AirflowException, match="non-zero exit code 2") as info:
        run("echo partial; exit 2")
    assert not isinstance(info.value, AirflowSkipException)


def test_output_encoding_is_applied() -> None:
    assert run("printf 'caf\\xe9\\n'", output_encoding="latin-1") == "café"


def test_empty_command_is_rejected() -> None:
    with pytest.raises(AirflowException, match="non-empty string"):
        run("   ")


def test_templated_command_renders_before_running() -> None:
    op = BashOperator(task_id="t", bash_command="echo {{ params.word }}")
    op.render_template_fields({"params": {"word": "rendered"}})
    assert op.execute({}) == "rendered"
