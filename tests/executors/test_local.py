"""The local executor with real worker processes, a real execution API and a real database.

Each test drives the executor through its port (submit / events / terminate) the way the
scheduler does, and checks what a user would see: the task's state in the database, its
log file, its XComs, and that no process of the task survives.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream
from sqlalchemy import update

from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag
from airflow_sc.domain import TaskInstanceState
from airflow_sc.executors.base import TaskEvent, Workload
from airflow_sc.executors.local import LocalChannel, LocalExecutor, worker_environment
from airflow_sc.secrets import Connection, InMemoryBackend
from airflow_sc.task_runner.logs import try_log_path
from airflow_sc.testing import open_service_group
from tests.executors.world import (
    DAG_FILE,
    DAG_ID,
    ServedApi,
    add_run,
    add_ti,
    serve_execution_api,
    ti_row,
    workload,
)

pytestmark = pytest.mark.anyio

_TI = TaskInstanceState


@pytest.fixture
async def db(sqlite_database_url: str) -> AsyncIterator[Database]:
    async with open_database(sqlite_database_url) as database:
        await add_run(database)
        yield database


PASSWORD = "s3cr3t-pass-word"


@pytest.fixture
async def served(db: Database) -> AsyncIterator[ServedApi]:
    warehouse = Connection("warehouse", "postgres", host="db.local", password=PASSWORD)
    secrets = InMemoryBackend(connections={"warehouse": warehouse})
    async with serve_execution_api(db, secrets=secrets) as served:
        yield served


#: Events still unread when an `open_local` block ended (the shutdown's reports).
LEFTOVER: list[TaskEvent] = []


@asynccontextmanager
async def open_local(
    served: ServedApi, logs: Path, *, channel: LocalChannel = "pipe", **options: float
) -> AsyncIterator[tuple[LocalExecutor, MemoryObjectReceiveStream[TaskEvent]]]:
    send, receive = anyio.create_memory_object_stream[TaskEvent](1000)
    executor = LocalExecutor(
        parallelism=int(options.pop("parallelism", 2)),
        channel=channel,
        api_url=served.url,
        service=served.service,
        tokens=served.tokens,
        base_log_folder=logs,
        heartbeat_interval=0.2,
        terminate_grace=options.pop("terminate_grace", 1.0),
        shutdown_grace=options.pop("shutdown_grace", 5.0),
        dag_import_timeout=options.pop("dag_import_timeout", 30.0),
    )
    LEFTOVER.clear()
    with receive:
        async with open_service_group() as tg:
            await tg.start(executor.serve, send)
            yield executor, receive
        LEFTOVER.extend([event async for event in receive])


async def until_done(
    events: MemoryObjectReceiveStream[TaskEvent], ti_id: str, *, within: float = 20
) -> list[TaskEvent]:
    """This try's events: its one event, when its process ended."""
    seen: list[TaskEvent] = []
    with anyio.fail_after(within):
        async for event in events:
            if event.ti_id != ti_id:
                continue
            seen.append(event)
            return seen
    raise AssertionError(f"the event stream ended before {ti_id} finished: {seen}")


def log_text(logs: Path, task_id: str, try_number: int = 1, *, run_id: str = "run_1") -> str:
    path = try_log_path(logs, dag_id=DAG_ID, run_id=run_id, task_id=task_id, try_number=try_number)
    return path.read_text()


def gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie waiting for init to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def wait_for_file(path: Path) -> str:
    marker = anyio.Path(path)
    with anyio.fail_after(20):
        while not await marker.exists() or not await marker.read_text():
            await anyio.sleep(0.02)
    return await marker.read_text()


@pytest.fixture
async def any_db(database_url: str) -> AsyncIterator[Database]:
    """SQLite and PostgreSQL (the other tests use SQLite only, to stay quick)."""
    async with open_database(database_url) as database:
        await add_run(database)
        yield database


async def test_a_task_succeeds_with_its_log_and_xcom_and_the_next_pulls_it(
    any_db: Database, tmp_path: Path
) -> None:
    async with serve_execution_api(any_db) as served:
        await _succeed_then_pull(any_db, served, tmp_path)


