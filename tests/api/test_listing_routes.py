"""Every list route of `/api/v2` speaks the same listing vocabulary, on both databases.

Each resource gets five rows named after `NAMES` (for task instances, runs and XCom every
filtered column carries the name), then every `*_pattern` / `*_prefix_pattern` the route
declares is asked the same questions, and each route is ordered and paged the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert

from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import connection, dag_tag, slot_pool, variable
from tests.api.conftest import ONE_BACKEND_PER_DATABASE, ApiServer
from tests.api.dag_seeds import add_import_error
from tests.api.test_dag_runs_rows import T0, add_dag, add_run, add_ti, add_xcom

pytestmark = pytest.mark.anyio

#: In this order under a bytewise collation (SQLite, PostgreSQL "C") and a linguistic one.
NAMES = ["ETL_a", "etl_daily", "etlxdaily", "rep", "report_1"]

#: `*_pattern` values and the names they match.
PATTERNS: list[tuple[str, set[str]]] = [
    ("etl_daily", {"etl_daily", "etlxdaily"}),  # `_` is a wildcard: nothing is escaped
    ("etl\\_daily", {"etl_daily"}),  # unless the client escapes it
    ("ETL%DAILY", {"etl_daily", "etlxdaily"}),  # `%`, and the case does not matter
    ("etl", {"ETL_a", "etl_daily", "etlxdaily"}),
    ("daily|REP", {"etl_daily", "etlxdaily", "rep", "report_1"}),  # `|` for OR
    (" daily | rep ", {"etl_daily", "etlxdaily", "rep", "report_1"}),
    ("~", set(NAMES)),
    ("zzz", set()),
]
#: `*_prefix_pattern` values and the names they match.
PREFIXES: list[tuple[str, set[str]]] = [
    ("etl", {"etl_daily", "etlxdaily"}),  # case-sensitive
    ("etl_", {"etl_daily", "etlxdaily"}),  # trailing punctuation dropped
    ("etl_d", {"etl_daily"}),  # `_` is literal
    ("ETL|rep", {"ETL_a", "rep", "report_1"}),
    ("~", set(NAMES)),
]
#: A prefix filter that keeps exactly the seeded rows (a pool named default_pool exists).
SEEDED = "ETL|etl|rep"


@dataclass(frozen=True)
class ListRoute:
    path: str
    items: str
    name: Callable[[Any], str]
    #: The `<name>` of each `<name>_pattern` / `<name>_prefix_pattern` pair it declares.
    patterns: tuple[str, ...]
    #: An `order_by` attribute whose values are `NAMES`; None: the route takes no order_by.
    order_field: str | None
    method: str = "GET"
    #: Rows of the resource not seeded here; only `~` matches them.
    extras: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def template(self) -> str:
        """The path as the OpenAPI document spells it."""
        names = iter(["{dag_id}", "{dag_run_id}", "{task_id}"])
        return "/".join(next(names) if part == "~" else part for part in self.path.split("/"))


ROUTES = [
    ListRoute("/dags", "dags", itemgetter("dag_id"), ("dag_id", "dag_display_name"), "dag_id"),
    ListRoute("/dags", "dags", itemgetter("dag_id"), ("dag_id",), None, method="PATCH"),
    ListRoute(
        "/dags/~/dagRuns",
        "dag_runs",
        itemgetter("dag_run_id"),
        ("dag_id", "run_id", "triggering_user_name"),
        "run_id",
    ),
    ListRoute(
        "/dags/~/dagRuns/~/taskInstances",
        "task_instances",
        itemgetter("task_id"),
        (
            "dag_id",
            "run_id",
            "task_display_name",
            "pool_name",
            "queue_name",
            "operator_name",
            "rendered_map_index",
        ),
        "operator",
    ),
    ListRoute(
        "/dags/~/dagRuns/~/taskInstances/~/xcomEntries",
        "xcom_entries",
        itemgetter("key"),
        ("xcom_key", "dag_display_name", "run_id", "task_id"),
        "key",
    ),
    ListRoute(
        "/pools",
        "pools",
        itemgetter("name"),
        ("pool_name",),
        "name",
        extras=frozenset({"default_pool"}),
    ),
    ListRoute("/variables", "variables", itemgetter("key"), ("variable_key",), "key"),
    ListRoute(
        "/connections",
        "connections",
        itemgetter("connection_id"),
        ("connection_id",),
        "connection_id",
    ),
    ListRoute("/importErrors", "import_errors", itemgetter("filename"), ("filename",), "filename"),
    ListRoute("/dagTags", "tags", str, ("tag_name",), "name"),
]


async def seed(db: Database) -> None:
    """Five of each resource, every filtered column of a row holding the same name."""
    for name in NAMES:
        await add_dag(db, name, dag_display_name=name)
        pk = await add_run(db, name, name, triggering_user_name=name)
        await add_ti(
            db, name, name, name, pool=name, queue=name, operator=name, rendered_map_index=name
        )
        await add_xcom(db, pk, name, name, name, name, {"n": 1})
        await add_import_error(db, name, "Traceback ...", now=T0)

    async def body(tx: Transaction) -> None:
        await tx.execute(insert(dag_tag), [{"name": n, "dag_id": n} for n in NAMES])
        await tx.execute(insert(slot_pool), [{"pool": n, "slots": 1} for n in NAMES])
        await tx.execute(
            insert(variable), [{"key": n, "val": "v", "is_encrypted": False} for n in NAMES]
        )
        await tx.execute(insert(connection), [{"conn_id": n, "conn_type": "http"} for n in NAMES])

    await db.run(body)


@pytest.fixture
async def seeded(api_server: ApiServer) -> ApiServer:
    await seed(api_server.db)
    return api_server


async def call(
    client: httpx.AsyncClient, route: ListRoute, params: dict[str, Any]
) -> httpx.Response:
    if route.method == "PATCH":
        return await client.patch(f"/api/v2{route.path}", params=params, json={"is_paused": True})
    return await client.get(f"/api/v2{route.path}", params=params)


async def names(
    client: httpx.AsyncClient, route: ListRoute, params: dict[str, Any]
) -> tuple[list[str], int]:
    response = await call(client, route, {"limit": 100, **params})
    assert response.status_code == 200, (route, params, response.text)
    body = response.json()
    return [route.name(item) for item in body[route.items]], body["total_entries"]


@ONE_BACKEND_PER_DATABASE
@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_patterns_mean_the_same_on_every_route(
    seeded: ApiServer, client: httpx.AsyncClient, route: ListRoute
) -> None:
    wrong = []
    for name in route.patterns:
        for kind, cases in (("pattern", PATTERNS), ("prefix_pattern", PREFIXES)):
            for value, matching in cases:
                expected = matching | (route.extras if value == "~" else set())
                got, total = await names(client, route, {f"{name}_{kind}": value})
                if set(got) != expected or total != len(expected) or len(got) != total:
                    wrong.append(f"{name}_{kind}={value!r}: {sorted(got)} ({total})")
        # Both filters at once: both must match.
        got, _ = await names(
            client, route, {f"{name}_pattern": "daily", f"{name}_prefix_pattern": "etl"}
        )
        if set(got) != {"etl_daily", "etlxdaily"}:
            wrong.append(f"{name}_pattern and {name}_prefix_pattern: {sorted(got)}")
    assert not wrong, "\n".join(wrong)


@ONE_BACKEND_PER_DATABASE
@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_every_route_orders_and_pages_alike(
    seeded: ApiServer, client: httpx.AsyncClient, route: ListRoute
) -> None:
    only_seeded = {f"{route.patterns[0]}_prefix_pattern": SEEDED}
    order: dict[str, Any] = {} if route.order_field is None else {"order_by": route.order_field}
    got, total = await names(client, route, {**only_seeded, **order})
    assert (got, total) == (NAMES, 5)

    page = await call(client, route, {**only_seeded, **order, "limit": 2, "offset": 1})
    body = page.json()
    assert [route.name(i) for i in body[route.items]] == NAMES[1:3]
    assert body["total_entries"] == 5
    for params in ({"limit": 0}, {"offset": 5}):
        body = (await call(client, route, {**only_seeded, **order, **params})).json()
        assert (body[route.items], body["total_entries"]) == ([], 5), params
    for bad in ({"limit": -1}, {"offset": -1}):
        assert (await call(client, route, bad)).status_code == 422, bad

    if route.order_field is None:
        return
    descending = {"order_by": f"-{route.order_field}"}
    assert (await names(client, route, {**only_seeded, **descending}))[0] == NAMES[::-1]
    unknown = await call(client, route, {"order_by": ["-nope"]})
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith(
        "Ordering with 'nope' is disallowed or the attribute does not exist on the model; "
        "supported: "
    )


@ONE_BACKEND_PER_DATABASE
@pytest.mark.parametrize("route", [r for r in ROUTES if r.order_field], ids=str)
async def test_every_documented_order_field_sorts(
    seeded: ApiServer, client: httpx.AsyncClient, route: ListRoute
) -> None:
    """Each attribute the route's OpenAPI description lists is accepted, both ways."""
    document = (await client.get("/api/v2/openapi.json")).json()
    parameters = document["paths"][f"/api/v2{route.template}"][route.method.lower()]["parameters"]
    (order_by,) = [p for p in parameters if p["name"] == "order_by"]
    fields = order_by["description"].rsplit("`", 2)[-2].split(", ")
    assert route.order_field in fields
    for field in fields:
        for term in (field, f"-{field}"):
            got, total = await names(client, route, {"order_by": term})
            assert total == len(NAMES) + len(route.extras), term
            assert sorted(got) == sorted([*NAMES, *route.extras]), term


