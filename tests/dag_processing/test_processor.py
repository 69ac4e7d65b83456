"""The DAG processor keeps the database in step with the DAG files (real files, real DBs)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select

from airflow_sc.config import load_settings
from airflow_sc.config.settings import ExecutorSettings
from airflow_sc.dag_processing.parser_pool import open_parser_pool
from airflow_sc.dag_processing.processor import DagProcessor, serve_dag_processor
from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import dag, import_error, serialized_dag
from airflow_sc.executors.routing import ExecutorRouting
from airflow_sc.serialization import DagSpec
from airflow_sc.testing import open_service_group

pytestmark = pytest.mark.anyio

DAG_FILE = """
from datetime import datetime, timedelta
from airflow_sc.sdk import DAG, BashOperator

with DAG("{dag_id}", start_date=datetime(2026, 1, 1), schedule="@daily", tags={tags!r}):
    BashOperator(task_id="{task_id}", bash_command="echo hi", retries=2,
                 retry_delay=timedelta(seconds=30))
"""


def write_dag(folder: Path, name: str, dag_id: str, task_id: str = "t1", tags=("a",)) -> Path:
    path = folder / f"{name}.py"
    path.write_text(DAG_FILE.format(dag_id=dag_id, task_id=task_id, tags=list(tags)))
    return path


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with open_database(database_url) as database:
        yield database


@pytest.fixture
async def processor(db: Database, tmp_path: Path) -> AsyncIterator[DagProcessor]:
    folder = tmp_path / "dags"
    folder.mkdir()
    async with open_parser_pool(2, file_timeout=10, max_memory=0) as pool:
        yield DagProcessor(db, pool, [folder], paused_by_default=True)


async def query(db: Database, statement: Any) -> list[Any]:
    async def body(tx: Transaction) -> list[Any]:
        return (await tx.execute(statement)).all()

    return await db.run(body, write=False)


async def test_new_dags_are_stored_with_their_serialized_form(processor: DagProcessor) -> None:
    folder = processor.folders[0]
    write_dag(folder, "one", "first", tags=("etl", "daily"))
    write_dag(folder, "two", "second")
    stats = await processor.refresh()
    assert (stats.files, stats.dags, stats.errors) == (2, 2, 0)
    rows = await query(processor.db, select(dag).order_by(dag.c.dag_id))
    assert [(r.dag_id, r.is_paused, r.is_stale) for r in rows] == [
        ("first", True, False),
        ("second", True, False),
    ]
    assert rows[0].next_dagrun is not None  # @daily: the next run is known
    assert rows[0].timetable_summary == "@daily"
    (data,) = [
        r.data
        for r in await query(
            processor.db, select(serialized_dag.c.data).where(serialized_dag.c.dag_id == "first")
        )
    ]
    spec = DagSpec.from_dict(data)
    assert spec.tasks["t1"].retries == 2
    assert spec.tasks["t1"].retry_delay.total_seconds() == 30
    assert spec.tags == ("daily", "etl")


async def test_unchanged_file_keeps_one_version_changed_file_adds_one(
    processor: DagProcessor,
) -> None:
    folder = processor.folders[0]
    path = write_dag(folder, "one", "first")
    await processor.refresh()
    await processor.refresh_paths({str(path)})  # same content: no new version
    write_dag(folder, "one", "first", task_id="renamed")
    await processor.refresh_paths({str(path)})
    versions = await query(
        processor.db,
        select(serialized_dag.c.data)
        .where(serialized_dag.c.dag_id == "first")
        .order_by(serialized_dag.c.created_at),
    )
    assert [sorted(DagSpec.from_dict(v.data).tasks) for v in versions] == [["t1"], ["renamed"]]


async def test_import_error_recorded_dag_kept_then_cleared_when_fixed(
    processor: DagProcessor,
) -> None:
    folder = processor.folders[0]
    path = write_dag(folder, "one", "first")
    await processor.refresh()
    path.write_text(path.read_text() + "\nraise RuntimeError('broken on purpose')\n")
    await processor.refresh_paths({str(path)})
    errors = await query(processor.db, select(import_error))
    assert len(errors) == 1
    assert errors[0].filename == str(path)
    assert "RuntimeError: broken on purpose" in errors[0].stacktrace
    (row,) = await query(processor.db, select(dag).where(dag.c.dag_id == "first"))
    assert not row.is_stale  # a typo must not unschedule the DAG
    assert row.has_import_errors
    write_dag(folder, "one", "first")
    await processor.refresh_paths({str(path)})
    assert await query(processor.db, select(import_error)) == []
    (row,) = await query(processor.db, select(dag).where(dag.c.dag_id == "first"))
    assert not row.has_import_errors


async def test_removed_dag_and_deleted_file_become_stale(processor: DagProcessor) -> None:
    folder = processor.folders[0]
    keep = write_dag(folder, "keep", "kept")
    gone = write_dag(folder, "gone", "deleted")
    await processor.refresh()
    keep.write_text(DAG_FILE.format(dag_id="renamed_dag", task_id="t", tags=[]))
    gone.unlink()
    await processor.refresh()
    rows = await query(processor.db, select(dag.c.dag_id, dag.c.is_stale).order_by(dag.c.dag_id))
    assert [tuple(r) for r in rows] == [("deleted", True), ("kept", True), ("renamed_dag", False)]


async def test_service_follows_file_changes(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    write_dag(folder, "one", "first")
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__CORE__DAGS_FOLDER": str(folder)},
        cwd=tmp_path,
    )
    stored = [anyio.Event()]
    async with open_service_group() as tg:
        handle = await tg.start(
            lambda task_status: serve_dag_processor(
                settings,
                db,
                on_stored=lambda: stored[-1].set(),
                shutdown_trigger=anyio.sleep_forever,
                task_status=task_status,
            )
        )
        with anyio.fail_after(20):
            stats = await handle.wait_parsed()
        assert stats.dags == 1
        stored.append(anyio.Event())
        write_dag(folder, "two", "second")
        with anyio.fail_after(20):
            await stored[-1].wait()
        assert await query(db, select(dag).where(dag.c.dag_id == "second"))


async def test_ignored_airflow_arguments_are_logged_when_a_new_version_is_stored(
    processor: DagProcessor, caplog: pytest.LogCaptureFixture
) -> None:
    folder = processor.folders[0]
    path = folder / "queued.py"
    path.write_text(
        DAG_FILE.format(dag_id="queued", task_id="t1", tags=[]).replace(
            "retries=2,", "retries=2, queue='gpu',"
        )
    )
    caplog.set_level("WARNING", logger="airflow_sc.dag_processing.processor")
    await processor.refresh()
    await processor.refresh()  # unchanged: no new version, nothing logged again
    logged = [r.getMessage() for r in caplog.records if "has no effect" in r.getMessage()]
    assert logged == [
        f"{path}:6: task argument queue has no effect in airflow-sc yet: queues route work "
        "to Celery workers, which airflow-sc does not have yet"
    ]


REMOTE_DAG = """
from datetime import datetime
from airflow_sc.sdk import DAG, BashOperator

with DAG("remote", start_date=datetime(2026, 1, 1), schedule="@daily"):
    BashOperator(task_id="local_step", bash_command="echo hi")
    BashOperator(task_id="load", bash_command="echo hi", executor="celery")
"""


async def test_a_dag_naming_an_executor_the_deployment_does_not_run_is_an_import_error(
    db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    write_dag(folder, "fine", "fine")
    path = folder / "remote.py"
    path.write_text(REMOTE_DAG)
    async with open_parser_pool(1, file_timeout=10, max_memory=0) as pool:
        processor = DagProcessor(
            db,
            pool,
            [folder],
            paused_by_default=True,
            routing=ExecutorRouting.from_settings(ExecutorSettings()),
        )
        stats = await processor.refresh()
    assert (stats.dags, stats.errors) == (2, 0)  # parsed fine: refused when stored
    [error] = await query(db, select(import_error))
    assert (error.filename, error.stacktrace) == (
        str(path),
        "task 'load' of DAG 'remote' asks for executor 'celery'; this deployment runs "
        "inprocess, local",
    )
    assert [r.dag_id for r in await query(db, select(dag))] == ["fine"]