async def test_over_http_a_task_succeeds_and_the_next_pulls_its_xcom(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    await _succeed_then_pull(db, served, tmp_path, channel="http")


async def _succeed_then_pull(
    db: Database, served: ServedApi, tmp_path: Path, *, channel: LocalChannel = "pipe"
) -> None:
    first = await add_ti(db, "succeed")
    second = await add_ti(db, "pull")
    async with open_local(served, tmp_path, channel=channel) as (executor, events):
        await executor.submit([workload(first, "succeed")])
        states = [e.recorded for e in await until_done(events, first)]
        await executor.submit([workload(second, "pull")])
        pulled = await until_done(events, second)

    assert states == [_TI.SUCCESS]
    assert pulled[-1].recorded is _TI.SUCCESS
    assert (await ti_row(db, first)).state == "success"
    assert "hello from the task" in log_text(tmp_path, "succeed")
    assert "pulled {'answer': 42}" in log_text(tmp_path, "pull")
    value = await served.service.get_xcom(second, "pull", "return_value", -1)
    assert value == 43


@pytest.mark.parametrize("channel", ["pipe", "http"])
async def test_secrets_read_by_a_task_are_masked_in_its_log(
    db: Database, served: ServedApi, tmp_path: Path, channel: LocalChannel
) -> None:
    ti_id = await add_ti(db, "read_secret")
    async with open_local(served, tmp_path, channel=channel) as (executor, events):
        await executor.submit([workload(ti_id, "read_secret")])
        final = (await until_done(events, ti_id))[-1]

    assert final.recorded is _TI.SUCCESS
    text = log_text(tmp_path, "read_secret")
    assert "the password is ***" in text
    assert PASSWORD not in text


async def test_a_raising_task_fails_with_its_traceback_in_the_log(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    ti_id = await add_ti(db, "boom")
    async with open_local(served, tmp_path) as (executor, events):
        await executor.submit([workload(ti_id, "boom")])
        final = (await until_done(events, ti_id))[-1]

    assert final.recorded is _TI.FAILED
    assert "the task broke on purpose" in (final.info or "")
    assert (await ti_row(db, ti_id)).state == "failed"
    text = log_text(tmp_path, "boom")
    assert "Traceback (most recent call last)" in text
    assert "ValueError: the task broke on purpose" in text


@pytest.mark.parametrize("channel", ["pipe", "http"])
async def test_a_retry_policy_delay_reaches_the_database(
    db: Database, served: ServedApi, tmp_path: Path, channel: LocalChannel
) -> None:
    ti_id = await add_ti(db, "time_out", max_tries=2)
    async with open_local(served, tmp_path, channel=channel) as (executor, events):
        await executor.submit([workload(ti_id, "time_out")])
        final = (await until_done(events, ti_id))[-1]

    assert final.recorded is _TI.UP_FOR_RETRY
    row = await ti_row(db, ti_id)
    assert (row.state, row.next_retry_delay) == ("up_for_retry", 420.0)
    assert "Retry policy decided retry, next try in 420 s" in log_text(tmp_path, "time_out")


async def test_exit_and_segfault_fail_the_try_and_not_the_worker_pool(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    exits = await add_ti(db, "exit_3")
    crashes = await add_ti(db, "segfault")
    after = await add_ti(db, "succeed")
    async with open_local(served, tmp_path, parallelism=1) as (executor, events):
        await executor.submit([workload(exits, "exit_3")])
        exited = (await until_done(events, exits))[-1]
        await executor.submit([workload(crashes, "segfault")])
        crashed = (await until_done(events, crashes))[-1]
        await executor.submit([workload(after, "succeed")])
        fine = (await until_done(events, after))[-1]

    # Nothing recorded: the scheduler's executor_events ends these tries.
    assert exited.recorded is None
    assert exited.info == "the task process exited with code 3 without reporting a result"
    assert "about to exit" in log_text(tmp_path, "exit_3")
    assert crashed.recorded is None
    assert "killed by SIGSEGV" in (crashed.info or "")
    assert "Fatal Python error: Segmentation fault" in log_text(tmp_path, "segfault")
    assert (await ti_row(db, exits)).state == (await ti_row(db, crashes)).state == "running"
    assert fine.recorded is _TI.SUCCESS  # the same single worker slot still runs tasks


async def test_execution_timeout_kills_the_task_and_its_process_group(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    ti_id = await add_ti(db, "hang")
    async with open_local(served, tmp_path) as (executor, events):
        started = time.monotonic()
        await executor.submit([workload(ti_id, "hang", execution_timeout=0.5)])
        final = (await until_done(events, ti_id))[-1]
        elapsed = time.monotonic() - started

    # The task got SIGTERM and recorded its failure itself (the task has no retries).
    assert final.recorded is _TI.FAILED, final
    assert "execution_timeout of 0.5s exceeded" in (final.info or "")
    assert (await ti_row(db, ti_id)).state == "failed"
    assert 0.5 <= elapsed < 5
    pid = (await ti_row(db, ti_id)).pid
    assert gone(pid)


async def test_terminate_kills_a_task_that_ignores_sigterm_after_the_grace(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker)})
    ti_id = await add_ti(db, "ignore_sigterm", run_id="run_2")
    async with open_local(served, tmp_path, terminate_grace=0.3) as (executor, events):
        await executor.submit([workload(ti_id, "ignore_sigterm", run_id="run_2")])
        await wait_for_file(marker)
        await executor.terminate(ti_id, reason="stopped by the user")
        final = (await until_done(events, ti_id))[-1]

    assert final.recorded is None  # killed before it could say anything
    assert final.info == "stopped by the user (killed by SIGKILL)"
    assert gone((await ti_row(db, ti_id)).pid)


async def test_a_grandchild_forked_by_the_task_dies_with_it(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker)})
    ti_id = await add_ti(db, "fork_grandchild", run_id="run_2")
    async with open_local(served, tmp_path) as (executor, events):
        await executor.submit([workload(ti_id, "fork_grandchild", run_id="run_2")])
        grandchild = int(await wait_for_file(marker))
        assert not gone(grandchild)
        await executor.terminate(ti_id, reason="stopped")
        final = (await until_done(events, ti_id))[-1]

    assert final.recorded is _TI.FAILED  # the task handled SIGTERM and said so
    assert (await ti_row(db, ti_id)).state == "failed"
    with anyio.fail_after(5):
        while not gone(grandchild):
            await anyio.sleep(0.02)


