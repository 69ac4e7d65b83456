"""`POST /auth/token` and bearer-token checks on a real server."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from airflow_sc.auth import (
    DEFAULT_RECHECK,
    Role,
    create_user,
    decode_token,
    delete_user,
    issue_token,
    reset_password,
)
from airflow_sc.db import Database, Transaction
from airflow_sc.db.models import user
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


async def _login(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await http.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _set_role(db: Database, username: str, role: Role) -> None:
    async def body(tx: Transaction) -> None:
        await tx.execute(update(user).where(user.c.username == username).values(role=role.value))

    await db.run(body)


async def test_a_deleted_users_token_is_401_within_the_recheck_interval(
    api_server: ApiServer, alice: str
) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        headers = await _login(http, alice, "correct horse")
        assert (await http.get("/api/v2/dags", headers=headers)).status_code == 200
        await delete_user(api_server.db, alice)
        # Rechecks are cached per user for DEFAULT_RECHECK, then the users table decides.
        api_server.clock.advance(DEFAULT_RECHECK.total_seconds())
        gone = await http.get("/api/v2/dags", headers=headers)
        assert gone.status_code == 401
        assert gone.headers["www-authenticate"] == "Bearer"
        assert gone.json() == {"detail": "The token's user was deleted or changed"}
        # The same name created again is another user: the old token stays refused.
        await create_user(api_server.db, alice, "correct horse", Role.VIEWER)
        api_server.clock.advance(DEFAULT_RECHECK.total_seconds())
        assert (await http.get("/api/v2/dags", headers=headers)).status_code == 401


async def test_a_changed_role_or_password_retires_old_tokens(
    api_server: ApiServer, alice: str
) -> None:
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        as_viewer = await _login(http, alice, "correct horse")
        await _set_role(api_server.db, alice, Role.ADMIN)
        api_server.clock.advance(DEFAULT_RECHECK.total_seconds())
        # The old token does not gain (or keep) power: it names the old role.
        assert (await http.get("/api/v2/variables", headers=as_viewer)).status_code == 401
        as_admin = await _login(http, alice, "correct horse")
        assert (await http.get("/api/v2/variables", headers=as_admin)).status_code == 200
        await reset_password(api_server.db, alice, "battery staple")
        api_server.clock.advance(DEFAULT_RECHECK.total_seconds())
        assert (await http.get("/api/v2/variables", headers=as_admin)).status_code == 401
        fresh = await _login(http, alice, "battery staple")
        assert (await http.get("/api/v2/variables", headers=fresh)).status_code == 200


async def test_a_token_without_a_credential_stamp_is_401(api_server: ApiServer) -> None:
    bare = issue_token(
        key=api_server.ctx.require_signing_key(),
        username="admin",
        role=Role.ADMIN,
        now=api_server.clock(),
        lifetime=api_server.ctx.token_lifetime,
    )
    async with httpx.AsyncClient(base_url=api_server.url) as http:
        response = await http.get("/api/v2/dags", headers={"Authorization": f"Bearer {bare}"})
    assert response.status_code == 401
