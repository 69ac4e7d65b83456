"""Our generated OpenAPI document against Airflow 3.3's, for the operations we implement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.conftest import ApiServer

pytestmark = pytest.mark.anyio

#: Airflow's own document, kept in the shared folder beside the repository.
REFERENCE = Path(__file__).parents[3] / "shared" / "reference" / "airflow-3.3.2-rest-api-v2.yaml"

OPERATIONS = [
    ("get", "/api/v2/dags"),
    ("patch", "/api/v2/dags"),
    ("get", "/api/v2/dags/{dag_id}"),
    ("patch", "/api/v2/dags/{dag_id}"),
    ("delete", "/api/v2/dags/{dag_id}"),
    ("get", "/api/v2/dags/{dag_id}/details"),
    ("get", "/api/v2/dags/{dag_id}/tasks"),
    ("get", "/api/v2/dags/{dag_id}/tasks/{task_id}"),
    ("get", "/api/v2/dagSources/{dag_id}"),
    ("get", "/api/v2/dagTags"),
    ("get", "/api/v2/dagStats"),
    ("get", "/api/v2/importErrors"),
    ("get", "/api/v2/importErrors/{import_error_id}"),
    ("get", "/api/v2/monitor/health"),
    ("get", "/api/v2/version"),
    ("get", "/api/v2/dags/{dag_id}/dagRuns"),
    ("post", "/api/v2/dags/{dag_id}/dagRuns"),
    ("post", "/api/v2/dags/{dag_id}/dagRuns/list"),
    ("get", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}"),
    ("patch", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}"),
    ("delete", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}"),
    ("post", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/clear"),
    ("get", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances"),
    ("post", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/list"),
    ("get", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}"),
    ("patch", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}"),
    ("patch", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/dry_run"),
    ("patch", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}"),
    (
        "patch",
        "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/dry_run",
    ),
    ("get", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries"),
    ("get", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"),
    ("post", "/api/v2/dags/{dag_id}/clearTaskInstances"),
] + [
    (method, path.format(resource=resource, key=key))
    for resource, key in (
        ("variables", "{variable_key}"),
        ("connections", "{connection_id}"),
        ("pools", "{pool_name}"),
    )
    for method, path in (
        ("get", "/api/v2/{resource}"),
        ("post", "/api/v2/{resource}"),
        ("patch", "/api/v2/{resource}"),
        ("get", "/api/v2/{resource}/{key}"),
        ("patch", "/api/v2/{resource}/{key}"),
        ("delete", "/api/v2/{resource}/{key}"),
    )
]

#: Reference parameters we deliberately do not offer (no timetable classes, assets,
#: partitions, cursor paging, version or task group filters yet).
NOT_OFFERED = {
    ("get", "/api/v2/dags"): {"timetable_type", "asset_dependency"},
    ("get", "/api/v2/dags/{dag_id}/dagRuns"): {
        "consuming_asset_pattern",
        "cursor",
        "dag_version",
        "partition_date_gte",
        "partition_date_lte",
        "partition_key_pattern",
        "partition_key_prefix_pattern",
    },
    ("get", "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances"): {
        "cursor",
        "task_group_id",
        "version_number",
    },
}


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not REFERENCE.exists():
        pytest.skip(f"Airflow's reference OpenAPI document is not at {REFERENCE}")
    document: dict[str, Any] = yaml.safe_load(REFERENCE.read_text())
    return document


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def success_fields(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, set[str]]:
    """Status -> the property names of the JSON body it documents (and of listed items)."""
    out: dict[str, set[str]] = {}
    for status, response in operation["responses"].items():
        if not status.startswith("2"):
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            out[status] = set()
            continue
        body = resolve(document, schema)
        names = set(body.get("properties", {}))
        for name, prop in body.get("properties", {}).items():
            items = prop.get("items")
            if prop.get("type") == "array" and items and "$ref" in items:
                nested = resolve(document, items).get("properties", {})
                names |= {f"{name}[].{n}" for n in nested}
        out[status] = names
    return out


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_operations_match_airflow(api_server: ApiServer, reference: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        ours = (await http.get("/api/v2/openapi.json")).json()
    problems: list[str] = []
    for method, path in OPERATIONS:
        theirs = reference["paths"][path][method]
        mine = ours["paths"].get(path, {}).get(method)
        if mine is None:
            problems.append(f"{method} {path}: missing")
            continue
        wanted = {(p["name"], p["in"]) for p in theirs.get("parameters", [])}
        offered = {(p["name"], p["in"]) for p in mine.get("parameters", [])}
        skipped = NOT_OFFERED.get((method, path), set())
        lacking = {p for p in wanted - offered if p[0] not in skipped}
        if lacking:
            problems.append(f"{method} {path}: parameters {sorted(lacking)} missing")
        required = {p["name"] for p in theirs.get("parameters", []) if p.get("required")}
        mine_required = {p["name"] for p in mine.get("parameters", []) if p.get("required")}
        if required != mine_required:
            problems.append(f"{method} {path}: required {mine_required}, Airflow {required}")
        if success_fields(reference, theirs) != success_fields(ours, mine):
            problems.append(
                f"{method} {path}: response {success_fields(ours, mine)} "
                f"vs Airflow {success_fields(reference, theirs)}"
            )
        errors = {s for s in theirs["responses"] if not s.startswith("2")}
        if errors - set(mine["responses"]):
            problems.append(
                f"{method} {path}: undocumented {sorted(errors - set(mine['responses']))}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_bodies_match_airflow(api_server: ApiServer, reference: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        ours = (await http.get("/api/v2/openapi.json")).json()
    for name in (
        "DAGPatchBody",
        "PoolBody",
        "PoolPatchBody",
        "VariableBody",
        "ConnectionBody",
        "TriggerDAGRunPostBody",
        "DAGRunPatchBody",
        "DAGRunClearBody",
        "DAGRunsBatchBody",
        "PatchTaskInstanceBody",
        "TaskInstancesBatchBody",
        "ClearTaskInstancesBody",
    ):
        theirs = reference["components"]["schemas"][name]
        mine = ours["components"]["schemas"][name]
        assert set(mine["properties"]) == set(theirs["properties"]), name
        assert set(mine.get("required", [])) == set(theirs.get("required", [])), name
        assert mine.get("additionalProperties") is False, name


def _supported(parameter: dict[str, Any]) -> list[str]:
    """The attributes an `order_by` parameter's description lists."""
    return [name.strip() for name in parameter["description"].rsplit("`", 2)[-2].split(",")]