async def test_shutdown_lets_running_tasks_finish_within_the_grace(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker), "seconds": 0.5})
    ti_id = await add_ti(db, "slow", run_id="run_2")
    async with open_local(served, tmp_path, shutdown_grace=10) as (executor, _):
        await executor.submit([workload(ti_id, "slow", run_id="run_2")])
        await wait_for_file(marker)
    # Leaving the block cancelled the executor; the try still finished and was reported.
    reported = [e.recorded for e in LEFTOVER if e.ti_id == ti_id]
    assert reported == [_TI.SUCCESS]
    assert (await ti_row(db, ti_id)).state == "success"


async def test_shutdown_kills_what_outlives_the_grace_and_reports_it(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker)})
    ti_id = await add_ti(db, "ignore_sigterm", run_id="run_2")
    started = time.monotonic()
    async with open_local(served, tmp_path, shutdown_grace=0.2, terminate_grace=0.2) as (
        executor,
        _,
    ):
        await executor.submit([workload(ti_id, "ignore_sigterm", run_id="run_2")])
        await wait_for_file(marker)
    elapsed = time.monotonic() - started
    final = [e for e in LEFTOVER if e.ti_id == ti_id][-1]
    assert final.recorded is None  # killed: the scheduler ends the try
    assert "shut down" in (final.info or "")
    assert elapsed < 10
    assert gone((await ti_row(db, ti_id)).pid)


async def test_a_dead_worker_is_replaced_and_its_try_fails_without_orphans(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker)})
    ti_id = await add_ti(db, "fork_grandchild", run_id="run_2")
    after = await add_ti(db, "succeed")
    async with open_local(served, tmp_path, parallelism=1) as (executor, events):
        await executor.submit([workload(ti_id, "fork_grandchild", run_id="run_2")])
        grandchild = int(await wait_for_file(marker))
        (worker,) = executor.statistics().workers
        os.kill(worker, signal.SIGKILL)
        final = (await until_done(events, ti_id))[-1]
        await executor.submit([workload(after, "succeed")])
        fine = (await until_done(events, after))[-1]
        (replacement,) = executor.statistics().workers

    assert final.recorded is None
    assert final.info == "the worker process running the task died"
    assert fine.recorded is _TI.SUCCESS
    assert replacement != worker
    task_pid = (await ti_row(db, ti_id)).pid
    with anyio.fail_after(5):
        while not (gone(grandchild) and gone(task_pid)):
            await anyio.sleep(0.02)


