"""A process without a scheduler (api-server, dag-processor) wakes schedulers over NOTIFY;
one with a scheduler wakes it in process and sends nothing."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from airflow_sc.cli._composition import compose
from airflow_sc.config import load_settings
from airflow_sc.db.engine import open_database
from airflow_sc.db.notify import Note, open_listener
from airflow_sc.runtime import Shutdown
from airflow_sc.runtime.components import serve_components
from airflow_sc.scheduler.changes import Change
from airflow_sc.scheduler.changes.notes import decode_note
from airflow_sc.scheduler.changes.postgres import CHANNEL

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_an_api_server_process_publishes_its_wake_ups(
    postgres_database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        {"AIRFLOW_SC_HOME": str(tmp_path), "AIRFLOW_SC__API__PORT": "0"}, cwd=tmp_path
    )
    stop = anyio.Event()
    async with (
        open_database(postgres_database_url) as db,
        open_listener(db, [CHANNEL]) as listener,
    ):
        composition = await compose(settings, db, Shutdown(), ["api"])
        async with anyio.create_task_group() as tg:
            await tg.start(
                lambda task_status: serve_components(
                    composition.components(),
                    shutdown_trigger=stop.wait,
                    task_status=task_status,
                )
            )
            composition.execution.on_ti_finished([7])  # a try finished through the API
            composition.changes.dag_changed()
            notes = []
            with anyio.fail_after(10):
                while {Change.TIS_FINISHED, Change.DAG_CHANGED} - {
                    change for note in notes for change in note.changes
                }:
                    heard = await listener.receive()
                    assert isinstance(heard, Note)
                    note = decode_note(heard.payload)
                    assert note is not None
                    notes.append(note)
            stop.set()
    assert {7} == {pk for note in notes for pk in note.run_pks or ()}
