"""Dates, context and ``ti`` as Airflow gives them to tasks and templates."""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pendulum
import pytest

from airflow_sc.compat.configuration import AirflowConfigParser
from airflow_sc.scheduler.dag_test import manual_run_info, run_dag_test
from airflow_sc.sdk import DAG, AirflowException, BashOperator, PythonOperator, dag, task
from airflow_sc.sdk import timezone as tz
from airflow_sc.sdk.context import RunInfo, get_current_context
from airflow_sc.sdk.exceptions import AirflowConfigException
from airflow_sc.task_runner import InMemoryTaskClient, run_task
from airflow_sc.task_runner.task_instance import RuntimeTaskInstance

NOW = dt.datetime(2026, 3, 6, 9, 30, tzinfo=dt.UTC)


def returns(the_dag: DAG, logical_date: dt.datetime = NOW) -> dict[str, Any]:
    info = manual_run_info(the_dag, logical_date=logical_date, now=NOW)
    result = run_dag_test(the_dag, info, out=lambda _: None)
    failed = {t: r.error for t, r in result.tasks.items() if r.state and r.state.value != "success"}
    assert failed == {}
    return {task_id: r.return_value for task_id, r in result.tasks.items()}


def test_context_dates_are_pendulum_datetimes_in_utc() -> None:
    @dag(schedule="@daily", start_date=dt.datetime(2026, 1, 1))
    def dates() -> None:
        @task
        def kinds(**context: Any) -> list[str]:
            names = ("logical_date", "data_interval_start", "data_interval_end")
            values = [context[name] for name in names] + [context["dag_run"].logical_date]
            assert all(isinstance(v, pendulum.DateTime) for v in values)
            assert all(v.timezone_name == "UTC" for v in values)
            return [context["logical_date"].add(months=1).to_date_string(), context["ts"]]

        kinds()

    assert returns(dates()) == {"kinds": ["2026-04-06", "2026-03-06T09:30:00+00:00"]}


def test_templates_call_pendulum_methods_and_every_macro() -> None:
    with DAG("tpl", schedule=None, start_date=NOW) as the_dag:
        BashOperator(
            task_id="echo",
            bash_command=(
                "echo {{ logical_date.start_of('month').format('YYYY-MM-DD') }}"
                " {{ macros.ds_format_locale(ds, '%Y-%m-%d', 'EEEE', 'fr_FR') }}"
                " {{ macros.datetime_diff_for_humans(logical_date,"
                " logical_date.add(days=2)) | replace(' ', '_') }}"
                " {{ (macros.dateutil.relativedelta.relativedelta(months=1)"
                " + macros.datetime(2026, 1, 31)).date() }}"
                " {{ macros.json.dumps({'a': 1}) | replace(' ', '') }}"
                " {{ macros.uuid.UUID(int=1).hex[-1] }}"
                " {{ macros.time.gmtime(0).tm_year }} {{ (macros.random() < 1) }}"
            ),
        )
    assert returns(the_dag) == {
        "echo": "2026-03-01 vendredi 2_days_before 2026-02-28 {a:1} 1 1970 True"
    }


def test_get_current_context_in_sync_and_async_tasks() -> None:
    @dag(schedule=None, start_date=NOW)
    def ctx() -> None:
        def nested_helper() -> str:
            return str(get_current_context()["ti"].task_id)

        @task
        def sync_task() -> str:
            return nested_helper()

        @task
        async def async_task() -> str:
            return nested_helper()

        sync_task()
        async_task()

    assert returns(ctx()) == {"sync_task": "sync_task", "async_task": "async_task"}


def test_get_current_context_outside_a_task_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no context was found"):
        get_current_context()


def test_ti_methods_authors_call() -> None:
    @dag(schedule=None, start_date=NOW)
    def ti_calls() -> None:
        @task
        def push(ti: Any = None) -> int:
            ti.xcom_push(key="rows", value=7)
            return 1

        @task
        def other() -> int:
            return 2

        @task
        def pull(ti: Any = None) -> dict[str, Any]:
            return {
                "list": ti.xcom_pull(task_ids=["push", "other"]),
                "key": ti.xcom_pull(task_ids="push", key="rows"),
                "prior": ti.xcom_pull(task_ids="push", include_prior_dates=True),
                "default": ti.xcom_pull(task_ids="nothing", default="none"),
                "tries": [ti.try_number, ti.max_tries],
                "host": ti.hostname,
                "state": ti.state,
                "log": ti.log_url,
                "run": [ti.get_dagrun().run_id, ti.get_dagrun().logical_date.format("dddd")],
            }

        [push(), other()] >> pull()

    pulled = returns(ti_calls())["pull"]
    assert pulled["list"] == [1, 2]
    assert pulled["key"] == 7
    assert pulled["prior"] == 1
    assert pulled["default"] == "none"
    assert pulled["tries"] == [1, 0]
    assert pulled["host"] == socket.getfqdn()
    assert pulled["state"] == "running"
    assert pulled["run"] == ["manual__2026-03-06T09:30:00+00:00", "Friday"]
    assert pulled["log"].endswith(
        "/api/v2/dags/ti_calls/dagRuns/manual__2026-03-06T09%3A30%3A00%2B00%3A00"
        "/taskInstances/pull/logs/1"
    )


