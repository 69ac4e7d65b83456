"""`POST /auth/token` and bearer-token checks on a real server."""

from __future__ import annotations

import httpx
import pytest

from airflow_sc.auth import Role, create_user, decode_token
from tests.api.conftest import ApiServer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def alice(api_server: ApiServer) -> str:
    await create_user(api_server.db, "alice", "correct horse", Role.VIEWER)
    return "alice"


async def test_login_with_json_and_form_then_use_the_token(
    api_server: ApiServer, alice: str
) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        as_json = await http.post(
            "/auth/token", json={"username": alice, "password": "correct horse"}
        )
        assert as_json.status_code == 201
        token = as_json.json()["access_token"]
        claims = decode_token(
            token, key=api_server.ctx.require_signing_key(), now=api_server.clock()
        )
        assert (claims.username, claims.role) == ("alice", Role.VIEWER)
        as_form = await http.post(
            "/auth/token", data={"username": alice, "password": "correct horse"}
        )
        assert as_form.status_code == 201
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/v2/dags", headers=headers)).status_code == 200
        # A viewer may read DAGs but not variables.
        assert (await http.get("/api/v2/variables", headers=headers)).status_code == 403


async def test_bad_logins(api_server: ApiServer, alice: str) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        wrong = await http.post("/auth/token", json={"username": alice, "password": "nope"})
        assert wrong.status_code == 401
        assert wrong.json() == {"detail": "Invalid username or password"}
        unknown = await http.post("/auth/token", json={"username": "bob", "password": "x"})
        assert unknown.status_code == 401
        missing = await http.post("/auth/token", json={"username": alice})
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"][-1] == "password"
        xml = await http.post(
            "/auth/token", content=b"<x/>", headers={"Content-Type": "application/xml"}
        )
        assert xml.status_code == 415


async def test_missing_bad_and_expired_tokens_are_401(api_server: ApiServer) -> None:
    token = api_server.token(Role.ADMIN)
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        none = await http.get("/api/v2/dags")
        assert none.status_code == 401
        assert none.headers["www-authenticate"] == "Bearer"
        garbage = await http.get("/api/v2/dags", headers={"Authorization": "Bearer abc.def.ghi"})
        assert garbage.status_code == 401
        fine = await http.get("/api/v2/dags", headers={"Authorization": f"Bearer {token}"})
        assert fine.status_code == 200
        api_server.clock.advance(api_server.ctx.settings.api.access_token_expiry + 1)
        expired = await http.get("/api/v2/dags", headers={"Authorization": f"Bearer {token}"})
        assert expired.status_code == 401
        assert expired.json() == {"detail": "Invalid or expired token"}


async def test_public_routes_need_no_token(api_server: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        assert (await http.get("/api/v2/monitor/health")).status_code == 200
        assert (await http.get("/api/v2/version")).status_code == 200
        assert (await http.get("/api/v2/openapi.json")).status_code == 200
        docs = await http.get("/api/v2/docs")
        assert docs.status_code == 200
        assert "/api/v2/openapi.json" in docs.text