async def test_the_reason_a_task_was_stopped_is_in_its_log(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    ti_id = await add_ti(db, "hang")
    async with open_local(served, tmp_path) as (executor, events):
        await executor.submit([workload(ti_id, "hang", execution_timeout=0.3)])
        await until_done(events, ti_id)

    text = log_text(tmp_path, "hang")
    assert "Stopping the task: execution_timeout of 0.3s exceeded" in text
    assert "TaskTerminated: the task received SIGTERM" in text


def test_task_processes_do_not_inherit_the_database_url_or_other_settings() -> None:
    environ = {
        "PATH": "/usr/bin",
        "AIRFLOW_SC__DATABASE__URL": "postgresql://user:pw@db/airflow",
        "AIRFLOW_SC__API__SECRET_KEY": "signing",
        "AIRFLOW_CONN_WAREHOUSE": "postgres://h",
    }
    assert worker_environment(environ) == {
        "PATH": "/usr/bin",
        "AIRFLOW_CONN_WAREHOUSE": "postgres://h",
    }


async def test_terminating_a_try_still_waiting_for_a_worker_never_starts_it(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker), "seconds": 0.3})
    busy = await add_ti(db, "slow", run_id="run_2")
    waiting = await add_ti(db, "succeed")
    async with open_local(served, tmp_path, parallelism=1) as (executor, events):
        await executor.submit(
            [workload(busy, "slow", run_id="run_2"), workload(waiting, "succeed")]
        )
        await wait_for_file(marker)
        assert executor.open_slots() == 0
        await executor.terminate(waiting, reason="cancelled before it started")
        seen: list[TaskEvent] = []
        with anyio.fail_after(20):
            async for event in events:
                seen.append(event)
                if event.ti_id == busy:
                    break

    stopped = [e for e in seen if e.ti_id == waiting]
    assert [e.recorded for e in stopped] == [None]
    assert stopped[0].info == "cancelled before it started"
    assert seen[-1].recorded is _TI.SUCCESS
    assert (await ti_row(db, waiting)).state == "queued"  # never started: the scheduler decides


# -- DAG files imported by the worker, once -------------------------------------------------

COUNTING_DAG = """
import datetime
from pathlib import Path

from airflow_sc.sdk import DAG, task

with Path({marker!r}).open("a") as imports:
    imports.write("imported\\n")
{extra}
with DAG("behaviours", schedule=None, start_date=datetime.datetime(2026, 1, 1)) as dag:

    @task
    def succeed() -> str:
        return "ok"

    succeed()
"""


async def _use_dag_file(db: Database, path: Path) -> None:
    async def move(tx: Transaction) -> None:
        await tx.execute(update(dag).where(dag.c.dag_id == DAG_ID).values(fileloc=str(path)))

    await db.run(move)


def _dag_workload(
    ti_id: str, path: Path, *, run_id: str = "run_1", execution_timeout: float | None = None
) -> Workload:
    item = workload(ti_id, "succeed", run_id=run_id, execution_timeout=execution_timeout)
    return replace(item, dag_fileloc=str(path))