def test_xcom_pull_from_another_run_reads_that_run() -> None:
    with DAG("solo", schedule=None, start_date=NOW) as the_dag:
        op = PythonOperator(task_id="t", python_callable=lambda: 1)
    client = InMemoryTaskClient(dag_id="solo", run_id="r").for_task("t")
    client.xcoms[("solo", "other", "t", -1, "return_value")] = "from other"
    client.xcoms[("elsewhere", "r", "t", -1, "return_value")] = "from elsewhere"
    ti = RuntimeTaskInstance(
        task=op,
        dag_id="solo",
        run_id="r",
        try_number=1,
        max_tries=0,
        client=client,
        api_base_url="http://127.0.0.1:8080/",
    )
    assert ti.xcom_pull(task_ids="t", run_id="other") == "from other"
    assert ti.xcom_pull(task_ids="t", dag_id="elsewhere") == "from elsewhere"
    assert ti.xcom_pull(task_ids="t") is None
    assert ti.log_url.startswith("http://127.0.0.1:8080/api/v2/dags/solo/")
    del the_dag


def test_pre_and_post_execute_callables_and_logger_name() -> None:
    seen: list[Any] = []
    with DAG("hooks", schedule=None, start_date=NOW) as the_dag:
        op = PythonOperator(
            task_id="t",
            python_callable=lambda: 5,
            pre_execute=lambda context: seen.append(("pre", context["ti"].task_id)),
            post_execute=lambda context, result: seen.append(("post", result)),
            logger_name="warehouse.loader",
        )
    assert op.log.name == "airflow.task.operators.warehouse.loader"
    info = manual_run_info(the_dag, logical_date=NOW, now=NOW)
    outcome = run_task(
        op,
        dag=the_dag,
        run=info,
        try_number=1,
        client=InMemoryTaskClient(dag_id="hooks", run_id=info.run_id).for_task("t"),
        log=op.log,
    )
    assert outcome.return_value == 5
    assert seen == [("pre", "t"), ("post", 5)]


def test_run_info_dates_become_pendulum_in_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    run = RunInfo(run_id="r", run_after=dt.datetime(2026, 3, 6, 10, tzinfo=paris))
    converted = run.with_pendulum_dates()
    assert isinstance(converted.run_after, pendulum.DateTime)
    assert converted.run_after.isoformat() == "2026-03-06T09:00:00+00:00"
    assert converted.logical_date is None


def test_timezone_helpers_return_pendulum_datetimes() -> None:
    assert tz.datetime(2026, 3, 6).isoformat() == "2026-03-06T00:00:00+00:00"
    assert tz.parse("2026-03-06 10:00").isoformat() == "2026-03-06T10:00:00+00:00"
    paris = tz.parse_timezone("Europe/Paris")
    assert tz.convert_to_utc(tz.datetime(2026, 3, 6, 10, tzinfo=paris)).hour == 9
    assert tz.make_naive(tz.datetime(2026, 3, 6, 10), paris) == dt.datetime(2026, 3, 6, 11)
    assert tz.make_aware(dt.datetime(2026, 3, 6)).timezone_name == "UTC"
    assert tz.is_naive(dt.datetime(2026, 3, 6))
    assert not tz.is_localized(dt.datetime(2026, 3, 6))
    assert tz.coerce_datetime(None) is None
    assert tz.utcnow().tzinfo is not None
    with pytest.raises(ValueError, match="naive"):
        tz.make_aware(tz.utcnow())


def test_conf_reads_airflow_environment_and_settings_and_refuses_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = AirflowConfigParser({("core", "dags_folder"): "/srv/dags"})
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "12")
    monkeypatch.setenv("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
    assert conf.get("core", "dags_folder") == "/srv/dags"
    assert conf.getint("core", "parallelism") == 12
    assert conf.getboolean("core", "unit_test_mode") is True
    assert conf.get("smtp", "smtp_host", fallback="localhost") == "localhost"
    assert not conf.has_option("smtp", "smtp_host")
    with pytest.raises(AirflowConfigException, match=r"\[smtp/smtp_host\] not found"):
        conf.get("smtp", "smtp_host")
    with pytest.raises(AirflowConfigException, match="read-only"):
        conf.set("core", "parallelism", "1")
    assert issubclass(AirflowConfigException, AirflowException)


def test_literal_template_jinja_options_and_native_rendering_per_task() -> None:
    import jinja2

    from airflow_sc.sdk.templating import literal

    with DAG(
        "jinja",
        schedule=None,
        start_date=NOW,
        template_undefined=jinja2.Undefined,
        jinja_environment_kwargs={"variable_start_string": "[[", "variable_end_string": "]]"},
    ) as the_dag:
        BashOperator(task_id="raw", bash_command=literal("echo '[[ ds ]]'"))
        BashOperator(task_id="custom", bash_command="echo [[ ds ]][[ not_defined ]]")
        PythonOperator(
            task_id="native",
            python_callable=lambda values: type(values).__name__,
            op_args=["[[ [1, 2] ]]"],
            render_template_as_native_obj=True,
        )
    assert returns(the_dag) == {"raw": "[[ ds ]]", "custom": "2026-03-06", "native": "list"}
