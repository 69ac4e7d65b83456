"""A folder of DAG files written for Airflow 3 (imports untouched, Airflow 2 paths too) and
a plugins folder, run end to end by a real `airflow-sc run`.

What is checked is what Airflow documents for these files: run and task states, return
values, the mails the notifier and ``email_on_failure`` send (to a real SMTP server run by
the test), what a listener from the plugins folder records, and a run the scheduler creates
from a plugin timetable (the scheduler imports no DAG file).
"""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.deployment import (
    Api,
    Deployment,
    alive,
    cells,
    describe,
    eventually,
    process_tree,
)
from tests.processes import task_writable_file, task_writable_folder
from tests.smtp_server import smtp_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

HERE = Path(__file__).parent
TRIGGERED = (
    "airflow3_taskflow",
    "airflow2_paths",
    "virtualenv_tasks",
    "notify_on_failure",
    "trigger_controller",
)
#: The DAG only the controller triggers.
TARGET = "trigger_target"
#: Triggered too; its task still runs when the deployment shuts down.
STOPPED = "stopped_at_shutdown"
SCHEDULED = "workday_schedule"
#: A Friday: the branch on the day of the week takes its "friday" side.
LOGICAL_DATE = "2026-03-06T00:00:00+00:00"
XCOMS = (
    ("airflow3_taskflow", "month_start"),
    ("airflow3_taskflow", "pull_many"),
    ("airflow3_taskflow", "where_am_i"),
    ("airflow3_taskflow", "where_am_i_async"),
    ("airflow3_taskflow", "templated"),
    ("airflow2_paths", "join"),
    ("airflow2_paths", "greet"),
    ("virtualenv_tasks", "in_virtualenv"),
    ("virtualenv_tasks", "doubled"),
)


@dataclass
class Record:
    states: dict[str, str]
    tis: dict[str, dict[str, str]]
    xcoms: dict[tuple[str, str], Any]
    mails: list[tuple[str, list[str], EmailMessage]]
    marks: list[str]
    kill_marks: list[str]
    stopped_state: str | None
    scheduled_run: dict[str, Any]
    scheduled_tis: dict[str, str]
    scheduled_weights: dict[str, int] = field(default_factory=dict)
    target_runs: list[dict[str, Any]] = field(default_factory=list)
    target_xcom: Any = None
    trigger_run_id: Any = None
    import_errors: list[Any] = field(default_factory=list)


def _trigger(api: Api, dag_id: str) -> str:
    response = api.client.post(
        f"/dags/{dag_id}/dagRuns", json={"logical_date": LOGICAL_DATE, "conf": {}}
    )
    response.raise_for_status()
    return str(response.json()["dag_run_id"])


def _scheduled_run(api: Api) -> dict[str, Any] | None:
    runs = api.get(f"/dags/{SCHEDULED}/dagRuns")["dag_runs"]
    done = [r for r in runs if r["run_type"] == "scheduled" and r["state"] in ("success", "failed")]
    return done[0] if done else None