def _default(parameter: dict[str, Any]) -> Any:
    return parameter.get("schema", {}).get("default")


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_listing_parameters_match_airflow(
    api_server: ApiServer, reference: dict[str, Any]
) -> None:
    """Paging defaults, the order_by default and the attributes it sorts by, per route."""
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        ours = (await http.get("/api/v2/openapi.json")).json()
    problems: list[str] = []
    checked = 0
    for method, path in OPERATIONS:
        theirs = {p["name"]: p for p in reference["paths"][path][method].get("parameters", [])}
        mine = {p["name"]: p for p in ours["paths"][path][method].get("parameters", [])}
        for name in ("limit", "offset", "order_by"):
            if name not in theirs:
                continue
            checked += 1
            if _default(mine[name]) != _default(theirs[name]):
                problems.append(
                    f"{method} {path} {name}: default {_default(mine[name])!r}, "
                    f"Airflow {_default(theirs[name])!r}"
                )
        documented = "description" in theirs.get("order_by", {})
        if documented and _supported(mine["order_by"]) != _supported(theirs["order_by"]):
            problems.append(
                f"{method} {path} order_by: {_supported(mine['order_by'])}, "
                f"Airflow {_supported(theirs['order_by'])}"
            )
    assert checked >= 30  # limit, offset and order_by of every list route
    assert not problems, "\n".join(problems)
