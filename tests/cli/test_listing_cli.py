"""The CLI's list commands take the REST API's listing vocabulary as options.

One table over every list command: the same `--<name>-pattern` / `--<name>-prefix-pattern`
questions, ordering both ways, paging, and an unknown `--order-by` field refused with the
fields it takes. SQLite only: the SQL is the API's (`tests/api/test_listing_routes.py`
and `tests/db/test_listing_sql.py` cover both databases).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from sqlalchemy import insert

from airflow_sc.cli.main import main
from airflow_sc.db import Database, Transaction
from airflow_sc.db.engine import open_database
from airflow_sc.db.models import connection, variable
from airflow_sc.db.queries.users import StoredUser, insert_user
from airflow_sc.testing import databases
from tests.api.dag_seeds import add_import_error
from tests.api.test_dag_runs_rows import add_dag, add_run, add_ti
from tests.api.test_listing_routes import NAMES, SEEDED

#: A DAG whose tasks are named after NAMES.
PIPELINE = f"""
from datetime import datetime
from airflow_sc.sdk import DAG, EmptyOperator

with DAG("pipeline", start_date=datetime(2026, 1, 1), schedule=None):
    for name in {NAMES!r}:
        EmptyOperator(task_id=name)
"""

#: (options, the names they keep).
CASES: list[tuple[list[str], list[str]]] = [
    (["--{name}-pattern", "etl_daily"], ["etl_daily", "etlxdaily"]),
    (["--{name}-pattern", "etl\\_daily"], ["etl_daily"]),
    (["--{name}-pattern", "daily|REP"], ["etl_daily", "etlxdaily", "rep", "report_1"]),
    (["--{name}-prefix-pattern", "etl_"], ["etl_daily", "etlxdaily"]),
    (["--{name}-prefix-pattern", "ETL|rep"], ["ETL_a", "rep", "report_1"]),
    (["--{name}-prefix-pattern", SEEDED, "--order-by=-{field}"], NAMES[::-1]),
    (["--{name}-prefix-pattern", SEEDED, "--limit", "2", "--offset", "1"], NAMES[1:3]),
]


@dataclass(frozen=True)
class ListCommand:
    argv: list[str]
    #: The option stem of its pattern filters and a field it sorts by.
    name: str
    field: str
    #: The names in its standard output.
    read: Callable[[str], list[str]]
    #: Its exit code when it lists something.
    listed: int = 0

    def __str__(self) -> str:
        return " ".join(self.argv[:2])


def json_key(key: str) -> Callable[[str], list[str]]:
    return lambda out: [str(row[key]) for row in json.loads(out)]


def lines(out: str) -> list[str]:
    return out.split()


COMMANDS = [
    ListCommand(["dags", "list", "-o", "json"], "dag-id", "dag_id", json_key("dag_id")),
    ListCommand(
        ["dags", "list-import-errors", "-o", "json"],
        "filename",
        "filename",
        json_key("filepath"),
        listed=1,
    ),
    ListCommand(
        ["dags", "list-runs", "pipeline", "-o", "json"], "run-id", "run_id", json_key("run_id")
    ),
    ListCommand(["tasks", "list", "pipeline"], "task-id", "task_id", lines),
    ListCommand(
        ["tasks", "states-for-dag-run", "pipeline", "rep", "-o", "json"],
        "task-display-name",
        "operator",
        json_key("task_id"),
    ),
    ListCommand(["variables", "list", "--json"], "variable-key", "key", json_key("key")),
    ListCommand(["connections", "list", "--json"], "connection-id", "conn_id", json_key("conn_id")),
    ListCommand(["users", "list", "-o", "json"], "username", "username", json_key("username")),
]


async def seed(db: Database) -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    for i, name in enumerate(NAMES):
        # Older in NAMES' order: `dags list-runs` shows the latest first.
        await add_run(db, "pipeline", name, offset_hours=-i)
    for name in NAMES:
        await add_dag(db, name)
        await add_ti(db, "pipeline", "rep", name, operator=name)
        await add_import_error(db, name, "Traceback ...", now=now)
        await insert_user(db, StoredUser(name, "unusable", "viewer", now))

    async def body(tx: Transaction) -> None:
        await tx.execute(
            insert(variable), [{"key": n, "val": "v", "is_encrypted": False} for n in NAMES]
        )
        await tx.execute(insert(connection), [{"conn_id": n, "conn_type": "http"} for n in NAMES])

    await db.run(body)


@pytest.fixture(scope="module")
def seeded_database(
    tmp_path_factory: pytest.TempPathFactory, sqlite_database_template: Path
) -> Path:
    """One seeded SQLite file, copied for each test (the commands only read it)."""
    folder = tmp_path_factory.mktemp("listing")
    url = databases.copy_sqlite_template(sqlite_database_template, folder)
    (folder / "dags").mkdir()
    (folder / "dags" / "pipeline.py").write_text(PIPELINE)
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("AIRFLOW_SC__"):
                env.delenv(name)
        env.setenv("AIRFLOW_SC_HOME", str(folder))
        env.setenv("AIRFLOW_SC__DATABASE__URL", url)
        assert main(["dags", "reserialize"]) == 0

    async def fill() -> None:
        async with open_database(url) as db:
            await seed(db)

    anyio.run(fill)
    return Path(url.removeprefix("sqlite:///"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seeded_database: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("AIRFLOW_SC__", "AIRFLOW_SC_CONN_", "AIRFLOW_SC_VAR_")):
            monkeypatch.delenv(name)
    database = tmp_path / "airflow-sc.db"
    database.write_bytes(seeded_database.read_bytes())
    monkeypatch.setenv("AIRFLOW_SC_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_SC__DATABASE__URL", f"sqlite:///{database}")
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_every_list_command_speaks_the_listing_vocabulary(
    home: Path, capsys: pytest.CaptureFixture[str], command: ListCommand
) -> None:
    capsys.readouterr()
    wrong = []
    for options, expected in CASES:
        argv = [o.format(name=command.name, field=command.field) for o in options]
        code = main([*command.argv, *argv])
        got = command.read(capsys.readouterr().out)
        if (code, got) != (command.listed, expected):
            wrong.append(f"{' '.join(argv)}: exit {code}, {got}")
    assert not wrong, "\n".join(wrong)

    with pytest.raises(SystemExit) as usage_error:
        main([*command.argv, "--order-by", "nope"])
    assert usage_error.value.code == 2
    error = capsys.readouterr().err
    assert "argument --order-by: Ordering with 'nope' is disallowed" in error
    assert command.field in error.split("supported: ")[1].strip().split(", ")


def test_tasks_list_tree_refuses_listing_options(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "list", "pipeline", "--tree", "--limit", "2"]) == 2
    assert "--tree shows every task: it takes no --limit" in capsys.readouterr().err
