"""The admin pages over HTTP: variables, connections and pools listed, created, edited and
deleted through the API's own route functions; roles enforced on every route, the CSRF
token required on every write, secrets masked as the API masks them, and user strings
escaped."""

from __future__ import annotations

import re

import httpx
import pytest

from airflow_sc.auth import Role
from airflow_sc.db.queries import secrets as secret_queries
from tests.api.conftest import ONE_BACKEND_PER_DATABASE
from tests.ui.conftest import UiServer
from tests.ui.test_pages import signed_in

pytestmark = [pytest.mark.anyio, ONE_BACKEND_PER_DATABASE]

PAYLOAD = "<script>window.__xss=1</script>"
ESCAPED = "&lt;script&gt;window.__xss=1&lt;/script&gt;"


def keys(html: str) -> list[str]:
    return re.findall(r'<tr class="admin-row" data-key="([^"]*)"', html)


def field(html: str, name: str) -> str:
    return html.split(f'data-field="{name}"', 1)[1].split("</div>", 1)[0]


async def stored_variable(server: UiServer, key: str) -> str | None:
    row = await secret_queries.get_variable(server.db, key)
    assert row is not None
    assert row.val is not None
    return server.ctx.require_cipher().decrypt(row.val, what="test")


async def test_roles_and_csrf_guard_every_admin_route(ui_server: UiServer) -> None:
    async with signed_in(ui_server, Role.VIEWER) as http:
        assert (await http.get("/variables")).status_code == 403
        assert (await http.get("/connections")).status_code == 403
        pools = await http.get("/pools")
        assert pools.status_code == 200
        assert keys(pools.text) == ["default_pool"]
        assert "Add pool" not in pools.text
        assert "Delete" not in pools.text
        csrf = ui_server.csrf(Role.VIEWER)
        for path, data in [
            ("/pools/new", {"name": "p", "slots": "1"}),
            ("/pools/delete", {"key": "default_pool"}),
            ("/variables/new", {"key": "k", "value": "v"}),
            ("/connections/new", {"connection_id": "c", "conn_type": "http"}),
        ]:
            answer = await http.post(path, data=data | {"csrf_token": csrf})
            assert answer.status_code == 403, path
    async with signed_in(ui_server, Role.USER) as http:
        assert (await http.get("/variables")).status_code == 403
        assert (await http.get("/pools/new")).status_code == 403
    async with signed_in(ui_server, Role.OP) as http:
        no_token = await http.post("/variables/new", data={"key": "k", "value": "v"})
        assert no_token.status_code == 403
        assert "CSRF" in no_token.text
        wrong = await http.post(
            "/pools/new",
            data={"name": "p", "slots": "1", "csrf_token": ui_server.csrf(Role.ADMIN)},
        )
        assert wrong.status_code == 403
        assert keys((await http.get("/variables")).text) == []
        assert keys((await http.get("/pools")).text) == ["default_pool"]
    async with httpx.AsyncClient(base_url=ui_server.url) as anonymous:
        assert (await anonymous.get("/variables")).status_code == 303


async def test_variables_create_edit_delete_masked_and_escaped(ui_server: UiServer) -> None:
    async with signed_in(ui_server, Role.OP) as http:
        csrf = ui_server.csrf(Role.OP)
        made = await http.post(
            "/variables/new",
            data={"csrf_token": csrf, "key": "note", "value": PAYLOAD, "description": PAYLOAD},
        )
        assert made.status_code == 303
        assert made.headers["location"] == "/variables"
        secret = await http.post(
            "/variables/new",
            data={"csrf_token": csrf, "key": "db_password", "value": "hunter2-secret"},
        )
        assert secret.status_code == 303
        again = await http.post(
            "/variables/new", data={"csrf_token": csrf, "key": "note", "value": "x"}
        )
        assert again.status_code == 409
        assert "already exists" in field(again.text, "key")
        listing = (await http.get("/variables")).text
        assert keys(listing) == ["db_password", "note"]
        assert ESCAPED in listing
        assert "<script>window" not in listing
        assert "hunter2-secret" not in listing
        row = listing.split('data-key="db_password"', 1)[1].split("</tr>", 1)[0]
        assert "<td>***</td>" in row
        assert keys((await http.get("/variables", params={"search": "PASS"})).text) == [
            "db_password"
        ]
        # The sensitive value never reaches the form; left empty, it is kept.
        form = await http.get("/variables/edit", params={"key": "db_password"})
        assert "hunter2-secret" not in form.text
        assert "***" not in field(form.text, "value")
        kept = await http.post(
            "/variables/edit?key=db_password",
            data={"csrf_token": csrf, "value": "", "description": "the db"},
        )
        assert kept.status_code == 303
        assert await stored_variable(ui_server, "db_password") == "hunter2-secret"
        changed = await http.post(
            "/variables/edit?key=note", data={"csrf_token": csrf, "value": "plain now"}
        )
        assert changed.status_code == 303
        assert await stored_variable(ui_server, "note") == "plain now"
        gone = await http.post("/variables/delete", data={"csrf_token": csrf, "key": "note"})
        assert gone.status_code == 303
        assert keys((await http.get("/variables")).text) == ["db_password"]
        missing = await http.post("/variables/delete", data={"csrf_token": csrf, "key": "note"})
        assert missing.status_code == 404
        assert (await http.get("/variables/edit", params={"key": "nope"})).status_code == 404