@pytest.fixture(scope="module", params=cells(("sqlite", "asyncio")))
def record(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Record:
    _, backend = request.param
    home = tmp_path_factory.mktemp("airflow-dags")
    shutil.copytree(HERE / "airflow_dags", home / "dags")
    shutil.copytree(HERE / "plugins", home / "plugins")
    with task_writable_folder() as shared, smtp_server() as mailbox:
        # Listeners and on_kill run in task processes too, as the tasks' OS user: their
        # marks are not in pytest's folder.
        marks = task_writable_file(shared / "listener-marks.txt")
        kill_marks = task_writable_file(shared / "on-kill-marks.txt")
        uri = mailbox.connection_uri()
        deployment = Deployment(
            home,
            backend,
            (),
            settings={
                "AIRFLOW_SC__CORE__PARALLELISM": "4",
                "AIRFLOW_CONN_SMTP_ALERTS": uri,
                "AIRFLOW_CONN_SMTP_DEFAULT": uri + "&from_email=airflow@example.com",
                "LISTENER_MARKS": str(marks),
                "ON_KILL_MARKS": str(kill_marks),
                "AIRFLOW_SC__CORE__SHUTDOWN_GRACE": "1",
            },
        )
        with deployment.start() as running:
            api = running.api
            api.wait_for_dags([*TRIGGERED, SCHEDULED, TARGET, STOPPED])
            stopped_run = _trigger(api, STOPPED)
            import_errors = api.get("/importErrors")["import_errors"]
            runs = {dag_id: _trigger(api, dag_id) for dag_id in TRIGGERED}
            states = api.wait_finished(runs, within=150)
            tis = {
                dag_id: {t: row["state"] for t, row in api.task_instances(dag_id, run).items()}
                for dag_id, run in runs.items()
            }
            xcoms = {(d, t): api.xcom(d, runs[d], t) for d, t in XCOMS}
            scheduled = eventually(
                lambda: _scheduled_run(api), within=30, what="a run created by the timetable"
            )
            scheduled_rows = api.task_instances(SCHEDULED, scheduled["dag_run_id"])
            scheduled_tis = {t: row["state"] for t, row in scheduled_rows.items()}
            scheduled_weights = {t: row["priority_weight"] for t, row in scheduled_rows.items()}
            target_runs = api.get(f"/dags/{TARGET}/dagRuns")["dag_runs"]
            target_xcom = [api.xcom(TARGET, run["dag_run_id"], "load") for run in target_runs]
            trigger_run_id = api.xcom(
                "trigger_controller", runs["trigger_controller"], "kick", "trigger_run_id"
            )
            mails = mailbox.wait_for(2)
            eventually(
                lambda: (
                    api.task_instances(STOPPED, stopped_run)["wait_for_job"]["state"] == "running"
                    or None
                ),
                within=30,
                what="the task the shutdown stops",
            )
            tree = process_tree(running.pid)
            running.process.send(signal.SIGTERM)
            assert running.process.wait_exit(timeout=30) == 0
        left = alive(tree)
        assert not left, f"processes outlived `airflow-sc run`: {describe(left)}"
        with deployment.start() as again:  # the stored state, read back after a restart
            stopped_state = again.api.task_instances(STOPPED, stopped_run)["wait_for_job"]["state"]
            again.process.send(signal.SIGTERM)
            assert again.process.wait_exit(timeout=30) == 0
        marked = marks.read_text().splitlines()
        kill_marked = kill_marks.read_text().splitlines()
    return Record(
        states=states,
        tis=tis,
        xcoms=xcoms,
        mails=mails,
        marks=marked,
        kill_marks=kill_marked,
        stopped_state=stopped_state,
        scheduled_run=scheduled,
        scheduled_tis=scheduled_tis,
        scheduled_weights=scheduled_weights,
        target_runs=target_runs,
        target_xcom=target_xcom,
        trigger_run_id=trigger_run_id,
        import_errors=import_errors,
    )


def test_every_file_parses_with_its_imports_untouched(record: Record) -> None:
    assert record.import_errors == []


def test_runs_and_tasks_end_in_the_states_airflow_documents(record: Record) -> None:
    assert record.states == {
        "airflow3_taskflow": "success",
        "airflow2_paths": "success",
        "virtualenv_tasks": "success",
        "notify_on_failure": "failed",
        "trigger_controller": "success",
    }
    assert record.tis["airflow3_taskflow"] == {
        "extract": "success",
        "month_start": "success",
        "pull_many": "success",
        "where_am_i": "success",
        "where_am_i_async": "success",
        "nothing_to_do": "skipped",
        "after_skip": "success",
        "templated": "success",
    }
    assert record.tis["airflow2_paths"] == {
        "is_friday": "success",
        "friday": "success",
        "other_day": "skipped",
        "join": "success",
        "greet": "success",
    }
    assert record.tis["notify_on_failure"] == {"load": "failed"}


def test_pendulum_dates_in_tasks_and_templates(record: Record) -> None:
    assert record.xcoms["airflow3_taskflow", "month_start"] == "2026-03-01"
    # logical_date.add(days=1), macros.ds_add, and a macro from the plugins folder.
    assert record.xcoms["airflow3_taskflow", "templated"] == "2026-03-07 2026-03-13 5"


def test_context_and_task_instance_as_airflow_gives_them(record: Record) -> None:
    assert record.xcoms["airflow3_taskflow", "pull_many"] == [
        {"orders": 3, "refunds": 1},
        "2026-03-01",
    ]
    assert record.xcoms["airflow3_taskflow", "where_am_i"] == "where_am_i try 1"
    assert record.xcoms["airflow3_taskflow", "where_am_i_async"] == "where_am_i_async"


def test_airflow_2_paths_branch_and_run_bash_with_its_arguments(record: Record) -> None:
    assert record.xcoms["airflow2_paths", "join"] == "friday"
    assert record.xcoms["airflow2_paths", "greet"] == "HELLO FROM /TMP"


def test_virtualenv_and_external_python_tasks(record: Record) -> None:
    assert record.xcoms["virtualenv_tasks", "in_virtualenv"] == (
        "six 1.16.0 isolated=True 2026-03-06"
    )
    assert record.xcoms["virtualenv_tasks", "doubled"] == 42


def test_the_failing_task_mails_through_its_notifier_and_email_on_failure(
    record: Record,
) -> None:
    by_recipient = {
        tuple(recipients): (sender, message) for sender, recipients, message in record.mails
    }
    sender, alert = by_recipient[("oncall@example.com",)]
    assert sender == "airflow@example.com"
    assert alert["Subject"] == "load of notify_on_failure failed"
    assert "the warehouse is closed" in alert.get_content()
    _, email = by_recipient[("team@example.com",)]
    assert email["Subject"].startswith("Airflow alert: <TaskInstance: notify_on_failure.load ")


def test_a_listener_from_the_plugins_folder_sees_task_instances_and_runs(
    record: Record,
) -> None:
    marks = set(record.marks)
    assert {
        "running airflow3_taskflow.extract",
        "success airflow3_taskflow.extract",
        "success airflow3_taskflow.where_am_i_async",
        "failed(ValueError) notify_on_failure.load",
        "success virtualenv_tasks.in_virtualenv",
        # DAG-run hooks, from the scheduler.
        "run running airflow3_taskflow",
        "run success airflow3_taskflow success",
        "run running notify_on_failure",
        "run failed notify_on_failure task_failure",
    } <= marks


def test_a_task_stopped_at_shutdown_runs_its_on_kill_and_fails(record: Record) -> None:
    assert record.kill_marks == [f"on_kill {STOPPED}.wait_for_job"]
    assert record.stopped_state == "failed"  # no retries: the stopped try failed


def test_the_scheduler_runs_a_dag_on_a_plugin_timetable(record: Record) -> None:
    run = record.scheduled_run
    start = datetime.fromisoformat(run["data_interval_start"])
    end = datetime.fromisoformat(run["data_interval_end"])
    assert run["state"] == "success"
    assert start.weekday() < 5
    assert (start.hour, start.minute, end - start) == (0, 0, timedelta(days=1))
    assert record.scheduled_tis == {"which_day": "success", "done": "success"}


def test_a_priority_weight_strategy_from_the_plugins_folder_weighs_task_instances(
    record: Record,
) -> None:
    # ScaledPriority: base + priority_weight * (1 + downstream count).
    assert record.scheduled_weights == {"which_day": 100 + 3 * 2, "done": 0 + 1 * 1}


def test_the_controller_starts_the_target_run_and_waits_for_it(record: Record) -> None:
    assert record.tis["trigger_controller"] == {"kick": "success", "again": "skipped"}
    [run] = record.target_runs
    assert run["dag_run_id"] == record.trigger_run_id
    assert run["dag_run_id"].startswith("from-manual__")
    assert (run["state"], run["run_type"], run["triggered_by"]) == (
        "success",
        "operator_triggered",
        "operator",
    )
    assert run["conf"] == {"table": "orders_20260306"}
    assert record.target_xcom == [f"loading orders_20260306 for {run['dag_run_id']}"]