BATCHES = [
    ("/dags/~/dagRuns/list", "dag_runs", "dag_run_id", "run_id"),
    ("/dags/~/dagRuns/~/taskInstances/list", "task_instances", "task_id", "operator"),
]


@ONE_BACKEND_PER_DATABASE
@pytest.mark.parametrize(("path", "items", "name", "field"), BATCHES)
async def test_batch_lists_order_and_page_alike(
    seeded: ApiServer, client: httpx.AsyncClient, path: str, items: str, name: str, field: str
) -> None:
    async def listed(body: dict[str, Any]) -> tuple[list[str], int]:
        response = await client.post(f"/api/v2{path}", json=body)
        assert response.status_code == 200, response.text
        found = response.json()
        return [item[name] for item in found[items]], found["total_entries"]

    assert await listed({"order_by": field}) == (NAMES, 5)
    assert await listed({"order_by": f"-{field}"}) == (NAMES[::-1], 5)
    assert await listed({"order_by": field, "page_limit": 2, "page_offset": 1}) == (NAMES[1:3], 5)
    assert await listed({"order_by": field, "page_limit": 0}) == ([], 5)
    unknown = await client.post(f"/api/v2{path}", json={"order_by": "nope"})
    assert unknown.status_code == 400
    assert "Ordering with 'nope'" in unknown.json()["detail"]