async def test_connections_mask_password_and_extra_as_the_api(ui_server: UiServer) -> None:
    extra = '{"region": "eu", "api_key": "k3y-secret"}'
    async with signed_in(ui_server, Role.ADMIN) as http:
        csrf = ui_server.csrf(Role.ADMIN)
        bad = await http.post(
            "/connections/new",
            data={
                "csrf_token": csrf,
                "connection_id": "bad id!",
                "conn_type": "http",
                "port": "eighty",
                "password": "pw-secret",
            },
        )
        assert bad.status_code == 400
        assert "whole number" in field(bad.text, "port")
        assert "pw-secret" not in bad.text  # a typed password is not sent back
        bad_id = await http.post(
            "/connections/new",
            data={"csrf_token": csrf, "connection_id": "bad id!", "conn_type": "http"},
        )
        assert "field-error" in field(bad_id.text, "connection_id")
        made = await http.post(
            "/connections/new",
            data={
                "csrf_token": csrf,
                "connection_id": "my_api",
                "conn_type": "http",
                "host": PAYLOAD,
                "password": "pw-secret",
                "extra": extra,
            },
        )
        assert made.status_code == 303, made.text
        page = (await http.get("/connections")).text
        assert keys(page) == ["my_api"]
        assert ESCAPED in page
        for secret in ("pw-secret", "k3y-secret", "<script>window"):
            assert secret not in page
        api = await http.get(
            "/api/v2/connections/my_api",
            headers={"Authorization": f"Bearer {ui_server.token(Role.ADMIN)}"},
        )
        row = page.split('data-key="my_api"', 1)[1].split("</tr>", 1)[0]
        shown_extra = api.json()["extra"]
        assert "<td>***</td>" in row  # the password
        as_html = shown_extra.replace('"', "&#34;")
        assert f"<td>{as_html}</td>" in row  # the extra, exactly as the API shows it
        form = (await http.get("/connections/edit", params={"key": "my_api"})).text
        assert "pw-secret" not in form
        assert "k3y-secret" not in form
        # Saved as shown (extra with ***, password empty): the secrets are kept.
        shown = re.search(r'<textarea id="field-extra"[^>]*>([^<]*)</textarea>', form)
        assert shown is not None
        saved = await http.post(
            "/connections/edit?key=my_api",
            data={
                "csrf_token": csrf,
                "conn_type": "http",
                "host": "example.com",
                "password": "",
                "extra": shown.group(1).replace("&#34;", '"'),
            },
        )
        assert saved.status_code == 303, saved.text
        stored = await secret_queries.get_connection(ui_server.db, "my_api")
        assert stored is not None
        cipher = ui_server.ctx.require_cipher()
        assert stored.host == "example.com"
        assert cipher.decrypt(stored.password or "", what="t") == "pw-secret"
        assert '"k3y-secret"' in cipher.decrypt(stored.extra or "", what="t")
        cleared = await http.post(
            "/connections/edit?key=my_api",
            data={"csrf_token": csrf, "conn_type": "http", "clear_password": "true"},
        )
        assert cleared.status_code == 303, cleared.text
        stored = await secret_queries.get_connection(ui_server.db, "my_api")
        assert stored is not None
        assert stored.password is None
        # The form sent no host and no extra: both are emptied, as the form said.
        assert stored.host is None
        assert stored.extra is None
        form = (await http.get("/connections/edit", params={"key": "my_api"})).text
        assert "Remove the stored password" not in form
        gone = await http.post("/connections/delete", data={"csrf_token": csrf, "key": "my_api"})
        assert gone.status_code == 303
        assert keys((await http.get("/connections")).text) == []


async def test_pools_create_edit_delete(ui_server: UiServer) -> None:
    async with signed_in(ui_server, Role.OP) as http:
        csrf = ui_server.csrf(Role.OP)
        bad = await http.post("/pools/new", data={"csrf_token": csrf, "name": "etl", "slots": "x"})
        assert bad.status_code == 400
        assert "whole number" in field(bad.text, "slots")
        assert 'value="etl"' in field(bad.text, "name")
        made = await http.post(
            "/pools/new",
            data={"csrf_token": csrf, "name": "etl", "slots": "4", "description": PAYLOAD},
        )
        assert made.status_code == 303
        taken = await http.post(
            "/pools/new", data={"csrf_token": csrf, "name": "etl", "slots": "1"}
        )
        assert taken.status_code == 409
        page = (await http.get("/pools")).text
        assert keys(page) == ["default_pool", "etl"]
        assert ESCAPED in page
        edited = await http.post(
            "/pools/edit?key=etl",
            data={"csrf_token": csrf, "slots": "9", "include_deferred": "true"},
        )
        assert edited.status_code == 303
        row = (await http.get("/pools")).text.split('data-key="etl"', 1)[1].split("</tr>")[0]
        assert re.findall(r"<td>([^<]*)</td>", row)[:6] == ["9", "0", "0", "9", "True", ""]
        default = await http.post("/pools/delete", data={"csrf_token": csrf, "key": "default_pool"})
        assert default.status_code == 400
        assert "can&#39;t be deleted" in default.text
        gone = await http.post("/pools/delete", data={"csrf_token": csrf, "key": "etl"})
        assert gone.status_code == 303
        assert keys((await http.get("/pools")).text) == ["default_pool"]
