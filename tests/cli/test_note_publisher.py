"""A process without a scheduler (api-server, dag-processor) wakes schedulers over NOTIFY."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from airflow_sc.api.context import ApiContext
from airflow_sc.cli._composition import WakeHub, compose
from airflow_sc.config import load_settings
from airflow_sc.db.engine import open_database
from airflow_sc.db.notify import Note, open_listener
from airflow_sc.runtime import Shutdown
from airflow_sc.runtime.components import serve_components
from airflow_sc.scheduler.notify import SCHEDULER_CHANNEL, Change, decode_ping

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
        open_listener(db, [SCHEDULER_CHANNEL]) as listener,
    ):
        hub = WakeHub()
        ctx = ApiContext(settings=settings, db=db, shutdown=Shutdown(), wake=hub.wake)
        composition = await compose(settings, ctx, hub)
        async with anyio.create_task_group() as tg:
            await tg.start(
                lambda task_status: serve_components(
                    composition.components(["api"]),
                    shutdown_trigger=stop.wait,
                    task_status=task_status,
                )
            )
            hub.wake([7])  # e.g. a try finished through the execution API
            hub.dag_changed()
            pings = []
            with anyio.fail_after(10):
                while {Change.RUNS_CHANGED, Change.DAG_CHANGED} - {
                    change for ping in pings for change in ping.changes
                }:
                    note = await listener.receive()
                    assert isinstance(note, Note)
                    ping = decode_ping(note.payload)
                    assert ping is not None
                    pings.append(ping)
            stop.set()
    assert {7} == {pk for ping in pings for pk in ping.run_pks or ()}