@ONE_BACKEND_PER_DATABASE
async def test_a_page_holds_at_most_100_rows(
    api_server: ApiServer, client: httpx.AsyncClient
) -> None:
    async def body(tx: Transaction) -> None:
        rows = [{"key": f"v{i:03}", "val": "", "is_encrypted": False} for i in range(120)]
        await tx.execute(insert(variable), rows)

    await api_server.db.run(body)
    default = (await client.get("/api/v2/variables")).json()
    assert (len(default["variables"]), default["total_entries"]) == (50, 120)
    asked = (await client.get("/api/v2/variables", params={"limit": 1000})).json()
    assert (len(asked["variables"]), asked["total_entries"]) == (100, 120)
    rest = (await client.get("/api/v2/variables", params={"limit": 100, "offset": 100})).json()
    assert [v["key"] for v in rest["variables"]] == [f"v{i:03}" for i in range(100, 120)]


#: Statements a list request makes beyond its count and its page: what the rows on the
#: page carry from another table (one statement per page, never one per row).
PER_PAGE = {"/dags": 1, "/pools": 1}  # the DAGs' tags; the pools' slot usage


@pytest.mark.parametrize(("anyio_backend", "database_kind"), [("trio", "sqlite")], indirect=True)
async def test_a_list_request_costs_a_count_and_a_page(
    seeded: ApiServer, client: httpx.AsyncClient
) -> None:
    selects: list[str] = []
    # The statements the SQLite adapter's engine runs (the count is the same on PostgreSQL).
    engine = seeded.db._engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", lambda *a: selects.append(a[2]))
    await client.get("/api/v2/version")  # the caller's credentials are looked up once
    await client.get("/api/v2/pools/default_pool")
    wrong = []
    for route in ROUTES:
        if route.method != "GET":
            continue
        selects.clear()
        params = {f"{route.patterns[0]}_pattern": "etl|rep", "limit": 3, "offset": 1}
        if route.order_field:
            params["order_by"] = f"-{route.order_field}"
        assert (await call(client, route, params)).status_code == 200
        count = sum(statement.startswith("SELECT") for statement in selects)
        if count != 2 + PER_PAGE.get(route.path, 0):
            wrong.append(f"{route}: {count} SELECTs")
    assert not wrong, wrong
