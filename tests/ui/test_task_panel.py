"""The task instance panel's XCom: the entries of the latest try, their values as the API's
`GET .../xcomEntries/{key}` returns them, shown as text."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from airflow_sc.auth import Role
from airflow_sc.db import Transaction
from airflow_sc.db.models import dag_run
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.api.dag_seeds import add_runs
from tests.api.test_dag_runs_rows import add_ti, add_try, add_xcom
from tests.ui.conftest import UiServer
from tests.ui.test_pages import seeded, signed_in

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]

__all__ = ["seeded"]  # the fixture, imported

PAYLOAD = "<script>window.__xss=1</script>"


def xcom_rows(page: str) -> dict[str, str]:
    return dict(
        re.findall(
            r'<tr data-xcom-key="([^"]*)"><th>[^<]*</th><td><pre class="xcom-value">(.*?)</pre>',
            page,
            re.S,
        )
    )


async def test_the_panel_shows_the_latest_try_s_xcom_as_text(seeded: UiServer) -> None:
    db = seeded.db
    await add_runs(db, "etl_daily", ["success"], now=seeded.clock(), started=True)

    async def run_pk(tx: Transaction) -> int:
        return int(await tx.scalar(select(dag_run.c.id)))

    pk = await db.run(run_pk, write=False)
    await add_ti(db, "etl_daily", "manual__0", "extract", state="success", try_number=2)
    await add_try(db, "etl_daily", "manual__0", "extract", state="failed", try_number=1)
    await add_ti(db, "etl_daily", "manual__0", "load", state="success")
    await add_xcom(db, pk, "etl_daily", "manual__0", "extract", "return_value", {"rows": 3})
    await add_xcom(db, pk, "etl_daily", "manual__0", "extract", "x" + PAYLOAD, PAYLOAD)
    params = {"run_id": "manual__0", "task_id": "extract"}
    async with signed_in(seeded, Role.VIEWER) as http:
        latest = (await http.get("/dags/etl_daily", params=params)).text
        api = await http.get(
            "/api/v2/dags/etl_daily/dagRuns/manual__0/taskInstances/extract/xcomEntries/"
            "return_value",
            headers={"Authorization": f"Bearer {seeded.token(Role.VIEWER)}"},
        )
        earlier = (await http.get("/dags/etl_daily", params=params | {"try_number": 1})).text
        other = (await http.get("/dags/etl_daily", params=params | {"task_id": "load"})).text
    assert api.json()["value"] == {"rows": 3}
    assert xcom_rows(latest) == {
        "return_value": "{\n  &#34;rows&#34;: 3\n}",
        "x&lt;script&gt;window.__xss=1&lt;/script&gt;": (
            "&#34;&lt;script&gt;window.__xss=1&lt;/script&gt;&#34;"
        ),
    }
    assert "<script>window" not in latest
    assert xcom_rows(earlier) == {}
    assert "XCom is kept for the latest try only." in earlier
    assert "No XCom." in other
