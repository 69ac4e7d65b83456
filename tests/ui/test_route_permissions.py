"""Every UI route but the sign-in page and the redirect to the DAG list declares the
permission it needs, as every API route does."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from airflow_sc.auth import Permission
from airflow_sc.ui.access import PageRequires
from airflow_sc.ui.app import ROUTERS

PUBLIC = {("GET", "/"), ("GET", "/login"), ("POST", "/login")}
ADMIN_EDIT = {
    "variables": Permission.VARIABLE_EDIT,
    "connections": Permission.CONNECTION_EDIT,
    "pools": Permission.POOL_EDIT,
}


def _walk(dependant: Any) -> list[Any]:
    found = []
    for sub in dependant.dependencies:
        found.append(sub.call)
        found.extend(_walk(sub))
    return found


def test_every_ui_route_declares_its_permission() -> None:
    declared: dict[tuple[str, str], set[Permission]] = {}
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            needed = {c.permission for c in _walk(route.dependant) if isinstance(c, PageRequires)}
            for method in route.methods:
                declared[(method, route.path)] = needed
    public = {key for key, needed in declared.items() if not needed}
    assert public == PUBLIC
    writes = {key: needed for key, needed in declared.items() if key[0] == "POST"}
    assert writes.pop(("POST", "/logout")) == {Permission.DAG_READ}
    assert writes.pop(("POST", "/login")) == set()
    # The admin pages' writes (and their forms) need the API's edit permission of their kind.
    for kind, edit in ADMIN_EDIT.items():
        for action in ("new", "edit", "delete"):
            assert writes.pop(("POST", f"/{kind}/{action}")) == {edit}
        for action in ("new", "edit"):
            assert declared[("GET", f"/{kind}/{action}")] == {edit}
    assert set(map(frozenset, writes.values())) == {frozenset({Permission.DAG_EDIT})}