async def test_a_worker_imports_a_dag_file_once_and_again_after_it_changes(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "imports.txt"
    dag_file = tmp_path / "dags" / "counting.py"
    dag_file.parent.mkdir()
    dag_file.write_text(COUNTING_DAG.format(marker=str(marker), extra=""))
    await _use_dag_file(db, dag_file)
    runs = ["run_1", "run_2", "run_3", "run_4"]
    for run_id in runs[1:]:
        await add_run(db, run_id)
    tries = {run_id: await add_ti(db, "succeed", run_id=run_id) for run_id in runs}
    finals = []
    async with open_local(served, tmp_path, parallelism=1) as (executor, events):
        for run_id in runs:
            if run_id == "run_4":
                imports_before_change = marker.read_text().count("imported")
                dag_file.write_text(COUNTING_DAG.format(marker=str(marker), extra="# changed\n"))
            ti_id = tries[run_id]
            await executor.submit([_dag_workload(ti_id, dag_file, run_id=run_id)])
            finals.append((await until_done(events, ti_id))[-1])

    assert [final.recorded for final in finals] == [_TI.SUCCESS] * 4
    assert imports_before_change == 1  # three tries, one import (the children inherit it)
    assert marker.read_text().count("imported") == 2


async def test_a_dag_file_whose_import_hangs_fails_its_try_and_not_the_worker(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "imports.txt"
    hanging = tmp_path / "dags" / "hanging.py"
    hanging.parent.mkdir()
    hanging.write_text(
        COUNTING_DAG.format(marker=str(marker), extra="import time\ntime.sleep(600)\n")
    )
    await _use_dag_file(db, hanging)
    stuck = await add_ti(db, "succeed")
    await add_run(db, "run_2")
    after = await add_ti(db, "succeed", run_id="run_2")
    options = {"parallelism": 1, "dag_import_timeout": 0.3}
    async with open_local(served, tmp_path, **options) as (executor, events):
        workers = executor.statistics().workers
        await executor.submit([_dag_workload(stuck, hanging, execution_timeout=1.0)])
        failed = (await until_done(events, stuck))[-1]
        await _use_dag_file(db, DAG_FILE)
        await executor.submit([workload(after, "succeed", run_id="run_2")])
        fine = (await until_done(events, after))[-1]
        assert executor.statistics().workers == workers  # not replaced: it never hung

    assert failed.recorded is _TI.FAILED
    assert "execution_timeout of 1s exceeded" in (failed.info or "")
    assert fine.recorded is _TI.SUCCESS  # the same single worker took the next try


# -- the local channel checks tokens like the HTTP API ----------------------------------------


async def test_the_local_channel_refuses_forged_and_other_tries_tokens(
    db: Database, served: ServedApi
) -> None:
    from airflow_sc.executors._channel_server import ChannelServer

    mine = await add_ti(db, "succeed")
    other = await add_ti(db, "pull")
    tokens = served.tokens
    channel = ChannelServer(served.dispatcher)

    def call(op: str, token: str, **args: object) -> dict[str, object]:
        return {"id": 1, "op": op, "token": token, "args": {"hostname": "h", "pid": 1, **args}}

    forged = await channel.answer(mine, call("start", "not-a-token"))
    foreign = await channel.answer(mine, call("start", tokens.issue(other)))
    unknown = await channel.answer(mine, call("drop_tables", tokens.issue(mine)))
    started = await channel.answer(mine, call("start", tokens.issue(mine)))
    again = await channel.answer(mine, call("start", tokens.issue(mine)))

    assert (forged["status"], foreign["status"], unknown["status"]) == (401, 403, 400)
    assert started["status"] == 200
    assert again["status"] == 409  # no longer queued
    row = await ti_row(db, mine)
    assert (row.state, row.pid) == ("running", 1)
    assert (await ti_row(db, other)).state == "queued"


async def _killed_by(
    db: Database, served: ServedApi, tmp_path: Path, stop: str
) -> tuple[TaskEvent, str]:
    """Run `kill_aware` and stop it the way `stop` says; its event and on_kill's mark."""
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker)})
    ti_id = await add_ti(db, "kill_aware", run_id="run_2")
    timeout = 1.0 if stop == "execution_timeout" else None
    async with open_local(served, tmp_path, shutdown_grace=0.2) as (executor, events):
        await executor.submit(
            [workload(ti_id, "kill_aware", run_id="run_2", execution_timeout=timeout)]
        )
        await wait_for_file(marker)
        if stop == "terminate":
            await executor.terminate(ti_id, reason="stopped by the user")
        elif stop == "clear":
            await set_ti_state(db, ti_id, "restarting")  # what clearing a running try does
        if stop != "shutdown":  # else: leaving the block shuts the executor down
            final = (await until_done(events, ti_id))[-1]
    if stop == "shutdown":
        final = [event for event in LEFTOVER if event.ti_id == ti_id][-1]
    return final, await wait_for_file(Path(f"{marker}.killed"))


async def set_ti_state(db: Database, ti_id: str, state: str) -> None:
    from airflow_sc.db.models import task_instance

    async def body(tx: Transaction) -> None:
        await tx.execute(
            update(task_instance).where(task_instance.c.id == ti_id).values(state=state)
        )

    await db.run(body)


@pytest.mark.parametrize("stop", ["terminate", "execution_timeout", "clear", "shutdown"])
async def test_on_kill_runs_when_a_try_is_stopped(
    db: Database, served: ServedApi, tmp_path: Path, stop: str
) -> None:
    final, mark = await _killed_by(db, served, tmp_path, stop)
    assert mark == "on_kill of kill_aware"
    if stop != "clear":  # a cleared try's row is no longer its to end
        assert final.recorded in (_TI.FAILED, None)
    assert "Calling on_kill of" in log_text(tmp_path, "kill_aware", run_id="run_2")


async def test_a_stopped_bash_command_takes_its_process_group_with_it(
    db: Database, served: ServedApi, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    await add_run(db, "run_2", conf={"marker": str(marker)})
    ti_id = await add_ti(db, "bash_group", run_id="run_2")
    async with open_local(served, tmp_path) as (executor, events):
        await executor.submit([workload(ti_id, "bash_group", run_id="run_2")])
        sleeper = int((await wait_for_file(marker)).strip())
        assert not gone(sleeper)
        await executor.terminate(ti_id, reason="stopped")
        final = (await until_done(events, ti_id))[-1]
    assert final.recorded is _TI.FAILED  # stopped promptly: the task recorded its failure
    with anyio.fail_after(5):
        while not gone(sleeper):
            await anyio.sleep(0.02)
