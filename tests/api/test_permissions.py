"""Every operation in the generated OpenAPI document enforces its declared permission."""

from __future__ import annotations

import re

import httpx
import pytest

from airflow_sc.api.app import API_PREFIX
from airflow_sc.api.routes import ROUTERS
from airflow_sc.api.security import declared_permissions
from airflow_sc.auth import ROLE_PERMISSIONS, Permission, Role
from tests.api.conftest import ApiServer

pytestmark = pytest.mark.anyio

PUBLIC = {("GET", "/api/v2/monitor/health"), ("GET", "/api/v2/version")}
#: From the least to the most privileged.
ROLES = [Role.VIEWER, Role.USER, Role.OP, Role.ADMIN]


def concrete(path: str, parameters: list[dict]) -> str:
    """The path with each parameter filled in with a value of its type."""
    types = {p["name"]: p.get("schema", {}).get("type") for p in parameters if p["in"] == "path"}
    return re.sub(
        r"\{(\w+)\}", lambda m: "1" if types.get(m.group(1)) == "integer" else "unknown", path
    )


@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
async def test_every_operation_checks_its_permission(api_server: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        document = (await http.get("/api/v2/openapi.json")).json()
        declared = {
            (method, path.replace(":path", "")): needed
            for (method, path), needed in declared_permissions(ROUTERS, API_PREFIX).items()
        }
        checked = 0
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                key = (method.upper(), path)
                url = concrete(path, operation.get("parameters", []))
                needed = declared[key]
                if key in PUBLIC:
                    assert not needed
                    continue
                assert len(needed) == 1, f"{key} declares {needed}: exactly one is required"
                (permission,) = needed
                assert {"OAuth2PasswordBearer": []} in operation.get("security", []), key

                async def send(
                    role: Role | None, method: str = method, url: str = url
                ) -> httpx.Response:
                    headers = api_server.headers(role) if role else {}
                    kwargs = {} if method == "get" else {"json": {}}
                    return await http.request(method.upper(), url, headers=headers, **kwargs)

                assert (await send(None)).status_code == 401, key
                lacking = [r for r in ROLES if permission not in ROLE_PERMISSIONS[r]]
                if lacking:
                    denied = await send(lacking[-1])
                    assert denied.status_code == 403, (key, lacking[-1], denied.text)
                allowed = await send(next(r for r in ROLES if permission in ROLE_PERMISSIONS[r]))
                assert allowed.status_code not in (401, 403), (key, allowed.text)
                assert allowed.status_code < 500, (key, allowed.text)
                checked += 1
        assert checked >= 30


def test_roles_have_airflow_meanings() -> None:
    viewer, user, op, admin = (ROLE_PERMISSIONS[r] for r in ROLES)
    assert viewer < user < op < admin
    assert {Permission.DAG_READ, Permission.POOL_READ} <= viewer
    assert Permission.DAG_EDIT in user - viewer
    assert Permission.VARIABLE_READ not in user
    assert Permission.CONNECTION_EDIT in op
    assert Permission.USER_ADMIN in admin - op
