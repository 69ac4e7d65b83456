"""Tasks that read and write connections and variables (an airflow-sc DAG file)."""

from __future__ import annotations

import datetime

import anyio

from airflow_sc.sdk import DAG, BaseHook, BashOperator, Connection, Variable, task

with DAG(
    "secret_tasks",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
) as dag:

    @task
    def read_secrets() -> dict[str, object]:
        conn = Connection.get("warehouse")
        print(f"the password is {conn.password}")
        token = Variable.get("api_token")
        print(f"the token is {token}")
        return {
            "host": conn.host,
            "hook_host": BaseHook.get_connection("warehouse").host,
            "uri": conn.get_uri().startswith("postgres://"),
            "limits": Variable.get("limits", deserialize_json=True),
            "missing": Variable.get("missing", default="fallback"),
        }

    @task
    def write_variables() -> list[object]:
        Variable.set("written", {"n": 1}, serialize_json=True, description="from a task")
        Variable.set("scratch", "temp")
        deleted = Variable.delete("scratch")
        deleted_again = Variable.delete("scratch")
        return [Variable.get("written", deserialize_json=True), deleted, deleted_again]

    BashOperator(
        task_id="templated",
        bash_command=(
            "echo host={{ conn.warehouse.host }} user={{ var.value.user }} "
            "n={{ var.json.limits.n }} token={{ var.value.api_token }}"
        ),
    )

    @task
    async def read_async() -> dict[str, object]:
        conn = await Connection.aget("warehouse")
        token = await Variable.aget("api_token")
        await Variable.aset("async_written", "yes")
        value = await Variable.aget("async_written")
        deleted = await Variable.adelete("async_written")
        hook = await BaseHook.aget_connection("warehouse")
        return {
            "host": conn.host,
            "token": token == "tok-1234567890",
            "value": value,
            "deleted": deleted,
            "hook": hook.host,
        }

    @task
    def fail_with_secret_in_a_worker() -> None:
        raise ValueError(f"login refused for password {Connection.get('warehouse').password}")

    @task
    async def fail_with_secret() -> None:
        conn = await Connection.aget("warehouse")
        raise ValueError(f"login refused for password {conn.password}")

    @task
    async def templated_async(value: str) -> str:
        return value

    @task
    async def sync_get_on_the_loop() -> str:
        value: str = Variable.get("user")
        return value

    @task
    async def sync_get_in_a_thread() -> str:
        value: str = await anyio.to_thread.run_sync(Variable.get, "user")
        return value

    read_secrets()
    write_variables()
    fail_with_secret_in_a_worker()
    read_async()
    fail_with_secret()
    templated_async("{{ var.value.user }}@{{ conn.warehouse.host }}")
    sync_get_on_the_loop()
    sync_get_in_a_thread()
